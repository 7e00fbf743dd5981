"""The auto-buy triggers and guards as pure rules: each trigger fires once per moment with a
stable key, the windows roll, and the guards say why a rule may not fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mexcbot.domain.autobuy import AutoBuyRule, InvalidRule, Trigger, TriggerType
from mexcbot.domain.autobuy_triggers import (
    MIN_VOLUME_HISTORY,
    RollingExtremes,
    RuleStats,
    TriggerState,
    epoch_ms,
    guard_reason,
)

D = Decimal
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def feed(state: TriggerState, prices: list[tuple[float, str]]) -> list[str]:
    keys = []
    for second, price in prices:
        hit = state.observe(at(second), D(price), D(0))
        if hit is not None:
            keys.append(hit.key)
    return keys


def test_price_below_fires_once_per_crossing_with_the_moment_as_key() -> None:
    state = TriggerState(Trigger(TriggerType.PRICE_BELOW, D("100")))
    keys = feed(state, [(0, "101"), (1, "99"), (2, "98"), (3, "97"), (4, "100.5"), (5, "99.9")])
    assert keys == [f"PRICE_BELOW:{epoch_ms(at(1))}", f"PRICE_BELOW:{epoch_ms(at(5))}"]


def test_price_above_fires_on_the_first_price_above() -> None:
    state = TriggerState(Trigger(TriggerType.PRICE_ABOVE, D("100")))
    hit = state.observe(at(0), D("100.01"), D(0))
    assert hit is not None
    assert hit.reference_price == D("100.01")
    assert state.observe(at(1), D("100"), D(0)) is None  # equal is not above


def test_percent_drop_compares_with_the_rolling_max_of_its_window() -> None:
    state = TriggerState(Trigger(TriggerType.PERCENT_DROP, D("10"), timedelta(seconds=60)))
    # 150 is 25% below 200: fires. By t=100 the 200 left the window; the max is 150, and 140
    # is less than 10% below it (re-armed); 135 is 10% below: fires again
    keys = feed(state, [(0, "200"), (50, "150"), (100, "140"), (101, "135")])
    assert keys == [f"PERCENT_DROP:{epoch_ms(at(50))}", f"PERCENT_DROP:{epoch_ms(at(101))}"]


def test_percent_rise_compares_with_the_rolling_min() -> None:
    state = TriggerState(Trigger(TriggerType.PERCENT_RISE, D("5"), timedelta(seconds=30)))
    assert feed(state, [(0, "100"), (10, "104"), (20, "105")]) == [
        f"PERCENT_RISE:{epoch_ms(at(20))}"
    ]


def test_rolling_extremes_forget_what_left_the_window() -> None:
    window = RollingExtremes(timedelta(seconds=10))
    for second, price in [(0, "5"), (1, "9"), (2, "1"), (3, "4")]:
        window.add(at(second), D(price))
    assert (window.max, window.min) == (D("9"), D("1"))
    window.add(at(12.5), D("3"))  # t=0..2 left the window: 4 (t=3) and 3 remain
    assert (window.max, window.min) == (D("4"), D("3"))


def test_volume_surge_needs_history_and_fires_once_per_window() -> None:
    state = TriggerState(Trigger(TriggerType.VOLUME_SURGE, D("3"), timedelta(seconds=10)))
    start = epoch_ms(T0) // 10_000 * 10_000
    base = datetime.fromtimestamp(start / 1000, UTC)
    hits = []
    for window in range(MIN_VOLUME_HISTORY):  # quiet windows: 10 traded in each
        assert state.observe(base + timedelta(seconds=10 * window + 1), D("1"), D("10")) is None
    surge_start = base + timedelta(seconds=10 * MIN_VOLUME_HISTORY)
    for extra in (D("20"), D("15"), D("50")):  # 20, 35 (>= 3 x 10: fires), 85 (same window)
        hit = state.observe(surge_start + timedelta(seconds=1), D("1"), extra)
        if hit is not None:
            hits.append(hit)
    assert [h.key for h in hits] == [f"VOLUME_SURGE:{epoch_ms(surge_start)}"]
    assert "median 10" in hits[0].reason


def test_the_median_counts_windows_without_trades_as_zero() -> None:
    state = TriggerState(Trigger(TriggerType.VOLUME_SURGE, D("2"), timedelta(seconds=1)))
    state.observe(at(0), D("1"), D("8"))
    state.observe(at(5), D("1"), D("1"))  # four empty windows between
    assert state.volumes.median() == D(0)  # 8, 0, 0, 0, 0: a zero median never fires
    assert state.observe(at(5.5), D("1"), D("100")) is None


def rule(**fields: object) -> AutoBuyRule:
    values: dict[str, object] = {
        "name": "dip",
        "symbol": "ETHUSDT",
        "trigger": Trigger(TriggerType.PRICE_BELOW, D("3000")),
        "buy_amount_quote": D("50"),
    }
    values.update(fields)
    return AutoBuyRule(**values)  # type: ignore[arg-type]


def test_guards_name_max_executions_cooldown_and_disabled() -> None:
    now = at(100)
    assert guard_reason(rule(), RuleStats(), now) is None
    capped = rule(max_executions=2)
    reason = guard_reason(capped, RuleStats(2, at(0)), now)
    assert reason is not None
    assert "max_executions" in reason
    cooling = rule(cooldown=timedelta(seconds=300))
    reason = guard_reason(cooling, RuleStats(1, at(0)), now)
    assert reason is not None
    assert "cooldown" in reason
    assert "200.0 s more" in reason
    assert guard_reason(cooling, RuleStats(1, at(0)), at(300)) is None
    reason = guard_reason(rule(enabled=False), RuleStats(), now)
    assert reason == "the rule is disabled"


def test_a_windowed_trigger_needs_its_window() -> None:
    with pytest.raises(InvalidRule) as raised:
        Trigger(TriggerType.PERCENT_DROP, D("5"))
    assert raised.value.field == "trigger.window"
