"""Auto-buy rules round-trip exactly; an execution begins once per (rule, key) however many
callers race for it, and never past max executions or inside the cooldown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mexcbot.domain.autobuy import (
    AutoBuyRule,
    BuyOrderType,
    ExecutionOutcome,
    Trigger,
    TriggerType,
)
from mexcbot.domain.exits import ExitPlan, StopLoss, TakeProfitLevel
from mexcbot.engine.autobuy.executions import ExecutionLog
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import RuleExecuted
from mexcbot.store import UnitOfWork

D = Decimal
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def a_rule(**fields: object) -> AutoBuyRule:
    values: dict[str, object] = {
        "name": "new coins",
        "trigger": Trigger(TriggerType.NEW_LISTING),
        "buy_amount_quote": D("25.123456789012345678"),
        "quote_asset": "USDT",
        "name_filter": "^A",
        "max_buy_price": D("0.000000000000000001"),
        "max_slippage_percent": D("2.5"),
        "cooldown": timedelta(seconds=90),
        "max_executions": 3,
        "order_type": BuyOrderType.MARKET,
        "risk_check": False,
        "allow_pre_trading": True,
        "exits": ExitPlan(
            stop_loss=StopLoss(percent=D("7.5")),
            take_profits=(TakeProfitLevel(fraction=D("0.5"), percent=D("20")),),
        ),
    }
    values.update(fields)
    return AutoBuyRule(**values)  # type: ignore[arg-type]


async def test_a_rule_round_trips_every_field_exactly(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    rules = AutoBuyRules(uow_factory, Clock())
    stored = await rules.create(a_rule())
    loaded = await rules.get(stored.rule.id or 0)
    original = a_rule()
    for name in AutoBuyRule.__dataclass_fields__:
        if name not in ("id", "created_at", "updated_at"):
            assert getattr(loaded.rule, name) == getattr(original, name), name
    windowed = await rules.create(
        a_rule(
            name="dip",
            symbol="ETHUSDT",
            trigger=Trigger(TriggerType.PERCENT_DROP, D("3.5"), timedelta(seconds=600)),
        )
    )
    assert (await rules.get(windowed.rule.id or 0)).rule.trigger == windowed.rule.trigger
    assert [r.rule.name for r in (await rules.list(symbol="ETHUSDT")).rules] == ["dip"]
    page = await rules.list(trigger_type=TriggerType.NEW_LISTING, enabled=True)
    assert (page.total, page.rules[0].rule.name) == (1, "new coins")


async def test_one_begin_per_key_however_many_race(uow_factory: Callable[[], UnitOfWork]) -> None:
    clock = Clock()
    rules = AutoBuyRules(uow_factory, clock)
    stored = await rules.create(a_rule(cooldown=timedelta(0), max_executions=None))
    events = EventBus()
    seen: list[RuleExecuted] = []
    events.subscribe(RuleExecuted, seen.append)
    # two detectors, two processes: separate logs on the one database
    logs = [ExecutionLog(uow_factory, events, clock) for _ in range(2)]
    results = await asyncio.gather(
        *(logs[i % 2].begin(stored.rule, "ABCUSDT", "listing:7", "new listing") for i in range(6))
    )
    begun = [r for r in results if r is not None]
    assert len(begun) == 1
    assert begun[0].outcome is ExecutionOutcome.PENDING
    assert [e.execution.id for e in seen] == [begun[0].id]
    again = await logs[0].begin(stored.rule, "ABCUSDT", "listing:7", "new listing")
    assert again is None
    assert (await rules.get(stored.rule.id or 0)).stats.executions == 1
    assert [e.key for e in await logs[1].pending()] == ["listing:7"]


async def test_begin_respects_max_executions_and_the_cooldown_inside_the_transaction(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    clock = Clock()
    rules = AutoBuyRules(uow_factory, clock)
    stored = await rules.create(a_rule(cooldown=timedelta(seconds=60), max_executions=2))
    rule = stored.rule
    log = ExecutionLog(uow_factory, EventBus(), clock, on_stats=rules.note_stats)
    first = await log.begin(rule, "ABCUSDT", "k1", "r")
    assert first is not None
    assert first.id is not None
    assert await log.begin(rule, "ABCUSDT", "k2", "r") is None  # inside the cooldown
    clock.now += timedelta(seconds=61)
    # a NOT_FILLED outcome gives the execution back: max executions counts what bought
    await log.finish(first.id, ExecutionOutcome.NOT_FILLED, detail="no seller")
    assert rules.stats(rule.id or 0).executions == 0
    second = await log.begin(rule, "ABCUSDT", "k2", "r")
    assert second is not None
    assert second.id is not None
    await log.finish(
        second.id,
        ExecutionOutcome.FILLED,
        client_order_id="abc",
        position_id=4,
        quantity=D("1.000000000000000001"),
        quote_spent=D("25"),
        average_price=D("24.99"),
    )
    clock.now += timedelta(seconds=61)
    third = await log.begin(rule, "ABCUSDT", "k3", "r")
    assert third is not None
    clock.now += timedelta(seconds=61)
    assert await log.begin(rule, "ABCUSDT", "k4", "r") is None  # two count: max reached
    stats = (await rules.get(rule.id or 0)).stats
    assert stats.executions == 2
    filled = await log.get(second.id)
    assert filled is not None
    assert (filled.outcome, filled.quantity, filled.position_id) == (
        ExecutionOutcome.FILLED,
        D("1.000000000000000001"),
        4,
    )
    page = await log.list(rule_id=rule.id, outcome=ExecutionOutcome.FILLED)
    assert [e.key for e in page.executions] == ["k2"]
    assert (await log.list(symbol="ABCUSDT", limit=2)).total == 3


async def test_a_skip_is_recorded_once_and_does_not_count(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    clock = Clock()
    rules = AutoBuyRules(uow_factory, clock)
    rule = (await rules.create(a_rule())).rule
    log = ExecutionLog(uow_factory, EventBus(), clock)
    skipped = await log.skip(rule, "ABCUSDT", "listing:1", "new", "max_buy_price: too high")
    assert skipped is not None
    assert skipped.outcome is ExecutionOutcome.SKIPPED
    assert await log.skip(rule, "ABCUSDT", "listing:1", "new", "again") is None
    assert await log.begin(rule, "ABCUSDT", "listing:1", "new") is None  # the key is taken
    assert (await rules.get(rule.id or 0)).stats.executions == 0
    await rules.delete(rule.id or 0)
    assert (await log.list()).total == 0
