"""AccountFeed: the account stream drives the stored orders; REST reconciliation closes its gaps.

Every order change and execution the exchange pushes is merged through `OrderSync.apply`, the same
idempotent path REST reconciliation uses: a fill is stored once per trade id however often and
from whichever source it arrives, and statuses only move forward.

One invariant decides the order of writes: an order's executed quantity and its fills commit
together, because `OrderSync.trades_for` reads "stored quantity" as "stored fills" and never asks
the exchange for trades it believes it has. The exchange pushes an order's new quantity and the
trades behind it as separate frames, in either order. So an order report that raises the executed
quantity waits here until the pushed trades cover it, and is then applied with them. A pushed
trade itself is stored and published at once (`OrderSync.record_trades`; fills alone may be stored
early: more fills than quantity is harmless), so a fill reaches the bus without waiting for its
order's report. If the rest never arrives (a gap), the reconciliation the gap triggers, or the
periodic one, reads both over REST.

Every (re)connect publishes `StreamStatusChanged` and reconciles: pushes missed while disconnected
are gone, and nothing is assumed from silence. An order the database does not know (placed outside
the bot) is left to reconciliation, which imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from mexcbot.domain.orders import Order, OrderStatus
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import BalanceChanged, FillRecorded, OrderUpdated
from mexcbot.engine.orders.sync import OrderSync
from mexcbot.engine.ports import (
    AccountUpdate,
    BalanceReport,
    Exchange,
    OrderReport,
    StreamGap,
    StreamResumed,
    TradeReport,
)
from mexcbot.engine.stream_health import StreamHealth, follow, utc_now
from mexcbot.store import UnitOfWork

log = logging.getLogger(__name__)

SYNC_ACTION = "order.stream"
_REMEMBERED_ORDERS = 10_000


class AccountFeed:
    """Follows `exchange.account_updates()` until cancelled (`run`); `health` is its state."""

    def __init__(
        self,
        exchange: Exchange,
        sync: OrderSync,
        uow_factory: Callable[[], UnitOfWork],
        events: EventBus,
        *,
        reconcile: Callable[[], Awaitable[object]],
        health: StreamHealth | None = None,
    ) -> None:
        """`uow_factory` serves its reads only (every merge goes through `sync`): app.py gives
        it deferred units of work, which take no write lock on SQLite. `reconcile` is
        `ExecutionService.reconcile` (run at every (re)connect)."""
        self._exchange = exchange
        self._sync = sync
        self._uow_factory = uow_factory
        self._events = events
        self._reconcile = reconcile
        self.health = health or StreamHealth("user")
        self._trades: dict[str, dict[str, TradeReport]] = {}
        """Pushed trades not yet applied, by exchange order id, then trade id."""
        self._waiting: dict[str, OrderReport] = {}
        """The newest report per exchange order id that waits for its trades."""
        self._stored_state: dict[str, tuple[OrderStatus, Decimal]] = {}
        """(status, executed quantity) per exchange order id as last committed, from the bus:
        a push that says only that is skipped without a database round trip. Every order the
        bot places is pushed back at least once (ENTRUST_PLACE): measured with
        benchmarks/api_orders.py, those two reads per order cost the API path ~0.2 ms."""
        self._client_ids: dict[str, str] = {}
        """The stored client order id per exchange order id, from the bus (an external order's
        differs from the one its pushes carry)."""
        self._committed_fills: dict[str, dict[str, Decimal]] = {}
        """Quantity per trade id of the fills the bus reported committed, per client order id:
        a subset of the stored fills, so a report they cover needs no read of them
        (measured: the read was one ~1 ms unit of work per report on the fill path)."""
        events.subscribe(OrderUpdated, self._remember)
        events.subscribe(FillRecorded, self._remember_fill)

    async def run(self) -> None:
        await follow(self._exchange.account_updates, self.handle, self._stream_failed)

    async def handle(self, update: AccountUpdate) -> None:
        match update:
            case OrderReport():
                self.health.message()
                await self._on_order(update)
            case TradeReport():
                self.health.message()
                await self._on_trade(update)
            case BalanceReport():
                self.health.message()
                self._events.publish(
                    BalanceChanged(update.asset, update.free, update.locked, update.at)
                )
            case StreamGap():
                self._events.publish(self.health.lost(update.reason, update.at))
            case StreamResumed():
                self._events.publish(self.health.resumed(update.at))
                await self._close_gap()

    # --- orders and fills ------------------------------------------------------------------------

    def _remember_fill(self, event: FillRecorded) -> None:
        fills = self._committed_fills.get(event.order.client_order_id)
        if fills is None:
            if len(self._committed_fills) >= _REMEMBERED_ORDERS:
                del self._committed_fills[next(iter(self._committed_fills))]  # the oldest
            fills = self._committed_fills[event.order.client_order_id] = {}
        fills[event.fill.exchange_trade_id] = event.fill.qty

    def _remember(self, event: OrderUpdated) -> None:
        order = event.order
        key = order.exchange_order_id
        if key is None:
            return
        states, client_ids = self._stored_state, self._client_ids
        if len(states) >= _REMEMBERED_ORDERS:
            del states[next(iter(states))]  # the oldest
        if len(client_ids) >= _REMEMBERED_ORDERS:
            del client_ids[next(iter(client_ids))]
        states[key] = (order.status, order.executed_qty)
        client_ids[key] = order.request.client_order_id

    async def _on_order(self, report: OrderReport) -> None:
        key = report.exchange_order_id
        if (
            report.status is not None
            and key not in self._waiting
            and self._stored_state.get(key) == (report.status, report.executed_qty)
        ):
            return  # nothing the database does not already hold
        client_order_id, executed_qty = self._client_ids.get(key), None
        if client_order_id is not None and key in self._stored_state:
            executed_qty = self._stored_state[key][1]
        else:
            order = await self._stored(report.client_order_id, key, report.symbol)
            if order is None:
                log.info(
                    "stream: order %s on %s is not stored; reconciliation imports it",
                    report.exchange_order_id,
                    report.symbol,
                )
                return
            client_order_id, executed_qty = order.client_order_id, order.executed_qty
        waiting = self._waiting.get(report.exchange_order_id)
        if waiting is not None and waiting.executed_qty > report.executed_qty:
            report = waiting  # a stale push: the newer report still waits for its trades
        await self._merge(client_order_id, executed_qty, report)

    async def _on_trade(self, trade: TradeReport) -> None:
        """Store and publish the trade at once (`OrderSync.record_trades`), then apply a report
        that waited for it. The order is found by the client order id the bot knows for this
        exchange id (from the bus), else the one the push carries, else by a read."""
        known = self._client_ids.get(trade.exchange_order_id) or trade.client_order_id
        outcome = None
        if known is not None:
            outcome = await self._sync.record_trades(known, [trade], action=SYNC_ACTION)
        if outcome is None or outcome.order.exchange_order_id != trade.exchange_order_id:
            # not stored under that id, or not (yet) acknowledged as this exchange order
            stored = await self._stored(
                trade.client_order_id, trade.exchange_order_id, trade.symbol
            )
            if stored is None:
                log.info("stream: trade %s of an order not stored; left to reconciliation", trade)
                return
            if outcome is None or stored.client_order_id != outcome.order.client_order_id:
                outcome = await self._sync.record_trades(
                    stored.client_order_id, [trade], action=SYNC_ACTION
                )
            if outcome is None:  # pragma: no cover - deleted between two reads
                return
        order = outcome.order
        self._trades.setdefault(trade.exchange_order_id, {})[trade.trade_id] = trade
        waiting = self._waiting.get(trade.exchange_order_id)
        if waiting is not None:
            await self._merge(order.client_order_id, order.executed_qty, waiting)

    async def _merge(
        self, client_order_id: str, executed_qty: Decimal, report: OrderReport
    ) -> None:
        """Apply `report` with the pushed trades of its order, unless it raises the executed
        quantity beyond what stored and pushed fills cover: then it waits for more trades.

        `executed_qty` may be older than the row (the bus's last word): `apply` reloads and
        merges monotonically, so a low one only costs a coverage check. Coverage is first
        counted from the fills the bus saw committed (never more than are stored, so enough
        there is enough); only when that falls short are the stored fills read."""
        key = report.exchange_order_id
        trades = list(self._trades.get(key, {}).values())
        if report.executed_qty > executed_qty:
            covered = _covered(self._committed_fills.get(client_order_id, {}), trades)
            if covered < report.executed_qty:
                covered = await self._covered_qty(client_order_id, trades)
            if covered < report.executed_qty:
                self._waiting[key] = report
                return
        self._waiting.pop(key, None)
        outcome = await self._sync.apply(client_order_id, report, trades, action=SYNC_ACTION)
        if outcome.contradiction is None:
            self._trades.pop(key, None)

    async def _covered_qty(self, client_order_id: str, trades: list[TradeReport]) -> Decimal:
        """The quantity the stored fills and the not yet stored pushed trades add up to."""
        async with self._uow_factory() as uow:
            stored = await uow.fills.list_for_order(client_order_id)
        stored_ids = {fill.exchange_trade_id for fill in stored}
        pushed = sum((t.qty for t in trades if t.trade_id not in stored_ids), Decimal(0))
        return sum((fill.qty for fill in stored), Decimal(0)) + pushed

    async def _stored(
        self, client_order_id: str | None, exchange_order_id: str, symbol: str
    ) -> Order | None:
        async with self._uow_factory() as uow:
            order = None
            if client_order_id is not None:
                order = await uow.orders.get_by_client_id(client_order_id)
            if order is None:
                order = await uow.orders.get_by_exchange_id(exchange_order_id, symbol)
        return order

    # --- gaps ------------------------------------------------------------------------------------

    async def _close_gap(self) -> None:
        """Reconcile over REST after a (re)connect. Waiting reports and trades are dropped:
        reconciliation reads their orders' reports and trades (the stored quantity was not
        raised without them), and later pushes start afresh."""
        self._waiting.clear()
        self._trades.clear()
        try:
            await self._reconcile()
        except Exception:
            log.exception(
                "reconciliation after a stream (re)connect failed; the periodic one follows"
            )

    async def _stream_failed(self, reason: str) -> None:
        if self.health.connected:
            self._events.publish(self.health.lost(reason, utc_now()))


def _covered(committed: dict[str, Decimal], trades: list[TradeReport]) -> Decimal:
    """Committed fills plus the pushed trades not among them."""
    pushed = sum((t.qty for t in trades if t.trade_id not in committed), Decimal(0))
    return sum(committed.values(), Decimal(0)) + pushed
