"""The simulated exchange's complete saveable state, as a value (`SimWorld`).

Why a value of its own: the facade (`mexcsim.exchange`) produces one (`SimExchange.snapshot()`) and
is rebuilt from one (`SimExchange.restore()`), and `mexcsim.state` turns it into a JSON document and
back. Neither side reads the other's private parts, and neither imports the other: both import this
module. A world is a copy: the exchange moving on never changes a world already taken, so it can be
encoded later or elsewhere.

What a world holds: the seed and liquidity setting, the id counters (user orders, provider orders,
trades) and `command_seq` (how many journaled commands it includes, see `mexcsim.state.journal`),
every ledger balance and the fees collected, every user account with the orders and fills it
references (incl. counterparty orders, so "isMaker" still holds), each market's book (resting order
ids in price-time priority and the book version), its random walk (reference price, generator state,
the provider's quotes) and the recent part of its public tape, the listings and the listen keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from mexcsim.accounts.user_orders import SavedUser
from mexcsim.market.book import Order
from mexcsim.market.listings import Listing
from mexcsim.market.matching import Trade
from mexcsim.market.tape import Candle
from mexcsim.market.trading_pair import SavedMarket


@dataclass(frozen=True, slots=True)
class SimWorld:
    seed: int
    provide_liquidity: bool
    saved_at_ms: int
    order_seq: int
    provider_seq: int
    trade_seq: int
    command_seq: int
    balances: Mapping[str, Mapping[str, tuple[Decimal, Decimal]]]
    """owner -> asset -> (free, locked), the liquidity provider included."""
    fees_collected: Mapping[str, Decimal]
    orders: tuple[Order, ...]
    """Every order a user account, a fill or a book references (copies)."""
    trades: tuple[Trade, ...]
    """Every fill a user account references; maker and taker are among `orders`."""
    users: tuple[SavedUser, ...]
    markets: tuple[SavedMarket, ...]
    pending_listings: tuple[Listing, ...]
    opened_listings: tuple[Listing, ...]
    listen_keys_issued: int
    listen_keys: tuple[tuple[str, str, int], ...]
    """(key, owner api key, expiry ms) per key."""


def copied_orders(orders: Iterable[Order]) -> dict[str, Order]:
    """Independent copies by order id (an order's fill list included), first occurrence wins."""
    copies: dict[str, Order] = {}
    for order in orders:
        if order.order_id not in copies:
            copies[order.order_id] = dataclasses.replace(order, fills=list(order.fills))
    return copies


def copied_trades(trades: Iterable[Trade], orders: Mapping[str, Order]) -> tuple[Trade, ...]:
    """Trades whose maker and taker are the copies in `orders` (one per trade id)."""
    seen: dict[int, Trade] = {}
    for trade in trades:
        if trade.trade_id not in seen:
            seen[trade.trade_id] = dataclasses.replace(
                trade, maker=orders[trade.maker.order_id], taker=orders[trade.taker.order_id]
            )
    return tuple(seen.values())


def copied_candles(candles: Iterable[Candle]) -> tuple[Candle, ...]:
    return tuple(dataclasses.replace(c) for c in candles)


@dataclass(frozen=True, slots=True)
class Command:
    """One change the exchange made, as the journal keeps it: replaying the commands after a world
    in order, each at its `time_ms`, rebuilds exactly the state they led to.

    `seq` numbers the commands of one exchange from 1 (a world's `command_seq` is the last one it
    includes); `op` names the facade method, `args` are its JSON-ready arguments.
    """

    seq: int
    time_ms: int
    op: str
    args: Mapping[str, object]
