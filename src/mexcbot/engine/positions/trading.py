"""PositionService: the position use cases the API (and later the CLI and rules) share.

Opening a manual position persists the position first, then places its entry buy with
`origin_ref = "position:{id}"` and the deterministic key "position:{id}:entry" (or the caller's
idempotency key), so the buy's fills find their position and a retried request cannot buy
twice: a repeat of a caller's key answers the position it opened. A refused entry (risk limit,
exchange) deletes the empty position and re-raises the error for the caller.

Adopting opens a position on what the account already holds, with no order sent: either the
stored fills of filled BUY orders the bot knows (placed by hand, not for a position), or
holdings bought elsewhere at a stated entry price. Either way the coins must be in the free
balance and not already in an open position (`PositionBook.adopt` checks that under its lock).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from mexcbot.domain.exits import ExitPlan
from mexcbot.domain.orders import (
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    client_order_id_for,
)
from mexcbot.domain.performance import Performance, performance
from mexcbot.domain.positions import (
    Position,
    PositionError,
    PositionFill,
    PositionStatus,
    PositionType,
)
from mexcbot.domain.symbols import OrderRuleViolation
from mexcbot.engine.errors import (
    AdoptionRefused,
    ExecutionError,
    IdempotencyConflict,
    InvalidOrder,
    OrderNotFound,
    PositionNotFound,
)
from mexcbot.engine.events import PositionChangeKind
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.book import (
    PositionBook,
    position_fill,
    position_id_of,
    position_ref,
)
from mexcbot.engine.positions.exits import ExitMonitor
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.store import PositionPage, UnitOfWork

#: `PositionService.list` shadows the builtin inside the class body.
_Positions = list[Position]
#: How an adoption reads the account's free balance of an asset (the market data's balances).
FreeBalance = Callable[[str], Awaitable[Decimal]]


class PositionService:
    def __init__(
        self,
        book: PositionBook,
        monitor: ExitMonitor,
        execution: ExecutionService,
        uow_factory: Callable[[], UnitOfWork],
        risk: RiskLimitsPolicy | None = None,
    ) -> None:
        self._risk = risk
        self._book = book
        self._monitor = monitor
        self._execution = execution
        self._uow_factory = uow_factory
        self._free_balance: FreeBalance | None = None

    def watch_balances(self, free_balance: FreeBalance) -> None:
        """Where an adoption reads the account's free balance of the base asset."""
        self._free_balance = free_balance

    async def adopt_orders(
        self,
        symbol: str,
        order_ids: Sequence[str],
        *,
        exits: ExitPlan | None = None,
        notes: str | None = None,
    ) -> Position:
        """Open a MANUAL position on the stored fills of filled BUY orders of `symbol` (each
        named by its client or exchange order id) that no position holds yet."""
        fills: list[PositionFill] = []
        seen: set[str] = set()
        async with self._uow_factory() as uow:
            for ref in order_ids:
                order = await uow.orders.get_by_client_id(ref)
                if order is None:
                    order = await uow.orders.get_by_exchange_id(ref, symbol)
                if order is None or order.symbol != symbol:
                    raise AdoptionRefused(
                        f"adopt.order_ids: no order {ref!r} on {symbol}", field="adopt.order_ids"
                    )
                cid = order.client_order_id
                if cid in seen:
                    raise AdoptionRefused(
                        f"adopt.order_ids: order {ref!r} is named twice", field="adopt.order_ids"
                    )
                seen.add(cid)
                self._check_adoptable(order, ref)
                stored = await uow.fills.list_for_order(cid)
                if sum((f.qty for f in stored), Decimal(0)) < order.executed_qty:
                    raise AdoptionRefused(
                        f"adopt.order_ids: order {ref!r} has fills not stored yet; retry shortly",
                        field="adopt.order_ids",
                    )
                fills.extend(position_fill(order, f) for f in stored)
        return await self._adopt(symbol, fills, order_ids=seen, exits=exits, notes=notes)

    def _check_adoptable(self, order: Order, ref: str) -> None:
        if order.request.side is not OrderSide.BUY:
            raise AdoptionRefused(
                f"adopt.order_ids: order {ref!r} is a SELL; a position adopts BUY orders",
                field="adopt.order_ids",
            )
        if order.status is not OrderStatus.FILLED and not (
            order.is_terminal and order.executed_qty > 0
        ):
            raise AdoptionRefused(
                f"adopt.order_ids: order {ref!r} is {order.status.value}; only a final order "
                "that bought something can be adopted",
                field="adopt.order_ids",
            )
        owner = position_id_of(order)
        if owner is not None or self._book.holds_order(order.client_order_id):
            raise AdoptionRefused(
                f"adopt.order_ids: order {ref!r} already belongs to position "
                f"{owner if owner is not None else 'another open position'}",
                field="adopt.order_ids",
            )

    async def adopt_holdings(
        self,
        symbol: str,
        *,
        quantity: Decimal,
        entry_price: Decimal,
        exits: ExitPlan | None = None,
        notes: str | None = None,
    ) -> Position:
        """Open a MANUAL position on `quantity` of the base asset bought elsewhere at
        `entry_price` (no fee known): one made-up entry fill, "adopted"."""
        rules = await self._book.rules(symbol)
        fill = PositionFill(
            client_order_id="adopted",
            exchange_trade_id="holdings",
            side=OrderSide.BUY,
            price=entry_price,
            quantity=quantity,
            commission=Decimal(0),
            commission_asset=rules.quote_asset,
            time=self._book.now(),
        )
        return await self._adopt(symbol, [fill], exits=exits, notes=notes)

    async def _adopt(
        self,
        symbol: str,
        fills: list[PositionFill],
        *,
        order_ids: set[str] | None = None,
        exits: ExitPlan | None,
        notes: str | None,
    ) -> Position:
        if self._free_balance is None:
            raise AdoptionRefused("adopt: the account's balances are not readable", field="adopt")
        rules = await self._book.rules(symbol)
        free = await self._free_balance(rules.base_asset)
        return await self._book.adopt(
            symbol, fills, free_base=free, order_ids=order_ids or (), exits=exits, notes=notes
        )

    async def open_with_buy(
        self,
        symbol: str,
        *,
        quote_amount: Decimal | None = None,
        quantity: Decimal | None = None,
        exits: ExitPlan | None = None,
        notes: str | None = None,
        type: PositionType = PositionType.MANUAL,
        idempotency_key: str | None = None,
    ) -> tuple[Position, Order]:
        """Open a position with a market buy of `quote_amount` (or `quantity`).

        With `idempotency_key` a repeat of the request (a client's retry after a timeout)
        answers the position the key opened and its entry, and buys nothing; a different buy
        under the same key raises `IdempotencyConflict`; a key whose entry was refused raises
        that refusal again."""
        command = PlaceOrder(  # validates the amounts before anything is stored
            symbol=symbol,
            side=OrderSide.BUY,
            type=OrderType.MARKET,
            quote_amount=quote_amount,
            quantity=quantity,
            idempotency_key=idempotency_key,
        )
        if idempotency_key is not None:
            opened = await self._opened_under_key(command)
            if opened is not None:
                return opened
        return await self.open_with(command, type=type, exits=exits, notes=notes)

    async def _opened_under_key(self, command: PlaceOrder) -> tuple[Position, Order] | None:
        """The position and entry an earlier request with `command`'s key opened; None when the
        key is new. (A read: the API's entry point asks it, not the sniper's.)"""
        assert command.idempotency_key is not None
        client_order_id = client_order_id_for(command.idempotency_key)
        try:
            stored = await self._execution.get(command.symbol, client_order_id, refresh=False)
        except OrderNotFound:
            return None  # new, or under another symbol: the placement's own check answers that
        # the stored answer, its refusal again, or IdempotencyConflict: nothing is sent
        order = await self._execution.place(replace(command, origin_ref=stored.request.origin_ref))
        return await self._position_of_entry(order), order

    async def _position_of_entry(self, order: Order) -> Position:
        """The position `order` was placed for, with the order's fills applied (a repeat may
        answer before the first request applied them; applying is idempotent)."""
        position_id = position_id_of(order)
        if position_id is None:  # the key placed an order that opened no position
            raise IdempotencyConflict(order)
        synced = await self._book.sync_order(order)
        return synced if synced is not None else await self.get(position_id)

    async def open_with(
        self,
        command: PlaceOrder,
        *,
        type: PositionType = PositionType.MANUAL,
        exits: ExitPlan | None = None,
        notes: str | None = None,
        cancel_rest: bool = False,
    ) -> tuple[Position, Order]:
        """Open a position whose entry is the buy `command` (MARKET, or a LIMIT IOC of a
        rule): the position is stored first, then the buy is placed with the position's
        `origin_ref` and, unless the command carries its own, the key
        "position:{id}:entry". A refused entry deletes the empty position and re-raises.
        `cancel_rest`: the command is a LIMIT standing in for an IOC (the symbol refuses
        IMMEDIATE_OR_CANCEL): what it leaves on the book is cancelled at once."""
        if command.side is not OrderSide.BUY:
            raise InvalidOrder("a position is entered with a BUY", field="side")
        if self._risk is not None and type is not PositionType.NEWCOIN:
            await self._risk.check_entry_volume(command.symbol)
        position = await self._book.open(command.symbol, type, exits=exits, notes=notes)
        assert position.id is not None
        entry = replace(
            command,
            origin_ref=position_ref(position.id),
            idempotency_key=command.idempotency_key or f"position:{position.id}:entry",
        )
        try:
            order = await self._execution.place(entry)
        except (ExecutionError, InvalidOrder, OrderRuleViolation):
            await self._book.discard(position)
            raise
        if position_id_of(order) != position.id:
            # the same key's first request, still in flight when this one began, placed the
            # entry for its own position: this one buys nothing and answers that position
            await self._book.discard(position)
            return await self._position_of_entry(order), order
        if cancel_rest:
            order = await self._execution.cancel_rest(order)
        await self._book.sync_order(order)
        return position, order

    async def discard_if_empty(self, position: Position) -> bool:
        """Delete a position whose entry bought nothing (an IOC that found no seller: the book
        closed it empty); False when it holds something (it stays)."""
        if position.id is None or position.fills:
            return False
        return await self._book.discard(position)

    async def get(self, position_id: int) -> Position:
        cached = self._book.cached(position_id)
        if cached is not None:
            return cached
        async with self._uow_factory() as uow:
            stored = await uow.positions.get(position_id)
        if stored is None:
            raise PositionNotFound(position_id)
        return stored

    async def list(
        self,
        *,
        status: PositionStatus | None = None,
        symbol: str | None = None,
        type: PositionType | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> PositionPage:
        async with self._uow_factory() as uow:
            page = await uow.positions.list(
                status=status, symbol=symbol, type=type, since=since, limit=limit, offset=offset
            )
        live = [self._book.cached(p.id) or p if p.id is not None else p for p in page.positions]
        return PositionPage(live, page.total)

    def mark(self, symbol: str) -> Decimal | None:
        """The price a position is valued at: the stream's bid, else the last price."""
        quote = self._monitor.quotes.get(symbol)
        bid = quote.bid if quote is not None else None
        return bid if bid is not None else self._execution.prices.last(symbol)

    def open_positions(self) -> _Positions:
        return sorted(self._book.open_positions(), key=lambda p: p.id or 0)

    async def set_exits(
        self, position_id: int, exits: ExitPlan | None, *, notes: str | None = None
    ) -> Position:
        """Replace the exits (None keeps them) and/or the notes of an open position."""
        position = self._book.cached(position_id)
        if position is None:
            await self.get(position_id)  # 404 when unknown
            raise PositionError(f"position {position_id} is closed: its exits cannot change")
        async with self._book.lock:
            if exits is not None:
                position.set_exits(exits)
            if notes is not None:
                position.notes = notes
            await self._book.persist(position, PositionChangeKind.EXITS_CHANGED)
        return position

    async def close(self, position_id: int) -> tuple[Position, Order | None]:
        """Sell what is left at market; `PositionError` (dust, already closing) otherwise."""
        if self._book.cached(position_id) is None:
            await self.get(position_id)
            raise PositionError(f"position {position_id} is already closed")
        order = await self._monitor.close(position_id)
        return await self.get(position_id), order

    async def delete(self, position_id: int) -> None:
        position = await self.get(position_id)
        if position.is_open:
            raise PositionError(
                f"position {position_id} is open: close it before deleting it", field="id"
            )
        async with self._uow_factory() as uow:
            await uow.positions.delete(position_id)
            await uow.audit.append(
                actor="system", action="position.delete", result="ok", target=str(position_id)
            )
            await uow.commit()

    async def summary(self, *, since: datetime | None = None) -> Performance:
        closed: _Positions = []
        offset = 0
        async with self._uow_factory() as uow:
            while True:
                page = await uow.positions.list(
                    status=PositionStatus.CLOSED, since=since, limit=500, offset=offset
                )
                closed.extend(page.positions)
                offset += len(page.positions)
                if not page.positions or offset >= page.total:
                    break
        return performance(closed)
