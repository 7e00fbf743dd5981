"""What the exchange tells its observers, so that streams follow the market without the exchange
knowing about websockets.

The facade calls a listener synchronously, inside the command that caused the change: trades and
order changes as they happen, then `command_finished` once the command's state is complete (the
point at which a book diff or a balance is final and safe to publish). A listener must not mutate
the exchange and must not raise; it is not part of the saved state and is not journaled.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from mexcsim.market.book import Order
from mexcsim.market.matching import Trade
from mexcsim.market.trading_pair import TradingPair


class MarketView(Protocol):
    """The read-only questions a listener may ask at the end of a command."""

    def now_ms(self) -> int: ...

    def open_market(self, symbol: str) -> TradingPair | None: ...

    def balances_of(self, owner: str) -> dict[str, tuple[Decimal, Decimal]]: ...


class ExchangeListener(Protocol):
    def order_changed(self, order: Order) -> None:
        """A user order was placed, filled (as maker or taker) or canceled."""

    def trade_executed(self, trade: Trade) -> None:
        """One execution, in the order the matching engine made them."""

    def command_finished(self, market: MarketView) -> None:
        """The command that caused the changes above is complete."""
