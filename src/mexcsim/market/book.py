"""The resting orders of one market, in price-time priority."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from mexcsim.decimals import ZERO

BUY = "BUY"
SELL = "SELL"

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(slots=True, eq=False)
class Order:
    """An order as the exchange tracks it.

    `locked` is what it still holds of the paying asset (quote for a buy, base for a sell); it is
    released when the order ends.
    """

    order_id: str
    owner: str
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    orig_qty: Decimal | None
    orig_quote_qty: Decimal | None
    client_order_id: str | None
    time: int
    update_time: int
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    locked: Decimal = ZERO
    fills: list[int] = field(default_factory=list)

    @property
    def remaining_qty(self) -> Decimal | None:
        """Unfilled quantity, or None for a MARKET order sized by quote amount."""
        if self.orig_qty is None:
            return None
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class BookSide:
    """Price levels of one side; each level keeps its orders in arrival order."""

    def __init__(self, side: str) -> None:
        self.side = side
        self._levels: dict[Decimal, dict[str, Order]] = {}
        self._prices: list[Decimal] = []  # ascending

    def __len__(self) -> int:
        return len(self._prices)

    def best_price(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.side == BUY else self._prices[0]

    def best_order(self) -> Order | None:
        price = self.best_price()
        if price is None:
            return None
        return next(iter(self._levels[price].values()))

    def prices_in_priority(self) -> list[Decimal]:
        return self._prices[::-1] if self.side == BUY else list(self._prices)

    def orders_in_priority(self) -> Iterator[Order]:
        for price in self.prices_in_priority():
            yield from self._levels[price].values()

    def add(self, order: Order) -> None:
        assert order.price is not None
        level = self._levels.get(order.price)
        if level is None:
            level = self._levels[order.price] = {}
            bisect.insort(self._prices, order.price)
        level[order.order_id] = order

    def remove(self, order: Order) -> None:
        assert order.price is not None
        level = self._levels[order.price]
        del level[order.order_id]
        if not level:
            del self._levels[order.price]
            index = bisect.bisect_left(self._prices, order.price)
            del self._prices[index]

    def depth(self, limit: int) -> list[tuple[Decimal, Decimal]]:
        """Aggregated (price, remaining quantity) per level, best first."""
        rows: list[tuple[Decimal, Decimal]] = []
        for price in self.prices_in_priority()[:limit]:
            total = ZERO
            for order in self._levels[price].values():
                remaining = order.remaining_qty
                total += remaining if remaining is not None else ZERO
            rows.append((price, total))
        return rows

    def best_level_qty(self) -> Decimal:
        rows = self.depth(1)
        return rows[0][1] if rows else ZERO


class OrderBook:
    """Both sides of one market plus a version that grows on every change (lastUpdateId)."""

    def __init__(self) -> None:
        self.bids = BookSide(BUY)
        self.asks = BookSide(SELL)
        self.version = 1

    def side_of(self, side: str) -> BookSide:
        return self.bids if side == BUY else self.asks

    def opposite_of(self, side: str) -> BookSide:
        return self.asks if side == BUY else self.bids

    def add(self, order: Order) -> None:
        self.side_of(order.side).add(order)
        self.version += 1

    def remove(self, order: Order) -> None:
        self.side_of(order.side).remove(order)
        self.version += 1
