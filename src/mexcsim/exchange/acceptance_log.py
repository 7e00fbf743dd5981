"""The acceptance log: when the matching engine accepted each order, per symbol, in microseconds
of the simulator's clock, plus how many orders were refused with 10007.

Why: a listing sniper is judged by "open time -> first order accepted" (goal p50 <= 5 ms), which
only the exchange can measure; the bot's own timestamps would leave out the network and the
exchange's queue. An order counts as accepted once it passed validation and received an orderId,
just before it meets the book (a FILLED, CANCELED or resting order all count).

A benchmark instrument, not exchange state: it lives in memory, starts empty at every start (a
restart does not rebuild it from the journal) and keeps the latest `MAX_PER_SYMBOL` orders of each
symbol.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from mexcsim.market.book import Order

MAX_PER_SYMBOL = 10_000


@dataclass(frozen=True, slots=True)
class Acceptance:
    order_id: str
    client_order_id: str | None
    side: str
    order_type: str
    accepted_at_us: int

    def to_json(self) -> dict[str, object]:
        return {
            "orderId": self.order_id,
            "clientOrderId": self.client_order_id,
            "side": self.side,
            "type": self.order_type,
            "acceptedAtUs": self.accepted_at_us,
        }


class AcceptanceLog:
    def __init__(self) -> None:
        self._accepted: dict[str, deque[Acceptance]] = {}
        self._refused_not_open: dict[str, int] = {}

    def accepted(self, order: Order, at_us: int) -> None:
        entries = self._accepted.get(order.symbol)
        if entries is None:
            entries = self._accepted[order.symbol] = deque(maxlen=MAX_PER_SYMBOL)
        entries.append(
            Acceptance(order.order_id, order.client_order_id, order.side, order.order_type, at_us)
        )

    def refused_not_open(self, symbol: str) -> None:
        """An order on `symbol` got 10007 (not open to the API, or not yet)."""
        self._refused_not_open[symbol] = self._refused_not_open.get(symbol, 0) + 1

    def report(self, symbol: str) -> dict[str, object]:
        """The accepted orders of `symbol`, oldest first, and its 10007 count."""
        entries = self._accepted.get(symbol, ())
        return {
            "symbol": symbol,
            "orders": [entry.to_json() for entry in entries],
            "refused10007": self._refused_not_open.get(symbol, 0),
        }

    def counts(self) -> dict[str, object]:
        """Per symbol: orders accepted (as logged) and refused with 10007."""
        return {
            "accepted": {symbol: len(entries) for symbol, entries in self._accepted.items()},
            "refused10007": dict(self._refused_not_open),
        }
