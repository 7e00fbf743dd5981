"""PositionBook: the open positions in memory, kept in step with the database and the fills.

Exit evaluation runs on every tick, so the open positions live here in memory and the database
is written only when something a restart needs changed (a fill, the stop or trailing peak, the
exit in flight). The excursions (MFE / MAE) are the exception: the tick screen tracks each
symbol's high and low and `settle` applies them before a position is read, changed or written;
those that changed only there are written by `flush_excursions` (the exit timer, every few
seconds), or with the position's next write, whichever comes first. All changes go through
`lock`, one at a time, so a tick, a fill and an API request never interleave on a position.

Fills reach a position through its orders: every order the book's positions place carries
`origin_ref = "position:{id}"`; `sync_order` applies the order's stored fills (idempotently) and,
when the position's exit order is final and all its fills are in, finishes the exit. It is the
one path for stream fills, REST reconciliation and the re-arm at startup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from decimal import Decimal

from mexcbot.domain.exits import ExitPlan, ExitTrigger, sellable
from mexcbot.domain.orders import Fill, Order
from mexcbot.domain.positions import (
    Position,
    PositionError,
    PositionFill,
    PositionStatus,
    PositionType,
)
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import AdoptionRefused
from mexcbot.engine.events import PositionChanged, PositionChangeKind
from mexcbot.engine.positions.ledger import WINDOW, RealisedLedger
from mexcbot.engine.positions.screen import TickScreen
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.store import ConcurrentPositionUpdate, UnitOfWork

log = logging.getLogger(__name__)

_REF_PREFIX = "position:"
_FULL_EXITS = frozenset({ExitTrigger.STOP_LOSS, ExitTrigger.TRAILING_STOP, ExitTrigger.CLOSE})
_STOPS = frozenset({ExitTrigger.STOP_LOSS, ExitTrigger.TRAILING_STOP})


def position_ref(position_id: int) -> str:
    """The `origin_ref` of every order placed for the position."""
    return f"{_REF_PREFIX}{position_id}"


def position_id_of(order: Order) -> int | None:
    ref = order.request.origin_ref
    if ref is None or not ref.startswith(_REF_PREFIX):
        return None
    tail = ref[len(_REF_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def position_fill(order: Order, fill: Fill) -> PositionFill:
    """The order's stored fill as a position sees it."""
    return PositionFill(
        client_order_id=fill.client_order_id,
        exchange_trade_id=fill.exchange_trade_id,
        side=order.request.side,
        price=fill.price,
        quantity=fill.qty,
        commission=fill.commission,
        commission_asset=fill.commission_asset,
        time=fill.time,
    )


class PositionBook:
    """The open positions of this process. Build one (in `app.py`); `load()` before use."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        events: EventBus,
        catalog: SymbolCatalog,
        prices: PriceBook,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow_factory = uow_factory
        self._prices = prices
        self.ledger = RealisedLedger()
        self._events = events
        self._catalog = catalog
        self._clock = clock
        self._open: dict[int, Position] = {}
        self._by_symbol: dict[str, dict[int, Position]] = {}
        self._fills_stored: dict[int, int] = {}
        self._unsaved_excursions: set[int] = set()
        self.lock = asyncio.Lock()
        self.screen = TickScreen(self.on_symbol)

    async def load(self) -> list[Position]:
        """Load every open position (startup: the exits re-arm from what was persisted)."""
        async with self._uow_factory() as uow:
            positions = await uow.positions.list_open()
            sold = await uow.positions.list_sold_since(self._clock() - WINDOW)
        self.ledger.rebuild(sold, self._clock())
        self._open.clear()
        self._by_symbol.clear()
        self._unsaved_excursions.clear()
        self.screen.reset()
        for position in positions:
            self._index(position)
        return positions

    # --- reading -----------------------------------------------------------------------------

    def open_positions(self) -> list[Position]:
        for symbol in self.screen.pending_symbols():
            self.settle(symbol)
        return list(self._open.values())

    def on_symbol(self, symbol: str) -> Iterable[Position]:
        return self._by_symbol.get(symbol, {}).values()

    def symbols(self) -> list[str]:
        return [symbol for symbol, positions in self._by_symbol.items() if positions]

    def cached(self, position_id: int) -> Position | None:
        position = self._open.get(position_id)
        if position is not None:
            self.settle(position.symbol)
        return position

    def settle(self, symbol: str) -> None:
        """Apply the symbol's pending high and low to its positions' excursions (see
        `TickScreen`): call before reading, changing or writing them."""
        for position in self.screen.settle(symbol):
            assert position.id is not None
            self._unsaved_excursions.add(position.id)

    async def flush_excursions(self) -> int:
        """Write the positions whose excursions changed since they were last written (the
        exit timer calls it), so a restart keeps them; returns how many were written."""
        async with self.lock:
            for symbol in self.screen.pending_symbols():
                self.settle(symbol)
            written = 0
            for position_id in list(self._unsaved_excursions):
                position = self._open.get(position_id)
                if position is None:
                    self._unsaved_excursions.discard(position_id)
                    continue
                try:
                    await self.persist(position, PositionChangeKind.EXITS_CHANGED)
                except ConcurrentPositionUpdate:
                    continue
                written += 1
            return written

    def open_costs(self) -> dict[str, Decimal]:
        return {position_ref(pid): position.cost for pid, position in self._open.items()}

    def now(self) -> datetime:
        return self._clock()

    async def rules(self, symbol: str) -> SymbolRules:
        return await self._catalog.get(symbol)

    def holds_order(self, client_order_id: str) -> bool:
        """Whether an open position already holds fills of that order."""
        return any(
            f.client_order_id == client_order_id for p in self._open.values() for f in p.fills
        )

    def cost_in(self, quote_asset: str) -> Decimal:
        """The cost of the open positions quoted in `quote_asset`."""
        return sum(
            (p.cost for p in self._open.values() if p.quote_asset == quote_asset), Decimal(0)
        )

    def symbol_cost(self, symbol: str) -> Decimal:
        """The quote cost of the open positions on `symbol`."""
        return sum((p.cost for p in self.on_symbol(symbol)), Decimal(0))

    def stop_streak(self) -> tuple[int, datetime | None]:
        return self.ledger.stop_streak, self.ledger.last_stop_at

    def pnl_today(self, now: datetime) -> Decimal:
        """PnL realised since 00:00 UTC (earlier runs included: the ledger is rebuilt from
        the stored fills at startup), plus unrealised PnL at last prices."""
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return self.pnl_since(start)

    def pnl_since(self, start: datetime) -> Decimal:
        """PnL realised since `start` (within the last 24 h) plus unrealised at last prices."""
        total = self.ledger.since(start)
        for position in self._open.values():
            price = self._prices.last(position.symbol)
            if price is not None:
                total += position.unrealised_pnl(price)
        return total

    # --- changing ----------------------------------------------------------------------------

    async def open(
        self,
        symbol: str,
        type: PositionType,
        *,
        exits: ExitPlan | None = None,
        notes: str | None = None,
    ) -> Position:
        """A new OPEN position with nothing held yet: its entry order's fills fill it."""
        rules = await self._catalog.get(symbol)
        position = Position(
            symbol=symbol,
            base_asset=rules.base_asset,
            quote_asset=rules.quote_asset,
            type=type,
            opened_at=self._clock(),
            notes=notes,
        )
        if exits is not None:
            position.set_exits(exits)
        async with self.lock:
            async with self._uow_factory() as uow:
                await uow.positions.add(position)
                await uow.audit.append(
                    actor="system", action="position.open", result="ok", target=symbol
                )
                await uow.commit()
            self._index(position)
        self._publish(position, PositionChangeKind.OPENED)
        return position

    async def adopt(
        self,
        symbol: str,
        fills: list[PositionFill],
        *,
        free_base: Decimal,
        order_ids: Collection[str] = (),
        exits: ExitPlan | None = None,
        notes: str | None = None,
    ) -> Position:
        """A new MANUAL position holding what `fills` bought (a filled order's, or one made up
        for holdings bought elsewhere), its exits armed at once. Checked under `lock`, so two
        adoptions cannot both take the same coins: the position's quantity plus what the open
        positions on the same base asset hold may not exceed `free_base`, the account's free
        balance of it, and none of `order_ids` (the adopted orders) may be in an open position.
        `AdoptionRefused` otherwise, and nothing is stored."""
        rules = await self._catalog.get(symbol)
        position = Position(
            symbol=symbol,
            base_asset=rules.base_asset,
            quote_asset=rules.quote_asset,
            type=PositionType.MANUAL,
            opened_at=self._clock(),
            notes=notes,
        )
        for fill in fills:
            position.apply_fill(fill)
        if exits is not None:
            position.set_exits(exits)
        async with self.lock:
            taken = sorted(cid for cid in order_ids if self.holds_order(cid))
            if taken:
                raise AdoptionRefused(
                    f"adopt.order_ids: {', '.join(taken)} already in an open position",
                    field="adopt.order_ids",
                )
            held = sum(
                (p.quantity for p in self._open.values() if p.base_asset == rules.base_asset),
                Decimal(0),
            )
            if position.quantity + held > free_base:
                raise AdoptionRefused(
                    f"adopt: {position.quantity} {rules.base_asset} plus the {held} held by "
                    f"open positions is more than the free balance of {free_base}",
                    field="adopt.quantity",
                )
            async with self._uow_factory() as uow:
                await uow.positions.add(position)
                await uow.audit.append(
                    actor="system", action="position.adopt", result="ok", target=symbol
                )
                await uow.commit()
            self._index(position)
        self._publish(position, PositionChangeKind.OPENED)
        return position

    async def discard(self, position: Position) -> bool:
        """Delete a position that never held anything (its entry was refused): a refused
        entry leaves no position behind. False (kept) once it has a fill."""
        assert position.id is not None
        async with self.lock:
            if position.fills:
                return False
            async with self._uow_factory() as uow:
                await uow.positions.delete(position.id)
                await uow.commit()
            self._unindex(position)
        self._publish(position, PositionChangeKind.DELETED)
        return True

    async def persist(self, position: Position, kind: PositionChangeKind) -> None:
        """Write the position (caller holds `lock`) and publish what changed. A concurrent
        writer (another process) wins: the position is reloaded and the change dropped."""
        assert position.id is not None
        self.settle(position.symbol)
        try:
            async with self._uow_factory() as uow:
                uow.positions.save(position, fills_stored=self._fills_stored[position.id])
                await uow.commit()
        except ConcurrentPositionUpdate:
            log.warning("position %s changed elsewhere; reloading it", position.id)
            await self._reload(position.id)
            raise
        self._fills_stored[position.id] = len(position.fills)
        self._unsaved_excursions.discard(position.id)
        self.screen.invalidate(position.symbol)
        if not position.is_open:
            self._unindex(position)
        self._publish(position, kind)

    async def sync_order(self, order: Order) -> Position | None:
        """Apply the order's stored fills to its position and finish its exit when it is
        final; idempotent (a repeat changes nothing)."""
        position_id = position_id_of(order)
        if position_id is None:
            return None
        async with self.lock:
            position = self._open.get(position_id)
            if position is None:
                return None
            async with self._uow_factory() as uow:
                fills = await uow.fills.list_for_order(order.client_order_id)
            self.settle(position.symbol)  # the prices seen so far, before the fills move it
            changed, realised_before = False, position.realised_pnl
            trigger, entry = position.exit_trigger, position.average_entry
            for fill in fills:
                try:
                    changed = position.apply_fill(position_fill(order, fill)) or changed
                except PositionError as exc:
                    log.error("position %s: fill %s not applied: %s", position.id, fill, exc)
            kind = PositionChangeKind.FILLED
            if order.is_terminal:
                sold = sum((f.qty for f in fills), Decimal(0))
                if position.exit_order_id == order.client_order_id and sold >= order.executed_qty:
                    kind = self._finish_exit(position, order)
                    changed = True
                    if order.executed_qty > 0 and order.avg_price is not None:
                        self.ledger.exit_finished(
                            self._clock(),
                            by_stop=trigger in _STOPS,
                            lost=entry is not None and order.avg_price < entry,
                        )
                elif not position.fills and position.exit_order_id is None:
                    position.close_with_dust(self._clock())  # the entry bought nothing
                    changed = True
            if changed:
                if not position.is_open:
                    kind = PositionChangeKind.CLOSED
                await self.persist(position, kind)
                self.ledger.add(self._clock(), position.realised_pnl - realised_before)
            return position

    async def apply_stored_fills(self, positions: Collection[Position]) -> None:
        """Apply the stored fills of every order placed for `positions` that executed
        something (startup, after reconciliation; a repeat changes nothing)."""
        refs = {position_ref(p.id) for p in positions if p.id is not None}
        async with self._uow_factory() as uow:
            orders = await uow.orders.list_by_origin_ref(refs)
        for order in orders:
            if order.executed_qty > 0:
                await self.sync_order(order)

    async def abort_exit(self, position: Position, client_order_id: str, reason: str) -> None:
        """The exit order was never stored (refused before placement): count it as an exit
        that sold nothing, so the next tick may try again under the next key."""
        async with self.lock:
            if position.finish_exit(client_order_id, executed=Decimal(0), reason=reason):
                kind = (
                    PositionChangeKind.EXIT_FAILED
                    if position.exit_failed_reason is not None
                    else PositionChangeKind.EXITS_CHANGED
                )
                await self.persist(position, kind)

    def _finish_exit(self, position: Position, order: Order) -> PositionChangeKind:
        trigger = position.exit_trigger
        reason = order.reject_message or f"exit order ended {order.status} with nothing sold"
        position.finish_exit(order.client_order_id, executed=order.executed_qty, reason=reason)
        if position.exit_failed_reason is not None:
            log.error("position %s FAILED TO EXIT: %s", position.id, position.exit_failed_reason)
            return PositionChangeKind.EXIT_FAILED
        rules = self._catalog.cached(position.symbol)
        price = order.avg_price
        if (
            position.is_open
            and trigger in _FULL_EXITS
            and order.executed_qty > 0
            and rules is not None
            and price is not None
            and not sellable(rules, rules.quantize_quantity(position.quantity), price)
        ):
            position.close_with_dust(self._clock())
        return PositionChangeKind.FILLED

    async def _reload(self, position_id: int) -> None:
        async with self._uow_factory() as uow:
            fresh = await uow.positions.get(position_id)
        old = self._open.get(position_id)
        if old is not None:
            self._unindex(old)
        if fresh is not None and fresh.status is PositionStatus.OPEN:
            self._index(fresh)

    def _index(self, position: Position) -> None:
        assert position.id is not None
        self.settle(position.symbol)  # earlier prices are not the new position's
        self._open[position.id] = position
        self._by_symbol.setdefault(position.symbol, {})[position.id] = position
        self._fills_stored[position.id] = len(position.fills)
        self.screen.invalidate(position.symbol)

    def _unindex(self, position: Position) -> None:
        assert position.id is not None
        self._unsaved_excursions.discard(position.id)
        self._open.pop(position.id, None)
        self._by_symbol.get(position.symbol, {}).pop(position.id, None)
        self.screen.invalidate(position.symbol)

    def _publish(self, position: Position, kind: PositionChangeKind) -> None:
        self._events.publish(PositionChanged(position, kind))
