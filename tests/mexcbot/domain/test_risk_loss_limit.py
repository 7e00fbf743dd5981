"""The daily-loss limit as an amount, a percent of the start-of-day equity, or both (the
stricter applies), and when a new start-of-day equity is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mexcbot.domain.risk import InvalidRiskLimits, LossWindow, RiskLimits, StartEquity

D = Decimal


def test_the_stricter_of_amount_and_percent_applies() -> None:
    both = RiskLimits(daily_loss_limit=D(50), daily_loss_limit_percent=D(2))
    assert both.loss_limit(D(1000)) == D(20)  # 2 % of 1000 is stricter than 50
    assert both.loss_limit(D(10000)) == D(50)  # 2 % of 10000 = 200: the amount is stricter
    assert both.loss_limit(None) == D(50)  # no equity yet: the amount alone
    percent = RiskLimits(daily_loss_limit_percent=D("0.5"))
    assert percent.loss_limit(D("2000.00")) == D(10)
    assert percent.loss_limit(None) is None
    assert percent.loss_limit(D(0)) is None  # an empty account has no percent to lose
    assert RiskLimits().loss_limit(D(1000)) is None


@pytest.mark.parametrize("bad", [D(0), D(-1), D("100.01"), D("NaN"), D("Infinity")])
def test_a_percent_outside_0_100_is_refused_naming_the_field(bad: Decimal) -> None:
    with pytest.raises(InvalidRiskLimits, match=r"\(0, 100\]") as caught:
        RiskLimits(daily_loss_limit_percent=bad)
    assert caught.value.field == "daily_loss_limit_percent"


def test_a_percent_of_100_is_allowed() -> None:
    assert RiskLimits(daily_loss_limit_percent=D(100)).loss_limit(D(7)) == D(7)


def test_a_new_start_equity_is_due_each_utc_day_or_each_24_hours() -> None:
    at = datetime(2026, 5, 1, 23, 50, tzinfo=UTC)
    equity = StartEquity(D(1000), at)
    assert not equity.is_due(at + timedelta(minutes=9), LossWindow.UTC_DAY)
    assert equity.is_due(at + timedelta(minutes=10), LossWindow.UTC_DAY)  # 00:00: a new day
    assert not equity.is_due(at + timedelta(hours=23, minutes=59), LossWindow.ROLLING_24H)
    assert equity.is_due(at + timedelta(hours=24), LossWindow.ROLLING_24H)
