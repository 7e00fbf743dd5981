"""Bringing stored orders in line with the exchange: one exchange report, one transaction.

Both the live path (`ExecutionService.get/cancel`, resolving an unknown submit) and reconciliation
merge exchange reports through here, so there is exactly one way an order's state moves: load the
order with a row lock, apply the report (a monotonic merge, see `Order.apply_exchange_update`),
store the fills that are new (unique per exchange trade id, so replays are harmless), append an
audit entry, commit, then publish. A concurrent writer (the optimistic version check) makes the
whole step start over from a fresh read; exchange calls never happen inside a transaction (on
SQLite every transaction holds the write lock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mexcbot.domain.orders import UNRESOLVED_STATUSES, Fill, IllegalTransition, Order, OrderStatus
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import FillRecorded, OrderUpdated, OrderUpdateKind
from mexcbot.engine.ports import Exchange, OrderReport, TradeReport
from mexcbot.store import ConcurrentOrderUpdate, DuplicateClientOrderId, UnitOfWork
from mexcbot.store.fill_writer import FillWriter

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
_CONCURRENCY_RETRIES = 5

#: A change to an order inside a transaction; returns whether it changed anything.
Mutation = Callable[[Order], bool]


class OrderVanished(Exception):
    """The order row disappeared between two reads (only possible if someone deleted it)."""


@dataclass(slots=True)
class SyncOutcome:
    """What one synchronisation step did."""

    order: Order
    changed: bool = False
    previous_status: OrderStatus | None = None
    new_fills: list[Fill] = field(default_factory=list)
    contradiction: str | None = None


def fill_from_trade(order: Order, trade: TradeReport) -> Fill:
    return Fill(
        exchange_trade_id=trade.trade_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        price=trade.price,
        qty=trade.qty,
        quote_qty=trade.quote_qty,
        commission=trade.commission,
        commission_asset=trade.commission_asset,
        is_maker=trade.is_maker,
        time=trade.at,
    )


def merge_report(order: Order, report: OrderReport) -> bool:
    """Apply `report` to `order`; True if it changed. The order must not be REJECTED."""
    changed = False
    if order.status in UNRESOLVED_STATUSES or order.exchange_order_id is None:
        changed = order.acknowledge(report.exchange_order_id, report.created_at)
    if report.status is None:
        return changed
    return (
        order.apply_exchange_update(
            report.status,
            report.executed_qty,
            report.cumulative_quote_qty,
            report.updated_at,
            exchange_order_id=report.exchange_order_id,
        )
        or changed
    )


def _fills_of(order: Order, trades: Sequence[TradeReport]) -> list[Fill]:
    """The trades of `order`'s exchange order as its fills (others, e.g. before the order is
    acknowledged, are not its own yet)."""
    return [
        fill_from_trade(order, trade)
        for trade in trades
        if trade.exchange_order_id == order.exchange_order_id
    ]


def _merged(order: Order, report: OrderReport) -> SyncOutcome:
    """`report` merged into `order` (changed in place), or the contradiction that stops it: a
    report for an order stored as REJECTED or LOST, or one its state machine refuses (the order
    may then be changed in part: the caller must not store it)."""
    outcome = SyncOutcome(order, previous_status=order.status)
    if order.status in (OrderStatus.REJECTED, OrderStatus.LOST):
        outcome.contradiction = (
            f"stored as {order.status} but the exchange has it as {report.status} "
            f"(exchange id {report.exchange_order_id})"
        )
        log.error("order %s: %s", order.client_order_id, outcome.contradiction)
        return outcome
    try:
        outcome.changed = merge_report(order, report)
    except (IllegalTransition, ValueError) as exc:
        outcome.contradiction = str(exc)
        log.error("order %s: report not applicable: %s", order.client_order_id, exc)
    return outcome


class OrderSync:
    """Transactions that change one order, and the events that follow them."""

    def __init__(
        self,
        exchange: Exchange,
        uow_factory: Callable[[], UnitOfWork],
        events: EventBus,
        *,
        fill_writer: FillWriter | None = None,
    ) -> None:
        """`fill_writer` (app.py) stores pushed trades on the loop (`record_trades`)."""
        self._exchange = exchange
        self._uow_factory = uow_factory
        self._events = events
        self._fill_writer = fill_writer

    async def query(self, order: Order) -> OrderReport:
        """The exchange's report of `order`: by client id, or by exchange id for an imported
        order whose client id was derived (the exchange does not know it)."""
        if order.is_external and order.exchange_order_id is not None:
            return await self._exchange.query(
                order.symbol, exchange_order_id=order.exchange_order_id
            )
        return await self._exchange.query(order.symbol, client_order_id=order.client_order_id)

    async def trades_for(self, order: Order, report: OrderReport) -> list[TradeReport]:
        """The order's trades, fetched only when the report shows executions not yet stored
        (fills and executed quantity always commit together, so stored qty implies stored fills)."""
        if report.executed_qty <= order.executed_qty:
            return []
        return await self._exchange.trades(order.symbol, report.exchange_order_id)

    async def refresh(self, order: Order, *, action: str | None = "order.refresh") -> SyncOutcome:
        """Query the exchange for `order` and merge the answer with its new fills.

        Raises `ExchangeOrderMissing` / `ExchangeUnreachable` from the port unchanged.
        """
        report = await self.query(order)
        trades = await self.trades_for(order, report)
        return await self.apply(order.client_order_id, report, trades, action=action)

    async def mutate(
        self,
        client_order_id: str,
        mutation: Mutation,
        *,
        kind: OrderUpdateKind,
        action: str | None,
        detail: str | None = None,
    ) -> SyncOutcome:
        """Load, `mutation`, audit (unless `action` is None) and commit in one transaction;
        publish if it changed."""
        for _attempt in range(_CONCURRENCY_RETRIES):
            async with self._uow_factory() as uow:
                order = await uow.orders.get_by_client_id(client_order_id, for_update=True)
                if order is None:
                    raise OrderVanished(client_order_id)
                previous = order.status
                if not mutation(order):
                    return SyncOutcome(order, previous_status=previous)
                if action is not None:
                    await uow.audit.append(
                        actor=SYSTEM_ACTOR,
                        action=action,
                        result=order.status.value,
                        target=client_order_id,
                        detail=detail,
                    )
                try:
                    await uow.commit()
                except ConcurrentOrderUpdate:
                    continue
            self._events.publish(OrderUpdated(order, kind))
            return SyncOutcome(order, changed=True, previous_status=previous)
        raise ConcurrentOrderUpdate(client_order_id)

    async def apply(
        self,
        client_order_id: str,
        report: OrderReport,
        trades: Sequence[TradeReport] = (),
        *,
        kind: OrderUpdateKind = OrderUpdateKind.EXCHANGE_UPDATE,
        action: str | None = "order.sync",
    ) -> SyncOutcome:
        """Merge one exchange report and the order's trades; all of it commits together (with
        an audit entry unless `action` is None). With a `FillWriter` the transaction runs on the
        loop (SQLite files: `FillWriter.merge`); otherwise, or when SQLite is locked, through a
        unit of work."""
        writer = self._fill_writer
        if writer is not None:
            outcome = self._apply_on_loop(writer, client_order_id, report, trades, action)
            if outcome is not None:
                if outcome.contradiction is None and (outcome.changed or outcome.new_fills):
                    self.publish(outcome, kind)
                return outcome
        for _attempt in range(_CONCURRENCY_RETRIES):
            async with self._uow_factory() as uow:
                order = await uow.orders.get_by_client_id(client_order_id, for_update=True)
                if order is None:
                    raise OrderVanished(client_order_id)
                outcome = _merged(order, report)
                if outcome.contradiction is not None:
                    return outcome
                for trade in trades:
                    if trade.exchange_order_id != order.exchange_order_id:
                        continue
                    fill = fill_from_trade(order, trade)
                    if await uow.fills.add_if_new(fill):
                        order.record_fill(fill)
                        outcome.new_fills.append(fill)
                if not outcome.changed and not outcome.new_fills:
                    return outcome
                if action is not None:
                    await uow.audit.append(
                        actor=SYSTEM_ACTOR,
                        action=action,
                        result=order.status.value,
                        target=client_order_id,
                        detail=_detail(outcome, report),
                    )
                try:
                    await uow.commit()
                except ConcurrentOrderUpdate:
                    continue
            self.publish(outcome, kind)
            return outcome
        raise ConcurrentOrderUpdate(client_order_id)

    def _apply_on_loop(
        self,
        writer: FillWriter,
        client_order_id: str,
        report: OrderReport,
        trades: Sequence[TradeReport],
        action: str | None,
    ) -> SyncOutcome | None:
        """`apply`'s transaction through `writer` (the same checks, merge, fills and audit); None
        when the loop cannot write now."""
        seen: list[SyncOutcome] = []

        def change(order: Order) -> bool | None:
            outcome = _merged(order, report)
            seen.append(outcome)
            return None if outcome.contradiction is not None else outcome.changed

        def fills_for(order: Order) -> list[Fill]:
            return _fills_of(order, trades)

        def audit(order: Order, new: list[Fill]) -> tuple[str, str, str] | None:
            if action is None:
                return None
            seen[0].new_fills = new
            return SYSTEM_ACTOR, action, _detail(seen[0], report)

        written = writer.merge(client_order_id, change, fills_for, audit)
        if written is None:
            return None
        if written.order is None:
            raise OrderVanished(client_order_id)
        outcome = seen[0]
        outcome.new_fills = written.new_fills
        return outcome

    async def record_trades(
        self, client_order_id: str, trades: Sequence[TradeReport], *, action: str | None
    ) -> SyncOutcome | None:
        """Store pushed trades of an order ahead of the report that raises its executed quantity,
        with their fees, in one transaction; publish them. None if the order is not stored.

        Fills alone may be stored early (more fills than executed quantity is harmless; the
        quantity still only rises with a report whose trades are stored): this is what lets the
        account stream publish a fill when its trade arrives instead of after the order report
        and two more reads (benchmarks/fill_to_client.py: the fill waited ~4-5 ms for them).
        Trades of another exchange order id (e.g. before the order is acknowledged) are left to
        `apply`, like there. As in `apply`, a fee the fills add is not an `OrderUpdated` of its
        own (the `FillRecorded` carries the order with it; the report's update follows). With a
        `FillWriter` the transaction runs on the loop (SQLite files; ~0.3-0.5 ms against
        ~2.5-4 ms through a unit of work); otherwise, or when SQLite is locked, through a unit
        of work.
        """
        if self._fill_writer is not None:

            def fills_for(order: Order) -> list[Fill]:
                if order.status in (OrderStatus.REJECTED, OrderStatus.LOST):
                    return []  # `apply` reports the contradiction with the order report
                return _fills_of(order, trades)

            def audit(_order: Order, new: list[Fill]) -> tuple[str, str, str] | None:
                if action is None:
                    return None
                return SYSTEM_ACTOR, action, f"new fills {len(new)} before the order report"

            written = self._fill_writer.add_fills(client_order_id, fills_for, audit)
            if written is not None:
                if written.order is None:
                    return None
                outcome = SyncOutcome(
                    written.order,
                    previous_status=written.order.status,
                    new_fills=written.new_fills,
                )
                self.publish(outcome, OrderUpdateKind.EXCHANGE_UPDATE)
                return outcome
        for _attempt in range(_CONCURRENCY_RETRIES):
            async with self._uow_factory() as uow:
                order = await uow.orders.get_by_client_id(client_order_id, for_update=True)
                if order is None:
                    return None
                outcome = SyncOutcome(order, previous_status=order.status)
                if order.status in (OrderStatus.REJECTED, OrderStatus.LOST):
                    return outcome  # `apply` reports the contradiction with the order report
                for trade in trades:
                    if trade.exchange_order_id != order.exchange_order_id:
                        continue
                    fill = fill_from_trade(order, trade)
                    if await uow.fills.add_if_new(fill):
                        order.record_fill(fill)
                        outcome.new_fills.append(fill)
                if not outcome.new_fills:
                    return outcome
                if action is not None:
                    await uow.audit.append(
                        actor=SYSTEM_ACTOR,
                        action=action,
                        result=order.status.value,
                        target=client_order_id,
                        detail=f"new fills {len(outcome.new_fills)} before the order report",
                    )
                try:
                    await uow.commit()
                except ConcurrentOrderUpdate:
                    continue
            self.publish(outcome, OrderUpdateKind.EXCHANGE_UPDATE)
            return outcome
        raise ConcurrentOrderUpdate(client_order_id)

    async def resolve_never_received(self, client_order_id: str, *, action: str) -> SyncOutcome:
        """The one way an unresolved order the exchange never received becomes REJECTED (-2013):
        a no-op when a report moved it on meanwhile."""
        return await self.mutate(
            client_order_id,
            Order.resolve_never_received,
            kind=OrderUpdateKind.REJECTED,
            action=action,
            detail="not on the exchange after the grace period: never received",
        )

    async def import_external(
        self, order: Order, report: OrderReport, trades: Sequence[TradeReport]
    ) -> SyncOutcome | None:
        """Store an order found on the exchange; None if it is already stored (a race)."""
        merge_report(order, report)
        outcome = SyncOutcome(order, changed=True, previous_status=None)
        async with self._uow_factory() as uow:
            try:
                await uow.orders.add(order)
            except DuplicateClientOrderId:
                return None
            for trade in trades:
                fill = fill_from_trade(order, trade)
                if await uow.fills.add_if_new(fill):
                    order.record_fill(fill)
                    outcome.new_fills.append(fill)
            await uow.audit.append(
                actor=SYSTEM_ACTOR,
                action="order.import_external",
                result=order.status.value,
                target=order.client_order_id,
                detail=f"exchange id {report.exchange_order_id}",
            )
            await uow.commit()
        self.publish(outcome, OrderUpdateKind.IMPORTED)
        return outcome

    def publish(self, outcome: SyncOutcome, kind: OrderUpdateKind) -> None:
        if outcome.changed:
            self._events.publish(OrderUpdated(outcome.order, kind))
        for fill in outcome.new_fills:
            self._events.publish(FillRecorded(outcome.order, fill))


def _detail(outcome: SyncOutcome, report: OrderReport) -> str:
    status = outcome.order.status
    moved = f"{outcome.previous_status}->{status}" if outcome.previous_status else str(status)
    return (
        f"{moved} executed {report.executed_qty} exchange id {report.exchange_order_id}"
        f" new fills {len(outcome.new_fills)}"
    )


def age_seconds(order: Order, now: datetime) -> float:
    return (now - order.created_at).total_seconds()
