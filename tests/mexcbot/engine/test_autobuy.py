"""The auto-buyer on the real client against the simulator: an IOC that finds no seller leaves
no position and gives its execution back, two firings of one key buy once, a new listing's buy
is prepared before its open and fired as a new attempt after it, and a crash before the send is
recovered as FAILED."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mexcbot.domain.autobuy import (
    AutoBuyRule,
    BuyOrderType,
    ExecutionOutcome,
    RuleExecution,
    Trigger,
    TriggerType,
)
from mexcbot.domain.exits import ExitPlan, StopLoss
from mexcbot.domain.orders import OrderType, TimeInForce, client_order_id_for
from mexcbot.domain.positions import PositionType
from mexcbot.engine.autobuy.buying import AutoBuyer, PreparedBuy, Skip
from mexcbot.engine.autobuy.executions import ExecutionLog, order_key
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.autobuy.triggers import TriggerWatch
from mexcbot.engine.bus import EventBus
from mexcbot.engine.market import MarketData
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork
from mexcsim import SimServer
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from tests.mexcbot.engine.test_positions import SYMBOL, Desk, build_desk

D = Decimal


def now() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class Buying:
    rules: AutoBuyRules
    log: ExecutionLog
    buyer: AutoBuyer


@pytest.fixture
async def desk(client: MexcClient, uow_factory: Callable[[], UnitOfWork], events: EventBus) -> Desk:
    return await build_desk(client, uow_factory, events)


@pytest.fixture
async def buying(
    desk: Desk, client: MexcClient, uow_factory: Callable[[], UnitOfWork], events: EventBus
) -> Buying:
    rules = AutoBuyRules(uow_factory, now)
    await rules.load()
    log = ExecutionLog(uow_factory, events, now, on_stats=rules.note_stats)
    execution = desk.execution
    market = MarketData(MexcExchange(client), execution.catalog, execution.prices)
    buyer = AutoBuyer(rules, log, desk.positions, execution.catalog, market, desk.risk, now)
    return Buying(rules, log, buyer)


def dip_rule(**fields: object) -> AutoBuyRule:
    values: dict[str, object] = {
        "name": "dip",
        "symbol": SYMBOL,
        "trigger": Trigger(TriggerType.PRICE_BELOW, D("5000")),
        "buy_amount_quote": D("100"),
        "max_slippage_percent": D("1"),
        "exits": ExitPlan(stop_loss=StopLoss(percent=D("10"))),
    }
    values.update(fields)
    return AutoBuyRule(**values)  # type: ignore[arg-type]


async def test_an_ioc_without_a_seller_leaves_no_position_and_gives_the_execution_back(
    buying: Buying, desk: Desk, sim: SimServer
) -> None:
    sim.exchange.set_price(SYMBOL, D("3200"))
    rule = (await buying.rules.create(dip_rule(max_slippage_percent=D(0), max_executions=1))).rule
    # priced at a reference far below the market: nobody sells at 2000
    execution = await buying.buyer.buy(
        rule, SYMBOL, key="t1", reason="test", reference_price=D("2000")
    )
    assert execution.outcome is ExecutionOutcome.NOT_FILLED, execution
    assert (execution.position_id, execution.quantity) == (None, D(0))
    assert execution.client_order_id == client_order_id_for(order_key(rule.id or 0, "t1"))
    assert await desk.positions.list() == type(await desk.positions.list())([], 0)
    assert buying.rules.stats(rule.id or 0).executions == 0  # max_executions=1 still allows one
    again = await buying.buyer.buy(rule, SYMBOL, key="t2", reason="test", reference_price=D(3300))
    assert again.outcome is ExecutionOutcome.FILLED, again
    position = await desk.positions.get(again.position_id or 0)
    assert position.type is PositionType.AUTOMATIC
    assert position.stop_price is not None


async def test_two_firings_of_one_key_buy_once(
    buying: Buying, desk: Desk, sim: SimServer, uow_factory: Callable[[], UnitOfWork]
) -> None:
    sim.exchange.set_price(SYMBOL, D("3200"))
    rule = (await buying.rules.create(dip_rule())).rule
    first, second = await asyncio.gather(
        *(
            buying.buyer.buy(rule, SYMBOL, key="listing:1", reason="x", reference_price=D("3200"))
            for _ in range(2)
        )
    )
    assert first.id == second.id
    async with uow_factory() as uow:
        orders = (await uow.orders.list(symbol=SYMBOL, limit=100)).orders
    assert len(orders) == 1
    assert (orders[0].request.type, orders[0].request.time_in_force) == (
        OrderType.LIMIT,
        TimeInForce.IOC,
    )
    assert len(desk.positions.open_positions()) == 1
    finished = await buying.log.get(first.id or 0)
    assert finished is not None
    assert finished.outcome in (ExecutionOutcome.FILLED, ExecutionOutcome.PARTIALLY_FILLED)


async def test_a_listing_buy_is_prepared_before_the_open_and_fired_after_it(
    buying: Buying, desk: Desk, sim: SimServer
) -> None:
    spec = dataclasses.replace(
        DEFAULT_SYMBOLS[0], symbol="NEWUSDT", base_asset="NEW", initial_price=D("0.5")
    )
    open_ms = int(time.time() * 1000) + 1500
    sim.exchange.schedule_listing(spec, open_ms, D("0.5"))
    catalog = desk.execution.catalog
    await catalog.refresh(["NEWUSDT"])
    rules = catalog.cached("NEWUSDT")
    assert rules is not None
    assert not rules.is_tradable
    rule = (
        await buying.rules.create(
            AutoBuyRule(
                name="new",
                trigger=Trigger(TriggerType.NEW_LISTING),
                buy_amount_quote=D("20"),
                max_buy_price=D("0.6"),
                quote_asset="USDT",
            )
        )
    ).rule
    assert [r.id for r in await buying.rules.matching_listing("NEWUSDT", "NEW", "USDT")] == [
        rule.id
    ]
    prepared = await buying.buyer.prepare(rule, "NEWUSDT", None, symbol_rules=rules)
    assert isinstance(prepared, PreparedBuy), prepared
    assert prepared.limit_price == D("0.6")
    assert prepared.quantity is not None
    assert prepared.quantity * D("0.6") <= D("20")
    execution = await buying.log.begin(rule, "NEWUSDT", "listing:9", "new listing", 9)
    assert execution is not None
    assert await buying.log.begin(rule, "NEWUSDT", "listing:9", "another detector") is None
    early = await buying.buyer.execute(prepared, execution, attempt=0)
    assert early.outcome in (ExecutionOutcome.REJECTED, ExecutionOutcome.FAILED), early
    assert desk.positions.open_positions() == []  # a refused entry leaves no position
    await asyncio.sleep(max(0.0, open_ms / 1000 - time.time()) + 0.2)
    sim.exchange.open_due_listings()
    await catalog.refresh(["NEWUSDT"])
    late = await buying.buyer.execute(prepared, execution, attempt=1)
    assert late.outcome is ExecutionOutcome.FILLED, late
    assert late.client_order_id == client_order_id_for(order_key(rule.id or 0, "listing:9", 1))
    # a crash here (filled, not yet finished): recovery finds attempt 1 past the unsent 0
    assert await buying.buyer.recover() == []  # a snipe's execution is the sniper's to resume
    recovered = await buying.buyer.recover(listings=True)
    assert [(e.id, e.outcome) for e in recovered] == [(execution.id, ExecutionOutcome.FILLED)]
    finished = await buying.buyer.finish(execution, late)  # idempotent: the first finish stays
    assert (finished.outcome, finished.listing_id) == (ExecutionOutcome.FILLED, 9)
    assert finished.position_id is not None
    position = await desk.positions.get(finished.position_id)
    assert position.quantity > 0


async def test_skips_name_the_guard_and_a_crash_before_the_send_recovers_as_failed(
    buying: Buying, sim: SimServer
) -> None:
    sim.exchange.set_price(SYMBOL, D("3200"))
    capped = (await buying.rules.create(dip_rule(max_buy_price=D("3000")))).rule
    skipped = await buying.buyer.buy(
        capped, SYMBOL, key="k", reason="dip", reference_price=D("3200")
    )
    assert skipped.outcome is ExecutionOutcome.SKIPPED
    assert skipped.detail is not None
    assert skipped.detail.startswith("max_buy_price")
    thin = await buying.buyer.prepare(
        dip_rule(min_volume_24h=D("1e12")), SYMBOL, reference_price=D("3200")
    )
    assert isinstance(thin, Skip)
    assert thin.reason.startswith("min_volume_24h")
    market = dip_rule(name="market", order_type=BuyOrderType.MARKET)
    prepared = await buying.buyer.prepare(market, SYMBOL, D("3200"))
    assert isinstance(prepared, PreparedBuy)
    assert (prepared.command.type, prepared.command.quote_amount) == (OrderType.MARKET, D(100))
    crashed = (await buying.rules.create(dip_rule(name="crashed"))).rule
    begun = await buying.log.begin(crashed, SYMBOL, "k", "dip", client_order_id="never-sent")
    assert begun is not None
    recovered = await buying.buyer.recover()
    assert [(e.id, e.outcome) for e in recovered] == [(begun.id, ExecutionOutcome.FAILED)]
    assert await buying.log.pending() == []


async def test_without_a_stream_the_timer_fires_price_triggers_on_rest_prices(
    buying: Buying, desk: Desk, sim: SimServer, events: EventBus
) -> None:
    sim.exchange.set_price(SYMBOL, D("3200"))
    watch = TriggerWatch(buying.rules, buying.buyer, prices=desk.execution.prices)
    watch.attach(events)
    followed: list[str] = []
    rule = (await buying.rules.create(dip_rule(cooldown=timedelta(hours=1)))).rule
    assert watch.watching(SYMBOL) == 1
    other = TriggerWatch(buying.rules, buying.buyer, follow=followed.append)
    other.attach(events)  # the rules loaded so far are followed at once
    assert followed == [SYMBOL]
    await watch.evaluate_stale()  # 3200 is below 5000: fires
    page = await _settled(buying)
    assert [(e.rule_id, e.trigger_type) for e in page] == [(rule.id, TriggerType.PRICE_BELOW)]
    assert page[0].outcome in (ExecutionOutcome.FILLED, ExecutionOutcome.PARTIALLY_FILLED)
    await watch.evaluate_stale()  # still below: edge-triggered, nothing more
    await asyncio.sleep(0.1)
    assert len(await _settled(buying)) == 1
    await buying.rules.set_enabled(rule.id or 0, False)
    assert watch.watching(SYMBOL) == 0


async def _settled(buying: Buying, count: int = 1) -> list[RuleExecution]:
    """The executions, once `count` exist and none is PENDING."""
    async with asyncio.timeout(10):
        while True:
            page = (await buying.log.list()).executions
            done = all(e.outcome is not ExecutionOutcome.PENDING for e in page)
            if len(page) >= count and done:
                return page
            await asyncio.sleep(0.02)
