"""Reconciliation: make the database agree with the exchange, order by order.

Crash-only: the bot runs this at every start and periodically, and it is the same code that
recovers from a crash at any instant. It

1. resolves every non-terminal order (PENDING_NEW, UNKNOWN, NEW, PARTIALLY_FILLED) by querying its
   client order id; executions come with their fills (myTrades by order id, stored once per trade
   id). An order the exchange does not have after a grace period was never received and becomes
   REJECTED (-2013): it is never re-sent, because a re-send is a new decision, not a recovery.
   An acknowledged order (NEW, PARTIALLY_FILLED) that the exchange neither lists as open nor
   knows when queried was lost by the exchange: it becomes LOST (final, logged, counted, shown in
   /api/v1/status), never left NEW forever. PENDING_NEW orders this process is submitting right
   now are left to their submitter.
2. scans the open and recent orders of every symbol the bot trades: an order the database does
   not know is imported as external; a known order whose stored state lags is corrected.
3. asks for the open orders of the symbols the account scan points at (assets with a locked
   balance, see `mexcbot.engine.orders.discovery`; bounded per pass) and imports those the
   database does not know as external, so an order placed by hand on a symbol the bot never
   traded is adopted at startup and within one interval after. Once imported, its symbol is one
   the bot trades (step 2) and its fills are merged like any other order's.

Every correction is one transaction (order + fills + audit entry) and is counted in the
`ReconciliationReport` so the metrics can show discrepancies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta

from mexcbot.domain.orders import (
    OPEN_STATUSES,
    UNRESOLVED_STATUSES,
    InvalidOrder,
    Order,
    OrderStatus,
)
from mexcbot.engine.events import OrderUpdateKind
from mexcbot.engine.orders.discovery import AccountScan, AccountScanner
from mexcbot.engine.orders.report import ReconciliationReport
from mexcbot.engine.orders.sync import OrderSync, SyncOutcome, age_seconds
from mexcbot.engine.ports import (
    Exchange,
    ExchangeOrderMissing,
    ExchangePortError,
    ExchangeUnreachable,
    OrderReport,
)
from mexcbot.store import UnitOfWork

log = logging.getLogger(__name__)

#: How far back the database is compared with the exchange's recent orders (allOrders: 24 h).
_RECENT_WINDOW = timedelta(days=2)
_PAGE = 1000
LOST_REASON = (
    "the exchange no longer knows this acknowledged order (not open, query: no such order)"
)


class Reconciler:
    """One reconciliation pass at a time (a lock serialises overlapping calls)."""

    def __init__(
        self,
        exchange: Exchange,
        uow_factory: Callable[[], UnitOfWork],
        sync: OrderSync,
        *,
        clock: Callable[[], datetime],
        never_received_grace: float,
        in_flight: Callable[[], Collection[str]] = frozenset,
        symbols: Iterable[str] = (),
        scanner: AccountScanner | None = None,
    ) -> None:
        self._exchange = exchange
        self._uow_factory = uow_factory
        self._sync = sync
        self._clock = clock
        self._grace = never_received_grace
        self._in_flight = in_flight
        self._extra_symbols = tuple(symbols)
        self._scanner = scanner
        self._lock = asyncio.Lock()
        self.last_account_scan: AccountScan | None = None
        """The last account scan that succeeded (None before the first)."""

    async def reconcile(self) -> ReconciliationReport:
        async with self._lock:
            report = ReconciliationReport(started_at=self._clock())
            async with self._uow_factory() as uow:
                pending = await uow.orders.list_non_terminal()
                symbols = sorted(set(await uow.orders.symbols()) | set(self._extra_symbols))
            report.symbols = symbols
            open_lists = await self._open_orders(symbols, report)
            young: list[Order] = []
            for order in pending:
                listing = open_lists.get(order.symbol)
                listed = listing.find(order) if listing is not None else None
                if listed is not None:
                    await self._merge_listed(order, listed, report)
                elif not await self.resolve(order, report, final=False):
                    young.append(order)
            if young:
                oldest_age = min(age_seconds(o, self._clock()) for o in young)
                await asyncio.sleep(max(0.0, self._grace - oldest_age))
                for order in young:
                    await self.resolve(order, report, final=True)
            for symbol in symbols:
                listing = open_lists.get(symbol)
                await self._scan_symbol(symbol, listing.reports if listing else None, report)
            await self._scan_account(symbols, report)
            async with self._uow_factory() as uow:
                left = await uow.orders.list_non_terminal()
            report.unresolved = sum(1 for o in left if o.status in UNRESOLVED_STATUSES)
            report.finished_at = self._clock()
            return report

    async def _open_orders(
        self, symbols: list[str], report: ReconciliationReport
    ) -> dict[str, _OpenListing]:
        """One openOrders call per symbol: an order still open needs no query of its own (a
        query per order would spend MEXC's rate-limit budget, 2 weight each, on 500 orders)."""
        lists: dict[str, _OpenListing] = {}
        for symbol in symbols:
            try:
                lists[symbol] = _OpenListing(await self._exchange.open_orders(symbol))
            except ExchangeUnreachable as exc:
                report.errors += 1
                log.warning("reconcile %s: cannot list open orders: %s", symbol, exc)
        return lists

    async def _merge_listed(
        self, order: Order, listed: OrderReport, report: ReconciliationReport
    ) -> None:
        if order.client_order_id in self._in_flight():
            return
        report.orders_checked += 1
        if _lags(order, listed):
            await self._apply(order, listed, report)

    async def resolve(self, order: Order, report: ReconciliationReport, *, final: bool) -> bool:
        """Bring one non-terminal order up to date. False when it is a PENDING_NEW/UNKNOWN
        order the exchange does not show yet and the grace period has not passed (and `final`
        is False): the caller retries it later."""
        if order.client_order_id in self._in_flight():
            return True
        report.orders_checked += 1
        try:
            exchange_report = await self._sync.query(order)
        except ExchangeOrderMissing:
            return await self._missing(order, report, final=final)
        except ExchangeUnreachable as exc:
            report.errors += 1
            log.warning("reconcile %s: exchange unreachable: %s", order.client_order_id, exc)
            return True
        await self._apply(order, exchange_report, report)
        return True

    async def _missing(self, order: Order, report: ReconciliationReport, *, final: bool) -> bool:
        if age_seconds(order, self._clock()) < self._grace and not final:
            return False
        if order.status not in UNRESOLVED_STATUSES:
            outcome = await self._sync.mutate(
                order.client_order_id,
                lambda o: o.mark_lost(LOST_REASON) if o.status in OPEN_STATUSES else False,
                kind=OrderUpdateKind.LOST,
                action="order.reconcile",
                detail=LOST_REASON,
            )
            if outcome.changed:
                report.lost_on_exchange += 1
                log.warning(
                    "order %s was %s in the database but the exchange no longer knows it: "
                    "marked LOST",
                    order.client_order_id,
                    outcome.previous_status,
                )
            return True
        outcome = await self._sync.resolve_never_received(
            order.client_order_id, action="order.reconcile"
        )
        if outcome.changed:
            report.rejected_never_received += 1
        return True

    async def _apply(
        self, order: Order, exchange_report: OrderReport, report: ReconciliationReport
    ) -> SyncOutcome:
        try:
            trades = await self._sync.trades_for(order, exchange_report)
        except ExchangeUnreachable:
            report.errors += 1
            trades = []
        outcome = await self._sync.apply(
            order.client_order_id, exchange_report, trades, action="order.reconcile"
        )
        self._count(outcome, report)
        return outcome

    @staticmethod
    def _count(outcome: SyncOutcome, report: ReconciliationReport) -> None:
        report.fills_recorded += len(outcome.new_fills)
        if outcome.contradiction is not None:
            report.contradictions += 1
        elif not outcome.changed:
            return
        elif outcome.previous_status in UNRESOLVED_STATUSES:
            report.resolved_unknown += 1
        elif outcome.previous_status is not outcome.order.status:
            report.status_corrections += 1
        else:
            report.quantity_corrections += 1

    async def _scan_symbol(
        self,
        symbol: str,
        open_now: list[OrderReport] | None,
        report: ReconciliationReport,
        *,
        recent: bool = True,
    ) -> None:
        try:
            recent_orders = await self._exchange.recent_orders(symbol) if recent else []
            if open_now is None:
                open_now = await self._exchange.open_orders(symbol)
        except ExchangeUnreachable as exc:
            report.errors += 1
            log.warning("reconcile %s: cannot list exchange orders: %s", symbol, exc)
            return
        by_id = {o.exchange_order_id: o for o in recent_orders}
        by_id.update({o.exchange_order_id: o for o in open_now})
        by_client, by_exchange = await self._stored(symbol)
        in_flight = self._in_flight()
        for exchange_report in by_id.values():
            stored = by_exchange.get(exchange_report.exchange_order_id)
            if stored is None and exchange_report.client_order_id is not None:
                if exchange_report.client_order_id in in_flight:
                    continue  # its submitter records it
                stored = by_client.get(exchange_report.client_order_id)
            if stored is None:
                await self._import(exchange_report, report)
            elif _lags(stored, exchange_report):
                await self._apply(stored, exchange_report, report)

    async def _scan_account(self, tracked: list[str], report: ReconciliationReport) -> None:
        """Open orders on the symbols locked balances point at (only openOrders: allOrders
        costs 10 weight a symbol); the unknown ones are imported as external."""
        if self._scanner is None:
            return
        try:
            scan = await self._scanner.scan(tracked=tracked, at=self._clock())
        except ExchangePortError as exc:
            report.errors += 1
            log.warning("reconcile: cannot scan the account for locked balances: %s", exc)
            return
        if scan is None:
            return  # scanned less than a second ago
        self.last_account_scan = scan
        report.account_scan = scan
        if scan.truncated:
            log.info(
                "account scan: %d symbols may hold open orders, %d asked this pass",
                scan.candidates,
                len(scan.symbols),
            )
        for symbol in scan.symbols:
            try:
                open_now = await self._exchange.open_orders(symbol)
            except ExchangeUnreachable as exc:
                report.errors += 1
                log.warning("account scan %s: cannot list open orders: %s", symbol, exc)
                continue
            if open_now:
                await self._scan_symbol(symbol, open_now, report, recent=False)

    async def _stored(self, symbol: str) -> tuple[dict[str, Order], dict[str, Order]]:
        """Recent orders of `symbol` by client id and by exchange id."""
        since = self._clock() - _RECENT_WINDOW
        by_client: dict[str, Order] = {}
        cursor: str | None = None
        async with self._uow_factory() as uow:
            while True:
                page = await uow.orders.list(symbol=symbol, since=since, limit=_PAGE, cursor=cursor)
                by_client.update((o.client_order_id, o) for o in page.orders)
                cursor = page.next_cursor
                if cursor is None:
                    break
        by_exchange = {o.exchange_order_id: o for o in by_client.values() if o.exchange_order_id}
        return by_client, by_exchange

    async def _import(self, exchange_report: OrderReport, report: ReconciliationReport) -> None:
        async with self._uow_factory() as uow:
            known = await uow.orders.get_by_exchange_id(
                exchange_report.exchange_order_id, exchange_report.symbol
            )
            if known is None and exchange_report.client_order_id:
                known = await uow.orders.get_by_client_id(exchange_report.client_order_id)
        if known is not None:
            if _lags(known, exchange_report):
                await self._apply(known, exchange_report, report)
            return
        try:
            order = _external(exchange_report)
        except InvalidOrder as exc:
            report.errors += 1
            log.error("cannot import exchange order %s: %s", exchange_report.exchange_order_id, exc)
            return
        try:
            trades = await self._sync.trades_for(order, exchange_report)
        except ExchangeUnreachable:
            report.errors += 1
            return
        outcome = await self._sync.import_external(order, exchange_report, trades)
        if outcome is not None:
            report.imported_external += 1
            report.fills_recorded += len(outcome.new_fills)


def _external(exchange_report: OrderReport) -> Order:
    return Order.import_external(
        symbol=exchange_report.symbol,
        side=exchange_report.side,
        type=exchange_report.type,
        exchange_order_id=exchange_report.exchange_order_id,
        client_order_id=exchange_report.client_order_id,
        quantity=exchange_report.quantity,
        quote_amount=exchange_report.quote_amount if exchange_report.quantity is None else None,
        price=exchange_report.price,
        created_at=exchange_report.created_at,
        time_in_force=exchange_report.time_in_force,
    )


class _OpenListing:
    """A symbol's open orders as the exchange listed them, indexed by both ids."""

    def __init__(self, reports: list[OrderReport]) -> None:
        self.reports = reports
        self._by_exchange_id = {r.exchange_order_id: r for r in reports}
        self._by_client_id = {r.client_order_id: r for r in reports if r.client_order_id}

    def find(self, order: Order) -> OrderReport | None:
        if order.exchange_order_id is not None:
            listed = self._by_exchange_id.get(order.exchange_order_id)
            if listed is not None:
                return listed
        return None if order.is_external else self._by_client_id.get(order.client_order_id)


def _lags(stored: Order, exchange_report: OrderReport) -> bool:
    """True when the exchange knows more about the order than the database does."""
    if exchange_report.status is None:
        return False
    if stored.status in (OrderStatus.REJECTED, OrderStatus.LOST):
        return True  # a contradiction: let the sync step record and count it
    if exchange_report.executed_qty > stored.executed_qty:
        return True
    return exchange_report.status is not stored.status and not stored.is_terminal
