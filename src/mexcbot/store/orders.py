"""OrderRepository and FillRepository: the order aggregate and its fills in the database.

Mapping is by hand between `mexcbot.domain.orders.Order` and the `orders` row (see tables.py for
why). Orders the repository adds or loads are tracked: `UnitOfWork.commit()` writes every tracked
order that changed, so a service cannot forget to save a transition. Each write checks the row's
version (optimistic concurrency): if another transaction changed the order since it was loaded,
`ConcurrentOrderUpdate` aborts the commit instead of silently overwriting. Load with
`for_update=True` to take the row lock up front (PostgreSQL; SQLite transactions already hold the
database write lock, see database.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.domain.orders import (
    NON_TERMINAL_STATUSES,
    OPEN_STATUSES,
    Fill,
    Order,
    OrderOrigin,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from mexcbot.store import tables
from mexcbot.store.types import canonical_decimal
from mexcbot.store.upsert import insert_if_new

MAX_PAGE_SIZE = 1000

#: `OrderRepository.list` shadows the builtin inside the class body.
_Orders = list[Order]
_Symbols = list[str]


class DuplicateClientOrderId(Exception):
    """An order with this client order id is already stored: the intent was already recorded."""

    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"an order with client_order_id {client_order_id!r} already exists")
        self.client_order_id = client_order_id


class ConcurrentOrderUpdate(Exception):
    """Another transaction changed the order after this one loaded it; retry the use case."""

    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"order {client_order_id!r} was changed concurrently; reload and retry")
        self.client_order_id = client_order_id


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders, newest first; pass `next_cursor` back to get the next page."""

    orders: list[Order]
    next_cursor: str | None


@dataclass(slots=True)
class _Tracked:
    order: Order
    row_id: int
    version: int
    written: dict[str, Any]


def _fees_json(fees: dict[str, Decimal]) -> str:
    if not fees:  # every order until its first fill: json.dumps({}) without its ~4 us
        return "{}"
    return json.dumps({asset: str(canonical_decimal(v)) for asset, v in sorted(fees.items())})


def exchange_columns(order: Order) -> dict[str, Any]:
    """The columns a transition can change (the request columns never change)."""
    return {
        "exchange_order_id": order.exchange_order_id,
        "status": order.status.value,
        "executed_qty": order.executed_qty,
        "cumulative_quote_qty": order.cumulative_quote_qty,
        "fees": _fees_json(order.fees),
        "exchange_created_at": order.exchange_created_at,
        "exchange_updated_at": order.exchange_updated_at,
        "reject_code": order.reject_code,
        "reject_message": order.reject_message,
        "unknown_reason": order.unknown_reason,
    }


def request_columns(order: Order) -> dict[str, Any]:
    request = order.request
    return {
        "client_order_id": request.client_order_id,
        "symbol": request.symbol,
        "side": request.side.value,
        "type": request.type.value,
        "time_in_force": request.time_in_force.value,
        "quantity": request.quantity,
        "quote_amount": request.quote_amount,
        "price": request.price,
        "origin": request.origin.value,
        "origin_ref": request.origin_ref,
        "is_external": order.is_external,
        "created_at": order.created_at,
    }


_DECIMAL_COLUMNS = ("quantity", "quote_amount", "price", "executed_qty", "cumulative_quote_qty")
_TIME_COLUMNS = ("created_at", "exchange_created_at", "exchange_updated_at")


def as_stored(order: Order) -> Order:
    """A new `Order` equal to what reading `order` back from the store returns: decimals in
    their canonical form (30000.00 -> 30000), fees through their stored JSON, times in UTC. For
    views kept in memory that must answer exactly as the database would (engine/orders/
    open_orders.py)."""
    row: dict[str, Any] = {**request_columns(order), **exchange_columns(order)}
    for name in _DECIMAL_COLUMNS:
        if row[name] is not None:
            row[name] = canonical_decimal(row[name])
    for name in _TIME_COLUMNS:
        if row[name] is not None:
            row[name] = row[name].astimezone(UTC)
    return _order_from_row(row)


def _order_from_row(row: RowMapping | Mapping[str, Any]) -> Order:
    request = OrderRequest(
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        type=OrderType(row["type"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        quantity=row["quantity"],
        quote_amount=row["quote_amount"],
        price=row["price"],
        client_order_id=row["client_order_id"],
        origin=OrderOrigin(row["origin"]),
        origin_ref=row["origin_ref"],
    )
    return Order(
        request=request,
        created_at=row["created_at"],
        status=OrderStatus(row["status"]),
        exchange_order_id=row["exchange_order_id"],
        executed_qty=row["executed_qty"],
        cumulative_quote_qty=row["cumulative_quote_qty"],
        fees={asset: Decimal(v) for asset, v in json.loads(row["fees"]).items()},
        exchange_created_at=row["exchange_created_at"],
        exchange_updated_at=row["exchange_updated_at"],
        reject_code=row["reject_code"],
        reject_message=row["reject_message"],
        unknown_reason=row["unknown_reason"],
        is_external=row["is_external"],
    )


def _statuses(statuses: Iterable[OrderStatus]) -> list[str]:
    return sorted(status.value for status in statuses)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}; got {limit}")


class OrderRepository:
    """Orders of one unit of work. Obtain it as `uow.orders`; do not construct it yourself."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}

    async def add(self, order: Order) -> None:
        """Persist a new order. Raises `DuplicateClientOrderId` without aborting the transaction."""
        exchange = exchange_columns(order)
        values = {**request_columns(order), **exchange, "version": 1, "updated_at": self._clock()}
        row_id = await insert_if_new(self._connection, tables.orders, values)
        if row_id is None:
            raise DuplicateClientOrderId(order.client_order_id)
        self._tracked[order.client_order_id] = _Tracked(order, row_id, 1, exchange)

    async def get_by_client_id(
        self, client_order_id: str, *, for_update: bool = False
    ) -> Order | None:
        """The order with this client order id; `for_update` locks the row until commit."""
        query = select(tables.orders).where(tables.orders.c.client_order_id == client_order_id)
        if for_update:
            query = query.with_for_update()
        orders = await self._load(query)
        return orders[0] if orders else None

    async def get_by_exchange_id(
        self, exchange_order_id: str, symbol: str | None = None
    ) -> Order | None:
        """The order the exchange knows as `exchange_order_id` (optionally within `symbol`)."""
        query = select(tables.orders).where(tables.orders.c.exchange_order_id == exchange_order_id)
        if symbol is not None:
            query = query.where(tables.orders.c.symbol == symbol)
        orders = await self._load(query.limit(1))
        return orders[0] if orders else None

    async def list_non_terminal(self) -> _Orders:
        """Every order whose final state is not yet known: what reconciliation must resolve."""
        return await self._with_status(NON_TERMINAL_STATUSES, symbol=None)

    async def list_by_origin_ref(self, origin_refs: Collection[str]) -> _Orders:
        """The orders placed for these origins (e.g. ``position:12``), oldest first."""
        if not origin_refs:
            return []
        query = select(tables.orders).where(tables.orders.c.origin_ref.in_(sorted(origin_refs)))
        return await self._load(query.order_by(tables.orders.c.id))

    async def list_open(self, symbol: str | None = None) -> _Orders:
        """Orders resting on the exchange as far as we know (NEW, PARTIALLY_FILLED), oldest
        first."""
        return await self._with_status(OPEN_STATUSES, symbol=symbol)

    async def history(self, symbol: str, limit: int = 50, offset: int = 0) -> _Orders:
        """Orders of `symbol`, newest first, for offset paging."""
        _check_limit(limit)
        if offset < 0:
            raise ValueError(f"offset must not be negative; got {offset}")
        query = (
            select(tables.orders)
            .where(tables.orders.c.symbol == symbol)
            .order_by(tables.orders.c.created_at.desc(), tables.orders.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return await self._load(query)

    async def list(
        self,
        *,
        status: Collection[OrderStatus] | None = None,
        symbol: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> OrderPage:
        """Orders matching every given filter, newest stored first, cursor-paged.

        `since` filters on created_at (inclusive). The cursor is opaque; a malformed one raises
        ValueError naming the field.
        """
        _check_limit(limit)
        query = select(tables.orders)
        if status is not None:
            query = query.where(tables.orders.c.status.in_(_statuses(status)))
        if symbol is not None:
            query = query.where(tables.orders.c.symbol == symbol)
        if since is not None:
            query = query.where(tables.orders.c.created_at >= since)
        if cursor is not None:
            if not cursor.isdigit():
                raise ValueError(f"cursor must be a value returned as next_cursor; got {cursor!r}")
            query = query.where(tables.orders.c.id < int(cursor))
        query = query.order_by(tables.orders.c.id.desc()).limit(limit + 1)
        rows = (await self._connection.execute(query)).mappings().all()
        page = rows[:limit]
        next_cursor = str(page[-1]["id"]) if len(rows) > limit else None
        return OrderPage([self._track(row) for row in page], next_cursor)

    async def flush(self) -> None:
        """Write every tracked order that changed; `UnitOfWork.commit` calls this."""
        for tracked in self._tracked.values():
            columns = exchange_columns(tracked.order)
            if columns == tracked.written:
                continue
            result = await self._connection.execute(
                update(tables.orders)
                .where(tables.orders.c.id == tracked.row_id)
                .where(tables.orders.c.version == tracked.version)
                .values(**columns, version=tracked.version + 1, updated_at=self._clock())
            )
            if result.rowcount != 1:
                raise ConcurrentOrderUpdate(tracked.order.client_order_id)
            tracked.version += 1
            tracked.written = columns

    def version_of(self, order: Order) -> int:
        """The stored version of an order this repository loaded or added."""
        return self._tracked[order.client_order_id].version

    async def count(self, status: OrderStatus) -> int:
        """How many stored orders have `status`."""
        query = select(func.count()).select_from(tables.orders)
        query = query.where(tables.orders.c.status == status.value)
        return int((await self._connection.execute(query)).scalar_one())

    async def count_open_external(self) -> int:
        """How many stored orders placed outside the bot are open (NEW, PARTIALLY_FILLED)."""
        query = select(func.count()).select_from(tables.orders)
        query = query.where(tables.orders.c.is_external.is_(True))
        query = query.where(tables.orders.c.status.in_(_statuses(OPEN_STATUSES)))
        return int((await self._connection.execute(query)).scalar_one())

    async def symbols(self) -> _Symbols:
        """Every symbol any stored order is on, sorted."""
        query = select(tables.orders.c.symbol).distinct()
        return sorted(row[0] for row in await self._connection.execute(query))

    def forget(self) -> None:
        """Stop tracking (after rollback, the loaded objects no longer match the database)."""
        self._tracked.clear()

    async def _with_status(self, statuses: Collection[OrderStatus], symbol: str | None) -> _Orders:
        query = select(tables.orders).where(tables.orders.c.status.in_(_statuses(statuses)))
        if symbol is not None:
            query = query.where(tables.orders.c.symbol == symbol)
        return await self._load(query.order_by(tables.orders.c.id))

    async def _load(self, query: Select[Any]) -> _Orders:
        rows = (await self._connection.execute(query)).mappings().all()
        return [self._track(row) for row in rows]

    def _track(self, row: RowMapping) -> Order:
        """One object per order per unit of work: a second load returns the tracked object."""
        known = self._tracked.get(row["client_order_id"])
        if known is not None:
            return known.order
        order = _order_from_row(row)
        written = exchange_columns(order)
        self._tracked[order.client_order_id] = _Tracked(order, row["id"], row["version"], written)
        return order


def _fill_from_row(row: RowMapping) -> Fill:
    return Fill(
        exchange_trade_id=row["exchange_trade_id"],
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        price=row["price"],
        qty=row["qty"],
        quote_qty=row["quote_qty"],
        commission=row["commission"],
        commission_asset=row["commission_asset"],
        is_maker=row["is_maker"],
        time=row["time"],
    )


def fill_columns(fill: Fill) -> dict[str, Any]:
    """A fill's row (also written by store/fill_writer.py)."""
    return {
        "symbol": fill.symbol,
        "exchange_trade_id": fill.exchange_trade_id,
        "client_order_id": fill.client_order_id,
        "price": fill.price,
        "qty": fill.qty,
        "quote_qty": fill.quote_qty,
        "commission": fill.commission,
        "commission_asset": fill.commission_asset,
        "is_maker": fill.is_maker,
        "time": fill.time,
    }


class FillRepository:
    """Fills of one unit of work (`uow.fills`). The order must be stored before its fills."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_if_new(self, fill: Fill) -> bool:
        """Store the fill; False if this (symbol, exchange_trade_id) was already stored.

        Safe to call for every report of a trade (stream and REST may both deliver it): only the
        first stores, and the transaction stays usable either way.
        """
        return await insert_if_new(self._connection, tables.fills, fill_columns(fill)) is not None

    async def list_for_order(self, client_order_id: str) -> list[Fill]:
        """The order's fills in the order they were stored."""
        query = (
            select(tables.fills)
            .where(tables.fills.c.client_order_id == client_order_id)
            .order_by(tables.fills.c.id)
        )
        rows = (await self._connection.execute(query)).mappings().all()
        return [_fill_from_row(row) for row in rows]
