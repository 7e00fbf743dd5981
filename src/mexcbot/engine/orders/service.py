"""ExecutionService: place, cancel and track orders so that none is ever lost.

The one entry point for trading (the API, rules and exits call it). Placing is described in
`mexcbot.engine.orders.placement`; exchange reports are merged by
`mexcbot.engine.orders.sync`;
`reconcile()` (run by `start()` and periodically) is `mexcbot.engine.orders.reconciliation`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from decimal import Decimal

from mexcbot.domain.orders import (
    UNRESOLVED_STATUSES,
    InvalidOrder,
    Order,
    OrderSide,
    OrderStatus,
    PlaceOrder,
)
from mexcbot.domain.symbols import OrderRuleViolation
from mexcbot.engine.bus import EventBus
from mexcbot.engine.collector import CollectorHold
from mexcbot.engine.errors import (
    CancelNotConfirmed,
    ExecutionError,
    OrderNotCancelable,
    OrderNotFound,
)
from mexcbot.engine.events import OrderUpdateKind, ReconciliationFinished
from mexcbot.engine.orders.discovery import DEFAULT_MAX_SYMBOLS, AccountScan, AccountScanner
from mexcbot.engine.orders.open_orders import OpenOrders
from mexcbot.engine.orders.placement import (
    DEFAULT_NEVER_RECEIVED_GRACE,
    DEFAULT_RESOLVE_DELAYS,
    DEFAULT_THROTTLE_RETRIES,
    Placement,
)
from mexcbot.engine.orders.reconciliation import Reconciler
from mexcbot.engine.orders.report import ReconciliationReport
from mexcbot.engine.orders.sync import OrderSync, age_seconds
from mexcbot.engine.ports import (
    Exchange,
    ExchangeOrderMissing,
    ExchangeRejection,
    ExchangeUnreachable,
    OrderWriter,
    SubmitOutcomeUnknown,
)
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.risk import AllowAll, RiskPolicy
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.store import OrderPage, UnitOfWork, UnitOfWorkOrderWriter
from mexcbot.store.audit import PlacementAudit
from mexcbot.store.fill_writer import FillWriter

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ExecutionService:
    """The one entry point for trading. Build one per process (in `app.py`)."""

    def __init__(
        self,
        exchange: Exchange,
        uow_factory: Callable[[], UnitOfWork],
        *,
        events: EventBus,
        writer: OrderWriter | None = None,
        catalog: SymbolCatalog | None = None,
        prices: PriceBook | None = None,
        risk: RiskPolicy | None = None,
        clock: Callable[[], datetime] = _utc_now,
        resolve_delays: tuple[float, ...] = DEFAULT_RESOLVE_DELAYS,
        never_received_grace: float = DEFAULT_NEVER_RECEIVED_GRACE,
        throttle_retries: int = DEFAULT_THROTTLE_RETRIES,
        symbols: Collection[str] = (),
        account_scan_symbols: int = DEFAULT_MAX_SYMBOLS,
        fill_writer: FillWriter | None = None,
        collector: CollectorHold | None = None,
    ) -> None:
        """`symbols` are scanned for external orders even before the bot traded them.

        Every reconciliation also scans the account: the symbols that assets with a locked
        balance point at are asked for open orders, at most `account_scan_symbols` a pass (0: no
        account scan), see `mexcbot.engine.orders.discovery`. Orders found there are imported as
        external: the bot never cancels or changes them unless a user asks (`cancel`).

        `writer` makes the placement hot path durable: app.py passes the store's `OrderJournal`
        (on SQLite ~1.1 ms per order, benchmarks/place_order.py); without one it is a
        `UnitOfWorkOrderWriter` (same guarantees, ~9 ms). `catalog` and `prices` are the
        process's shared `SymbolCatalog` and `PriceBook` (app.py passes them; a service built
        alone gets its own). `fill_writer` stores the account stream's pushed trades on the
        loop (`OrderSync.record_trades`; app.py passes the store's `FillWriter`). `collector`
        holds the garbage collector while an order is placed (app.py passes the process's).
        """
        self._exchange = exchange
        self._uow_factory = uow_factory
        self._events = events
        self._clock = clock
        self._grace = never_received_grace
        self.catalog = catalog or SymbolCatalog(exchange)
        self.prices = prices or PriceBook(exchange)
        self._sync = OrderSync(exchange, uow_factory, events, fill_writer=fill_writer)
        self._fill_writer = fill_writer
        self._open = OpenOrders(uow_factory, events)
        self._placement = Placement(
            exchange,
            writer or UnitOfWorkOrderWriter(uow_factory),
            uow_factory,
            self._sync,
            events,
            catalog=self.catalog,
            prices=self.prices,
            risk=risk or AllowAll(),
            clock=clock,
            resolve_delays=resolve_delays,
            never_received_grace=never_received_grace,
            throttle_retries=throttle_retries,
            collector=collector,
        )
        self._in_flight = self._placement.in_flight
        self._reconciler = Reconciler(
            exchange,
            uow_factory,
            self._sync,
            clock=clock,
            never_received_grace=never_received_grace,
            in_flight=lambda: self._in_flight,
            symbols=symbols,
            scanner=(
                AccountScanner(exchange, self.catalog, max_symbols=account_scan_symbols)
                if account_scan_symbols > 0
                else None
            ),
        )
        self.ready = False
        self.last_reconciliation: ReconciliationReport | None = None

    @property
    def order_sync(self) -> OrderSync:
        """The one path exchange reports take into the database (the account feed merges the
        stream's reports through it)."""
        return self._sync

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> ReconciliationReport:
        """Sync the clock, load the symbol rules and last prices, reconcile; then `ready`."""
        await self._exchange.sync_time()
        await self.catalog.refresh()
        await self._refresh_prices()
        report = await self.reconcile()
        self.ready = True
        return report

    async def refresh_rules(self, symbols: Collection[str] | None = None) -> None:
        """Reload trading rules from the exchange (all symbols when None)."""
        await self.catalog.refresh(symbols)

    async def reconcile(self) -> ReconciliationReport:
        report = await self._reconciler.reconcile()
        self.last_reconciliation = report
        self._events.publish(ReconciliationFinished(report))
        await self._open.load()  # closes any gap the events left, as the pass did
        return report

    async def run_reconciliation_loop(self, interval: float) -> None:
        """Reconcile (and refresh last prices) every `interval` seconds until cancelled; a
        failed pass is logged only."""
        while True:
            await asyncio.sleep(interval)
            await self._refresh_prices()
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciliation failed; retrying in %s s", interval)

    async def _refresh_prices(self) -> None:
        try:
            await self.prices.refresh()
        except Exception as exc:  # only local price-band checks wait for the next refresh
            log.warning("last prices not loaded: %s", exc)

    # --- placing -----------------------------------------------------------------------------

    async def place(self, command: PlaceOrder, *, audit: PlacementAudit | None = None) -> Order:
        """Place one order; see `mexcbot.engine.orders.placement` for the outcomes and errors.

        With `command.idempotency_key` the client order id is derived from it, and a repeat of
        the key returns (or raises) what the first placement did instead of placing another.
        `audit` (the API's entry for the placing request) commits with the order's
        acknowledgement; `audit.recorded` says whether it did.
        """
        return await self._placement.place(command, audit)

    # --- cancelling and reading --------------------------------------------------------------

    async def cancel_rest(self, order: Order) -> Order:
        """Cancel what an order sent as an emulated IOC (a LIMIT where the symbol refuses
        IMMEDIATE_OR_CANCEL) left on the book: the order as the exchange left it. A cancel that
        fails (it filled first, the exchange is unreachable) is answered by a read."""
        if order.is_terminal:
            return order
        try:
            return await self.cancel(order.symbol, order.client_order_id)
        except ExecutionError as exc:
            log.warning("order %s: its rest not cancelled: %s", order.client_order_id, exc)
            return await self.get(order.symbol, order.client_order_id)

    async def cancel(self, symbol: str, order_ref: str) -> Order:
        """Cancel by client or exchange order id; returns the order as the exchange left it.

        Raises `OrderNotFound`, or `OrderNotCancelable` when the order is final (e.g. it filled
        first) or the exchange does not have it (yet). If the cancel's outcome is unknown the
        order is queried: final -> returned; still open (or the exchange unreachable) ->
        `CancelNotConfirmed`, never a success that did not happen.
        """
        order = await self._find(symbol, order_ref)
        if order.status in UNRESOLVED_STATUSES:
            order = await self.get(symbol, order.client_order_id)
            if order.status in UNRESOLVED_STATUSES:
                raise OrderNotCancelable(order, "the exchange does not show the order yet")
        if order.is_terminal:
            raise OrderNotCancelable(order, f"it is already {order.status}")
        ids = _exchange_ref(order)
        try:
            report = await self._exchange.cancel(symbol, **ids)
        except (ExchangeOrderMissing, SubmitOutcomeUnknown, ExchangeUnreachable) as exc:
            log.info("cancel %s: %s; querying", order.client_order_id, exc)
            refreshed = await self.get(symbol, order.client_order_id)
            if refreshed.is_terminal:
                self._open.apply(refreshed)
                return refreshed
            if isinstance(exc, ExchangeOrderMissing):
                raise OrderNotCancelable(refreshed, "the exchange has no open order") from None
            raise CancelNotConfirmed(refreshed, str(exc)) from None
        except ExchangeRejection as exc:
            raise OrderNotCancelable(order, f"exchange refused: {exc.code} {exc.message}") from None
        trades = await self._sync.trades_for(order, report)
        outcome = await self._sync.apply(
            order.client_order_id,
            report,
            trades,
            kind=OrderUpdateKind.CANCELED,
            action="order.cancel",
        )
        # The stream may have stored the cancel first, and its event may still be on its way:
        # the caller's next read of the open orders must not show what it just cancelled.
        self._open.apply(outcome.order)
        return outcome.order

    async def get(self, symbol: str, order_ref: str, *, refresh: bool = True) -> Order:
        """The order by client or exchange id; `refresh` merges the exchange's current report
        and new fills first (only for orders that are not final). `OrderNotFound` if unknown."""
        order = await self._find(symbol, order_ref)
        if not refresh or order.is_terminal or order.client_order_id in self._in_flight:
            return order
        try:
            return (await self._sync.refresh(order)).order
        except ExchangeOrderMissing:
            unresolved = order.status in UNRESOLVED_STATUSES
            if unresolved and age_seconds(order, self._clock()) >= self._grace:
                report = ReconciliationReport(started_at=self._clock())
                await self._reconciler.resolve(order, report, final=True)
                return await self._stored_or_fail(order.client_order_id)
            return order
        except ExchangeUnreachable as exc:
            log.warning("refresh %s: exchange unreachable: %s", order.client_order_id, exc)
            return order

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders resting on the exchange as far as the database knows (kept current by
        reconciliation and `get`), of one symbol or (None) of all: from the engine's in-memory
        view of them (`OpenOrders`), loaded from the database on first use."""
        if not self._open.loaded:
            await self._open.load()
        return self._open.of(symbol)

    async def history(self, symbol: str, *, limit: int = 50, offset: int = 0) -> list[Order]:
        async with self._uow_factory() as uow:
            return await uow.orders.history(symbol, limit=limit, offset=offset)

    async def list_orders(
        self,
        *,
        status: OrderStatus | Collection[OrderStatus] | None = None,
        symbol: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> OrderPage:
        """Orders newest first, cursor-paged (`OrderPage.next_cursor`)."""
        statuses = [status] if isinstance(status, OrderStatus) else status
        async with self._uow_factory() as uow:
            return await uow.orders.list(
                status=statuses, symbol=symbol, since=since, limit=limit, cursor=cursor
            )

    @property
    def last_account_scan(self) -> AccountScan | None:
        """When the account was last scanned for orders placed outside the bot, and which
        symbols were asked (None before the first scan succeeded)."""
        return self._reconciler.last_account_scan

    async def count_open_external(self) -> int:
        """How many orders placed outside the bot are open (NEW, PARTIALLY_FILLED) as far as the
        database knows."""
        async with self._uow_factory() as uow:
            return await uow.orders.count_open_external()

    async def count_lost(self) -> int:
        """How many orders the exchange lost (acknowledged, then unknown to it): status LOST."""
        async with self._uow_factory() as uow:
            return await uow.orders.count(OrderStatus.LOST)

    async def calculate_quantity(
        self, symbol: str, side: OrderSide, quote_amount: Decimal
    ) -> Decimal:
        """The largest valid quantity `quote_amount` buys (BUY, at the best ask) or that sells
        for about `quote_amount` (SELL, at the best bid); the last price when the book is empty."""
        if not (quote_amount.is_finite() and quote_amount > 0):
            raise InvalidOrder(
                f"quote_amount must be a positive number; got {quote_amount}", field="quote_amount"
            )
        rules = await self.catalog.get(symbol)
        quote = await self._exchange.price_quote(symbol)
        if quote.last is not None:
            self.prices.update(symbol, quote.last)
        price = (quote.ask if side is OrderSide.BUY else quote.bid) or quote.last
        if price is None or price <= 0:
            raise InvalidOrder(
                f"symbol {symbol} has no price to convert quote_amount with", field="symbol"
            )
        quantity = rules.quantity_for_quote(quote_amount, price)
        if quantity <= 0 or quantity < rules.min_quantity:
            raise OrderRuleViolation(
                symbol,
                "quote_amount",
                "min_quantity",
                f"{quote_amount} buys {quantity} at {price}, below minimum {rules.min_quantity}",
            )
        return quantity

    # --- helpers -----------------------------------------------------------------------------

    async def _stored_or_fail(self, client_order_id: str) -> Order:
        async with self._uow_factory() as uow:
            order = await uow.orders.get_by_client_id(client_order_id)
        if order is None:
            raise OrderNotFound("?", client_order_id)
        return order

    async def _find(self, symbol: str, order_ref: str) -> Order:
        if self._fill_writer is not None:  # a client order id read on the loop (SQLite files)
            stored = self._fill_writer.load(order_ref)
            if isinstance(stored, Order) and stored.symbol == symbol:
                return stored
        async with self._uow_factory() as uow:
            order = await uow.orders.get_by_client_id(order_ref)
            if order is None or order.symbol != symbol:
                order = await uow.orders.get_by_exchange_id(order_ref, symbol)
        if order is None:
            raise OrderNotFound(symbol, order_ref)
        return order


def _exchange_ref(order: Order) -> dict[str, str | None]:
    if order.is_external and order.exchange_order_id is not None:
        return {"exchange_order_id": order.exchange_order_id}
    return {"client_order_id": order.client_order_id}
