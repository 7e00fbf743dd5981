"""AccountFeed against mexcsim over real sockets: the user stream drives the stored orders, and the
reconciliation a gap triggers recovers what the stream missed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Protocol

import pytest

from mexcbot.domain.orders import Order, OrderSide, OrderStatus, OrderType, PlaceOrder
from mexcbot.engine.account_feed import AccountFeed
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import (
    BalanceChanged,
    FillRecorded,
    ReconciliationFinished,
    StreamStatusChanged,
)
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.ports import OrderReport, TradeReport
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.mexc.streams import StreamConfig
from mexcbot.store import OrderJournal, UnitOfWork
from mexcbot.store.fill_writer import FillWriter
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan
from tests.fixtures.engine_timing import GRACE_S, RESOLVE_DELAYS, client_config

D = Decimal
SYMBOL = "BTCUSDT"
QTY = D("0.001")
OTHER = "other-account"
#: Order reads a reconciliation or a refresh makes; the stream path must make none of them.
ORDER_READS = ("GET /api/v3/order", "GET /api/v3/myTrades", "GET /api/v3/openOrders")


def ws_url(sim: SimServer) -> str:
    return sim.url.replace("http://", "ws://") + "/ws"


def stream_config(sim: SimServer, reconnect_s: float) -> StreamConfig:
    """Fast reconnects (jitter off): a test that needs a fill during a gap asks for a slow one."""
    return StreamConfig(
        url=ws_url(sim),
        reconnect_initial_s=reconnect_s,
        reconnect_max_s=reconnect_s,
        reconnect_jitter=0,
    )


class Bot:
    """An ExecutionService and its AccountFeed on one database, as app.py wires them."""

    def __init__(
        self,
        exchange: MexcExchange,
        service: ExecutionService,
        feed: AccountFeed,
        requests: list[str],
    ) -> None:
        self.exchange = exchange
        self.service = service
        self.feed = feed
        self.requests = requests
        """Every REST request the bot made (endpoint keys), to prove the stream path reads none."""


@contextlib.asynccontextmanager
async def running_bot(
    sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    journal: OrderJournal,
    events: EventBus,
    *,
    reconnect_s: float = 0.05,
    follow_stream: bool = True,
    fill_writer: FillWriter | None = None,
) -> AsyncIterator[Bot]:
    requests: list[str] = []
    async with MexcClient(
        client_config(sim.url), on_request=lambda endpoint, _s: requests.append(endpoint)
    ) as client:
        exchange = MexcExchange(client, stream_config(sim, reconnect_s))
        service = ExecutionService(
            exchange,
            uow_factory,
            events=events,
            writer=journal,
            fill_writer=fill_writer,
            resolve_delays=RESOLVE_DELAYS,
            never_received_grace=GRACE_S,
        )
        await service.start()
        feed = AccountFeed(
            exchange, service.order_sync, uow_factory, events, reconcile=service.reconcile
        )
        task = asyncio.create_task(feed.run() if follow_stream else asyncio.sleep(0))
        try:
            yield Bot(exchange, service, feed, requests)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


async def stored(uow_factory: Callable[[], UnitOfWork], client_order_id: str) -> Order:
    async with uow_factory() as uow:
        order = await uow.orders.get_by_client_id(client_order_id)
    assert order is not None
    return order


async def fills_of(uow_factory: Callable[[], UnitOfWork], client_order_id: str) -> list[D]:
    async with uow_factory() as uow:
        return [fill.qty for fill in await uow.fills.list_for_order(client_order_id)]


async def place_resting_buy(service: ExecutionService, qty: D = QTY) -> tuple[Order, D]:
    """A limit BUY well below the market: it rests until someone sells at its price."""
    price = service.prices.last(SYMBOL)
    assert price is not None
    limit = (price * D("0.9")).quantize(D("0.01"))
    order = await service.place(
        PlaceOrder(
            symbol=SYMBOL, side=OrderSide.BUY, type=OrderType.LIMIT, quantity=qty, price=limit
        )
    )
    assert order.status is OrderStatus.NEW
    return order, limit


def sell_to(sim: SimServer, price: D) -> None:
    """Another account sells exactly our quantity at our price: a trade with our resting buy
    (the simulator runs without synthetic liquidity here, so nothing else is in between)."""
    sim.exchange.place_order(
        OTHER,
        {
            "symbol": SYMBOL,
            "side": "SELL",
            "type": "LIMIT",
            "price": str(price),
            "quantity": str(QTY),
        },
    )


@pytest.fixture
def reconciliations(events: EventBus) -> list[ReconciliationFinished]:
    seen: list[ReconciliationFinished] = []
    events.subscribe(ReconciliationFinished, seen.append)
    return seen


@pytest.fixture
def statuses(events: EventBus) -> list[StreamStatusChanged]:
    seen: list[StreamStatusChanged] = []
    events.subscribe(StreamStatusChanged, seen.append)
    return seen


@pytest.fixture
async def quiet_sim() -> AsyncIterator[SimServer]:
    """mexcsim without synthetic liquidity: only our orders and the other account's trade."""
    from mexcsim.exchange import SimExchange
    from tests.fixtures.sim import sim_config

    exchange = SimExchange(provide_liquidity=False, history=False)
    async with SimServer(sim_config(rate_limits=False), exchange) as server:
        server.exchange.create_account(OTHER, "other-secret", {"BTC": D(5), "USDT": D(1000)})
        yield server


async def connected_and_reconciled(bot: Bot, reconciliations: list[ReconciliationFinished]) -> None:
    """The feed reconciles once per connect: wait for the connect's pass to finish."""
    health = bot.feed.health

    async def ready() -> bool:
        return health.connected and len(reconciliations) >= 1 + health.connects

    await eventually(ready)


async def status_of(uow_factory: Callable[[], UnitOfWork], order: Order) -> OrderStatus:
    return (await stored(uow_factory, order.client_order_id)).status


class StartBot(Protocol):
    def __call__(
        self,
        *,
        events: EventBus | None = None,
        reconnect_s: float = 0.05,
        follow_stream: bool = True,
    ) -> AbstractAsyncContextManager[Bot]: ...


@pytest.fixture
def start_bot(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    journal: OrderJournal,
    fill_writer: FillWriter,
    events: EventBus,
) -> StartBot:
    """`running_bot` on the quiet simulator, the test's database, journal and fill writer, and
    the test's event bus unless given another."""
    shared = events

    def start(
        *,
        events: EventBus | None = None,
        reconnect_s: float = 0.05,
        follow_stream: bool = True,
    ) -> AbstractAsyncContextManager[Bot]:
        return running_bot(
            quiet_sim,
            uow_factory,
            journal,
            shared if events is None else events,
            fill_writer=fill_writer,
            reconnect_s=reconnect_s,
            follow_stream=follow_stream,
        )

    return start


async def as_rest_reads_it(bot: Bot, cid: str) -> tuple[OrderReport, list[TradeReport]]:
    """The order's report and its trades as REST reads them (reconciliation's source)."""
    report = await bot.exchange.query(SYMBOL, client_order_id=cid)
    trades = await bot.exchange.trades(SYMBOL, report.exchange_order_id)
    return report, trades


async def filled_behind_the_feed(bot: Bot, sim: SimServer) -> tuple[str, OrderReport, TradeReport]:
    """A resting buy the other account fills while the test hands the feed its updates: its
    client order id, and its report and its one trade as REST reads them."""
    order, price = await place_resting_buy(bot.service)
    sell_to(sim, price)
    cid = order.client_order_id
    report, (trade,) = await as_rest_reads_it(bot, cid)
    return cid, report, trade


async def test_a_fill_arrives_by_the_stream_without_any_rest_read(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    events: EventBus,
    reconciliations: list[ReconciliationFinished],
    start_bot: StartBot,
) -> None:
    balances: list[BalanceChanged] = []
    events.subscribe(BalanceChanged, balances.append)
    async with start_bot() as bot:
        await connected_and_reconciled(bot, reconciliations)
        order, price = await place_resting_buy(bot.service)
        passes = len(reconciliations)
        bot.requests.clear()

        sell_to(quiet_sim, price)

        async def filled() -> bool:
            return await status_of(uow_factory, order) is OrderStatus.FILLED

        await eventually(filled)
        assert await fills_of(uow_factory, order.client_order_id) == [QTY]
        assert len(reconciliations) == passes  # no reconciliation ran
        assert not [r for r in bot.requests if r in ORDER_READS], bot.requests
        assert (await stored(uow_factory, order.client_order_id)).executed_qty == QTY
        assert {b.asset for b in balances} >= {"BTC", "USDT"}
        assert bot.feed.health.messages > 0
        assert bot.feed.health.gaps == 0

        # the same trade again, from REST (reconciliation's source): nothing new is stored
        cid = order.client_order_id
        report, trades = await as_rest_reads_it(bot, cid)
        outcome = await bot.service.order_sync.apply(cid, report, trades)
        assert outcome.new_fills == []
        assert await fills_of(uow_factory, cid) == [QTY]


async def test_a_fill_missed_while_disconnected_is_recovered_by_the_gap_reconciliation(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    reconciliations: list[ReconciliationFinished],
    statuses: list[StreamStatusChanged],
    start_bot: StartBot,
) -> None:
    async with start_bot(reconnect_s=1.0) as bot:
        await connected_and_reconciled(bot, reconciliations)
        order, price = await place_resting_buy(bot.service)
        passes = len(reconciliations)

        quiet_sim.faults.set(FaultPlan(ws_drop_connections=True))

        async def disconnected() -> bool:
            return not bot.feed.health.connected

        await eventually(disconnected)
        sell_to(quiet_sim, price)  # pushed to nobody: our socket is down
        assert await status_of(uow_factory, order) is OrderStatus.NEW

        async def filled() -> bool:
            return await status_of(uow_factory, order) is OrderStatus.FILLED

        async def reconciled_after_the_gap() -> bool:
            # the pass commits the fill before it finishes and publishes its report
            return len(reconciliations) > passes

        await eventually(filled)
        await eventually(reconciled_after_the_gap)
        assert await fills_of(uow_factory, order.client_order_id) == [QTY]
        assert len(reconciliations) == passes + 1  # the one the reconnect triggered
        assert reconciliations[-1].report.fills_recorded == 1  # it, not the stream, stored it
        assert bot.feed.health.gaps == 1
        assert bot.feed.health.reconnects == 1
        assert [(s.stream, s.connected, s.gaps) for s in statuses][-2:] == [
            ("user", False, 1),
            ("user", True, 1),
        ]


async def test_a_restart_mid_way_loses_nothing(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    reconciliations: list[ReconciliationFinished],
    start_bot: StartBot,
) -> None:
    async with start_bot() as first:
        await connected_and_reconciled(first, reconciliations)
        order, price = await place_resting_buy(first.service, qty=2 * QTY)
        sell_to(quiet_sim, price)

        async def partly_filled() -> bool:
            return await status_of(uow_factory, order) is OrderStatus.PARTIALLY_FILLED

        await eventually(partly_filled)
    sell_to(quiet_sim, price)  # while no bot runs

    reconciliations.clear()
    async with start_bot(events=EventBus()) as second:
        after_start = await stored(uow_factory, order.client_order_id)
        assert after_start.status is OrderStatus.FILLED  # the start's reconciliation
        assert after_start.executed_qty == 2 * QTY
        assert await fills_of(uow_factory, order.client_order_id) == [QTY, QTY]
        assert second.service.last_reconciliation is not None


async def test_a_report_raising_the_executed_quantity_waits_for_its_trades(
    quiet_sim: SimServer, uow_factory: Callable[[], UnitOfWork], start_bot: StartBot
) -> None:
    """Quantity and fills commit together (REST reads stored quantity as stored fills), whichever
    of the two pushes comes first, and however often each comes."""
    async with start_bot(follow_stream=False) as bot:
        cid, report, trade = await filled_behind_the_feed(bot, quiet_sim)
        assert report.status is OrderStatus.FILLED

        await bot.feed.handle(report)
        waiting = await stored(uow_factory, cid)
        assert (waiting.status, waiting.executed_qty) == (OrderStatus.NEW, D(0))

        await bot.feed.handle(trade)
        for update in (report, trade, report):
            await bot.feed.handle(update)
        done = await stored(uow_factory, cid)
        assert (done.status, done.executed_qty) == (OrderStatus.FILLED, QTY)
        assert await fills_of(uow_factory, cid) == [QTY]


async def test_a_pushed_trade_is_stored_and_published_before_its_report(
    quiet_sim: SimServer,
    uow_factory: Callable[[], UnitOfWork],
    events: EventBus,
    start_bot: StartBot,
) -> None:
    """The fill (and its fee) commits and is published when its trade arrives, once however often
    it arrives; the executed quantity still moves only with the order's report."""
    published: list[FillRecorded] = []
    events.subscribe(FillRecorded, published.append)
    async with start_bot(follow_stream=False) as bot:
        cid, report, trade = await filled_behind_the_feed(bot, quiet_sim)

        await bot.feed.handle(trade)
        early = await stored(uow_factory, cid)
        assert (early.status, early.executed_qty) == (OrderStatus.NEW, D(0))
        assert await fills_of(uow_factory, cid) == [QTY]
        assert [(e.fill.exchange_trade_id, e.order.client_order_id) for e in published] == [
            (trade.trade_id, cid)
        ]
        fees = {trade.commission_asset: trade.commission} if trade.commission else {}
        assert early.fees == fees == published[0].order.fees

        for update in (trade, report, trade):
            await bot.feed.handle(update)
        done = await stored(uow_factory, cid)
        assert (done.status, done.executed_qty) == (OrderStatus.FILLED, QTY)
        assert await fills_of(uow_factory, cid) == [QTY]
        assert done.fees == fees  # counted once
        assert len(published) == 1
