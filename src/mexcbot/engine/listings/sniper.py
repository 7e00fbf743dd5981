"""Sniper: buys a new listing at its open, exactly once, and records how fast.

For a listing with a known open time the snipe is ARMED `arm_lead_s` before the open: the
matching NEW_LISTING rule is chosen (the lowest rule id wins when several match: one listing is
bought once), its execution row is persisted (unique per rule and listing: two detectors, a
restart or a second process sharing the database find it and resume instead of buying again),
the symbol's rules are loaded, the order is built and quantized, the NEWCOIN position it will
fill is created, and the clock offset is re-measured. At the open (exchange time, corrected by
the measured offset) the order is sent; while the exchange answers 10007 ("symbol not support
api": not open to the API yet) it is re-sent on the tight `retry_ms` schedule until `deadline_s`;
any other refusal ends the snipe. Each attempt has its own client order id derived from (rule,
listing, attempt), persisted before it is sent, so an unknown outcome is resolved by that id and
is never re-sent. Without a known open time the snipe fires when the symbol is first seen
tradable.

What the bought quantity becomes is the position's business: the rule's exits are on it from the
start. A snipe that bought nothing discards its empty position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from mexcbot.domain.autobuy import AutoBuyRule, ExecutionOutcome, RuleExecution, TriggerType
from mexcbot.domain.listings import Listing, ListingStatus
from mexcbot.domain.orders import (
    Order,
    OrderStatus,
    PlaceOrder,
)
from mexcbot.domain.positions import Position, PositionType
from mexcbot.engine.autobuy.buying import AutoBuyer, PreparedBuy, Skip
from mexcbot.engine.autobuy.executions import ExecutionLog
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import ExecutionError, InvalidOrder, OrderRejectedByExchange
from mexcbot.engine.events import (
    ListingChanged,
    OrderUpdated,
    OrderUpdateKind,
    SnipeFinished,
)
from mexcbot.engine.listings.book import ListingBook
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.book import PositionBook, position_ref
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.store import UnitOfWork
from mexcbot.store.listings import Snipe

log = logging.getLogger(__name__)

_ACKNOWLEDGED = OrderUpdateKind.ACKNOWLEDGED  # a module global: a member read is slow on 3.11

NOT_OPEN_YET = 10007
#: No snipe arms this close (ms) before or after another one's open.
QUIET_MS = 100.0


@dataclass(frozen=True, slots=True)
class SniperSettings:
    arm_lead_s: float = 10.0
    """How long before the open the snipe is prepared."""
    deadline_s: float = 10.0
    """How long after the open (or first sight) 10007 refusals are retried."""
    retry_ms: tuple[float, ...] = (
        0, 2, 4, 6, 8, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500,
        750, 1000, 1500, 2000, 3000, 4000, 5000, 6500, 8000, 10000,
    )  # fmt: skip
    """Send times after the open: 28 sends at most, well inside MEXC's 500 weight / 10 s."""
    late_window_s: float = 120.0
    """A listing first seen tradable up to this long after its open is still sniped."""
    spin_ms: float = 2.0
    """The last milliseconds before the open are waited by polling the clock (asyncio's timer
    granularity is about a millisecond)."""


def snipe_key(listing: Listing) -> str:
    """The execution key of a listing: stable across restarts, processes sharing the database,
    and a postponed open (the listing keeps its row)."""
    return f"listing:{listing.symbol}:{listing.id}"


class Sniper:
    def __init__(
        self,
        book: ListingBook,
        rules: AutoBuyRules,
        executions: ExecutionLog,
        buyer: AutoBuyer,
        execution: ExecutionService,
        positions: PositionBook,
        catalog: SymbolCatalog,
        events: EventBus,
        uow_factory: Callable[[], UnitOfWork],
        *,
        clock_offset_ms: Callable[[], int],
        resync_clock: Callable[[], object],
        settings: SniperSettings = SniperSettings(),
        observe: Callable[[str, float], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._book = book
        self._rules = rules
        self._executions = executions
        self._buyer = buyer
        self._execution = execution
        self._positions = positions
        self._catalog = catalog
        self._events = events
        self._uow_factory = uow_factory
        self._offset_ms = clock_offset_ms
        self._resync_clock = resync_clock
        self.settings = settings
        self._observe = observe
        self._wall = wall_clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: asyncio.Queue[Listing] = asyncio.Queue()
        self._acked: dict[str, float] = {}
        self._watching: set[str] = set()
        self._fire_at: dict[str, float] = {}

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(ListingChanged, lambda event: self._wake.put_nowait(event.listing))
        bus.subscribe(OrderUpdated, self._on_order)

    def armed(self) -> list[str]:
        return sorted(key for key, task in self._tasks.items() if not task.done())

    async def run(self) -> None:
        """Consider every known listing, then each one the detector reports, until cancelled.

        A snipe a restart left PENDING resumes if its listing is still within reach; one whose
        open passed beyond `late_window_s` while the bot was down is settled from its orders."""
        for listing in self._book.known():
            self._consider(listing)
        await self._settle_stale()
        try:
            while True:
                self._consider(await self._wake.get())
        finally:
            for task in self._tasks.values():
                task.cancel()

    async def _settle_stale(self) -> None:
        for pending in await self._executions.pending():
            if pending.trigger_type is not TriggerType.NEW_LISTING:
                continue
            symbol, _, _ = pending.key.removeprefix("listing:").partition(":")
            if any(key.startswith(f"listing:{symbol}:") for key in self._tasks):
                continue
            done = await self._buyer.recover_one(pending)
            if done is not None:
                log.info("snipe %s settled after a restart: %s", symbol, done.outcome.value)

    # --- timing -------------------------------------------------------------------------------

    def exchange_ms(self) -> float:
        """The exchange's clock now, in epoch milliseconds (local clock + measured offset)."""
        return self._wall() * 1000 + self._offset_ms()

    def _relative_ms(self, listing_open_ms: float) -> float:
        return self.exchange_ms() - listing_open_ms

    async def _sleep_until(self, target_ms: float) -> None:
        """Sleep until the exchange clock reads `target_ms`; the last `spin_ms` by polling."""
        while True:
            left = target_ms - self.exchange_ms()
            if left <= 0:
                return
            if left > self.settings.spin_ms:
                await asyncio.sleep((left - self.settings.spin_ms) / 1000)
            else:
                await asyncio.sleep(0)

    # --- deciding -----------------------------------------------------------------------------

    def _consider(self, listing: Listing) -> None:
        key = snipe_key(listing)
        if key in self._tasks or listing.id is None:
            return
        now = self.exchange_ms()
        late_ms = self.settings.late_window_s * 1000
        if listing.open_time is not None:
            open_ms = listing.open_time.timestamp() * 1000
            if open_ms < now - late_ms:
                return  # opened long ago: history, not a snipe
        elif listing.status is ListingStatus.ANNOUNCED:
            return  # no time and not tradable yet: wait for the next sighting
        elif listing.opened_at is None or listing.opened_at.timestamp() * 1000 < now - late_ms:
            return
        self._tasks[key] = asyncio.create_task(self._snipe(listing), name=f"mexcbot-snipe-{key}")

    async def _snipe(self, listing: Listing) -> None:
        try:
            await self._snipe_once(listing)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("snipe of %s failed", listing.symbol)
        finally:
            self._fire_at.pop(snipe_key(listing), None)

    async def _snipe_once(self, listing: Listing) -> None:
        assert listing.id is not None
        known_open = listing.open_time is not None and listing.status is ListingStatus.ANNOUNCED
        open_ms = self._open_ms(listing)
        while known_open:  # a postponed open moves the wait
            await self._sleep_until(open_ms - self.settings.arm_lead_s * 1000)
            listing, moved = self._latest(listing)
            if moved == open_ms:
                break
            open_ms = moved
        key = snipe_key(listing)
        self._fire_at[key] = open_ms
        await self._quiet_window(key, open_ms)
        rules = await self._rules.matching_listing(
            listing.symbol, listing.base_asset, listing.quote_asset
        )
        if not rules:
            return
        rule = min(rules, key=lambda r: r.id or 0)
        assert rule.id is not None
        execution = await self._executions.begin(
            rule,
            listing.symbol,
            key,
            f"new listing {listing.symbol} (first seen by {listing.source.value})",
            listing.id,
        )
        if execution is None:
            execution = await self._executions.get_by_key(rule.id, key)
            if execution is None or execution.outcome is not ExecutionOutcome.PENDING:
                return  # already bought (or given up) by this or another process
            log.info("snipe of %s resumes (execution %s)", listing.symbol, execution.id)
        snipe = await self._snipe_row(listing, rule, execution)
        for other in rules:
            if other is not rule:
                log.info("rule %s skips %s: rule %s buys it", other.id, listing.symbol, rule.id)
        snipe = replace(snipe, armed_ms=snipe.armed_ms or self._relative_ms(open_ms))
        try:
            position = await self._position(rule, listing, snipe)
        except (InvalidOrder, ExecutionError) as exc:
            await self._finish(listing, execution, snipe, None, None, f"not armed: {exc}")
            return
        snipe = replace(snipe, position_id=position.id)
        await self._save(snipe)
        prepared = await self._buyer.prepare(
            rule, listing.symbol, None, symbol_rules=self._catalog.cached(listing.symbol)
        )
        if isinstance(prepared, Skip):
            await self._finish(listing, execution, snipe, None, position, prepared.reason)
            return
        try:
            await self._resync()
        except Exception as exc:  # an old offset is better than none
            log.warning("clock offset not refreshed before sniping %s: %s", listing.symbol, exc)
        while known_open:
            await self._sleep_until(open_ms)
            listing, moved = self._latest(listing)
            if moved <= open_ms:
                break
            open_ms = moved
        order, detail, snipe = await self._fire(prepared, execution, position, snipe, open_ms)
        await self._finish(listing, execution, snipe, order, position, detail, open_ms=open_ms)

    async def _quiet_window(self, key: str, open_ms: float) -> None:
        """Wait while another snipe fires within `QUIET_MS`: arming writes to the database
        (the execution, the snipe, the position), and on SQLite a write holds the lock the
        firing snipe's intent needs. Never waits past this snipe's own open minus `QUIET_MS`
        (listings that open together arm together)."""
        while True:
            now = self.exchange_ms()
            busy = [
                at
                for other, at in self._fire_at.items()
                if other != key and -QUIET_MS < at - now < QUIET_MS
            ]
            if not busy or max(busy) + QUIET_MS > open_ms - QUIET_MS:
                return
            await self._sleep_until(max(busy) + QUIET_MS)

    def _open_ms(self, listing: Listing) -> float:
        if listing.open_time is None:
            return self.exchange_ms()
        return listing.open_time.timestamp() * 1000

    def _latest(self, listing: Listing) -> tuple[Listing, float]:
        """The listing as the book holds it now, and its open time (ms)."""
        current = self._book.get(listing.symbol)
        if current is None or current.id != listing.id or current.open_time is None:
            return listing, self._open_ms(listing)
        return current, self._open_ms(current)

    async def _resync(self) -> None:
        result = self._resync_clock()
        if asyncio.iscoroutine(result):
            await result

    async def _snipe_row(
        self, listing: Listing, rule: AutoBuyRule, execution: RuleExecution
    ) -> Snipe:
        assert listing.id is not None
        assert rule.id is not None
        async with self._uow_factory() as uow:
            found = await uow.snipes.find(listing.id, rule.id)
            if found is None:
                found = await uow.snipes.save(
                    Snipe(
                        listing_id=listing.id,
                        rule_id=rule.id,
                        rule_name=rule.name,
                        outcome=ExecutionOutcome.PENDING,
                        execution_id=execution.id,
                    )
                )
                await uow.commit()
        return found

    async def _save(self, snipe: Snipe) -> Snipe:
        async with self._uow_factory() as uow:
            saved = await uow.snipes.save(snipe)
            await uow.commit()
        return saved

    async def _position(self, rule: AutoBuyRule, listing: Listing, snipe: Snipe) -> Position:
        """The empty NEWCOIN position the buy fills (made at arming, so the send waits on no
        extra write); a resumed snipe finds its own."""
        if snipe.position_id is not None:
            cached = self._positions.cached(snipe.position_id)
            if cached is not None:
                return cached
        await self._catalog.get(listing.symbol)  # listed (paused) before the open
        return await self._positions.open(
            listing.symbol,
            PositionType.NEWCOIN,
            exits=rule.exits,
            notes=f"auto-buy rule {rule.id} ({rule.name}): new listing",
        )

    def _command(
        self, prepared: PreparedBuy, execution: RuleExecution, position: Position, attempt: int
    ) -> PlaceOrder:
        """Attempt `attempt`'s order: the prepared buy with its derived client order id, for
        the position made at arming."""
        assert position.id is not None
        return replace(
            prepared.command_for(execution, attempt), origin_ref=position_ref(position.id)
        )

    async def _fire(
        self,
        prepared: PreparedBuy,
        execution: RuleExecution,
        position: Position,
        snipe: Snipe,
        open_ms: float,
    ) -> tuple[Order | None, str | None, Snipe]:
        symbol = prepared.symbol
        schedule: Sequence[float] = self.settings.retry_ms
        first_ms = max(0.0, self._relative_ms(open_ms))
        deadline_ms = first_ms + self.settings.deadline_s * 1000
        detail: str | None = None
        for attempt, at_ms in enumerate(schedule):
            target = max(at_ms, first_ms) if attempt else first_ms
            if target > deadline_ms:
                break
            if target > self._relative_ms(open_ms):
                await self._sleep_until(open_ms + target)
            self._catalog.presume_open(symbol)
            command = self._command(prepared, execution, position, attempt)
            sent_ms = self._relative_ms(open_ms)
            snipe = replace(snipe, attempts=attempt + 1, fired_ms=snipe.fired_ms or sent_ms)
            self._watching.add(symbol)
            try:
                order = await self._execution.place(command)
            except OrderRejectedByExchange as exc:
                if exc.code == NOT_OPEN_YET:
                    detail = f"10007 until attempt {attempt + 1}"
                    continue
                return exc.order, f"refused: {exc.code} {exc.msg}", snipe
            except (InvalidOrder, ExecutionError) as exc:
                return None, str(exc), snipe
            finally:
                self._watching.discard(symbol)
            acked = self._acked.pop(order.client_order_id, None)
            if prepared.cancel_rest:
                order = await self._execution.cancel_rest(order)
            snipe = replace(
                snipe, accepted_ms=(acked - open_ms) if acked else self._relative_ms(open_ms)
            )
            return order, None, snipe
        return None, f"gave up at the deadline ({detail or 'no attempt'})", snipe

    def _on_order(self, event: OrderUpdated) -> None:
        # nothing to do unless a snipe is sending (the placement path's every order event):
        # 0.5 -> 0.14 us an event in-process
        if not self._watching or event.kind is not _ACKNOWLEDGED:
            return
        if event.order.request.symbol in self._watching:
            self._acked[event.order.client_order_id] = self.exchange_ms()

    async def _finish(
        self,
        listing: Listing,
        execution: RuleExecution,
        snipe: Snipe,
        order: Order | None,
        position: Position | None,
        detail: str | None,
        *,
        open_ms: float | None = None,
    ) -> None:
        assert execution.id is not None
        outcome = _outcome(order)
        if order is not None and order.executed_qty > 0 and open_ms is not None:
            snipe = replace(snipe, filled_ms=self._relative_ms(open_ms))
        if position is not None:
            if order is not None and order.executed_qty > 0:
                await self._positions.sync_order(order)
            else:
                await self._positions.discard(position)
                snipe = replace(snipe, position_id=None)
        quantity = order.executed_qty if order is not None else None
        spent = order.cumulative_quote_qty if order is not None else None
        average = spent / quantity if spent and quantity else None
        finished = await self._executions.finish(
            execution.id,
            outcome,
            client_order_id=order.client_order_id if order is not None else None,
            position_id=snipe.position_id,
            quantity=quantity,
            quote_spent=spent,
            average_price=average,
            detail=detail,
        )
        snipe = replace(
            snipe,
            outcome=outcome,
            detail=detail,
            client_order_id=order.client_order_id if order is not None else None,
        )
        await self._save(snipe)
        log.info(
            "snipe %s: %s after %d attempt(s); fired %+.1f ms, accepted %s ms after the open%s",
            listing.symbol,
            outcome.value,
            snipe.attempts,
            snipe.fired_ms or 0.0,
            "-" if snipe.accepted_ms is None else f"{snipe.accepted_ms:.1f}",
            f" ({detail})" if detail else "",
        )
        if self._observe is not None:
            for step in ("fired", "accepted", "filled"):
                value = getattr(snipe, f"{step}_ms")
                if value is not None:
                    self._observe(step, value / 1000)
        self._events.publish(
            SnipeFinished(
                listing=listing,
                execution=finished,
                armed_ms=snipe.armed_ms,
                fired_ms=snipe.fired_ms,
                accepted_ms=snipe.accepted_ms,
                filled_ms=snipe.filled_ms,
                attempts=snipe.attempts,
            )
        )


def _outcome(order: Order | None) -> ExecutionOutcome:
    if order is None:
        return ExecutionOutcome.FAILED
    if order.status is OrderStatus.REJECTED:
        return ExecutionOutcome.REJECTED
    if order.executed_qty <= 0:
        return ExecutionOutcome.NOT_FILLED
    if order.status is OrderStatus.FILLED:
        return ExecutionOutcome.FILLED
    return ExecutionOutcome.PARTIALLY_FILLED
