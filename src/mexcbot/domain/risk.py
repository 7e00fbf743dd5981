"""The trading state and the risk limits, as pure values.

ACTIVE trades normally. REDUCING is the kill switch: no new entries, while exits and cancels
still run (a loss limit must never keep a stop from selling). HALTED sends nothing at all and is
set and lifted only by an admin. Limits are in the quote asset; `None` means no limit.

Pure domain code: no I/O, Decimal only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class LossWindow(StrEnum):
    """What "daily" loss means: since 00:00 UTC, or over the last 24 hours."""

    UTC_DAY = "UTC_DAY"
    ROLLING_24H = "ROLLING_24H"


_HUNDRED = Decimal(100)
_DAY = timedelta(hours=24)


class InvalidRiskLimits(ValueError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """What an entry may not exceed. `daily_loss_limit` (realised in the `daily_loss_window`
    plus unrealised at last prices, a positive amount) moves the state to REDUCING, where it
    stays until an admin sets it back. `daily_loss_limit_percent` is the same limit as a
    percent, in (0, 100], of the start-of-day equity (see `StartEquity`); with both set the
    stricter (the smaller amount) applies.

    `max_symbol_share` caps one symbol's open cost, this entry included, at that share of
    `max_total_exposure_quote` (so it needs one): with 0.3 no symbol takes more than 30 % of
    the exposure budget. `max_orders_per_second` counts the entries let through in the last
    second. After `stop_loss_streak` stop-loss exits in a row (no winning exit between),
    entries wait `stop_loss_cooldown_minutes` from the last of them. A position's entry needs
    the symbol's 24 h quote volume to be at least `min_volume_24h_quote` (a new-listing snipe
    is exempt: a listing has no 24 h volume yet)."""

    max_position_quote: Decimal | None = None
    max_total_exposure_quote: Decimal | None = None
    max_open_positions: int | None = None
    daily_loss_limit: Decimal | None = None
    daily_loss_window: LossWindow = LossWindow.UTC_DAY
    max_symbol_share: Decimal | None = None
    max_orders_per_second: int | None = None
    stop_loss_streak: int | None = None
    stop_loss_cooldown_minutes: int = 60
    min_volume_24h_quote: Decimal | None = None
    daily_loss_limit_percent: Decimal | None = None

    def loss_limit(self, start_equity: Decimal | None) -> Decimal | None:
        """The loss (a positive amount) that trips the daily-loss switch: the stricter of
        `daily_loss_limit` and `daily_loss_limit_percent` of `start_equity`. The percent
        counts only once the equity is known (and positive); None: no limit."""
        limits = [] if self.daily_loss_limit is None else [self.daily_loss_limit]
        percent = self.daily_loss_limit_percent
        if percent is not None and start_equity is not None and start_equity > 0:
            limits.append(start_equity * percent / _HUNDRED)
        return min(limits) if limits else None

    def __post_init__(self) -> None:
        for name in (
            "max_position_quote",
            "max_total_exposure_quote",
            "daily_loss_limit",
            "min_volume_24h_quote",
        ):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and value > 0):
                raise InvalidRiskLimits(
                    f"{name} must be a positive number; got {value}", field=name
                )
        percent = self.daily_loss_limit_percent
        if percent is not None and not (percent.is_finite() and 0 < percent <= _HUNDRED):
            raise InvalidRiskLimits(
                f"daily_loss_limit_percent must be in (0, 100]; got {percent}",
                field="daily_loss_limit_percent",
            )
        if self.max_open_positions is not None and self.max_open_positions < 1:
            raise InvalidRiskLimits(
                f"max_open_positions must be at least 1; got {self.max_open_positions}",
                field="max_open_positions",
            )
        share = self.max_symbol_share
        if share is not None:
            if not (share.is_finite() and 0 < share <= 1):
                raise InvalidRiskLimits(
                    f"max_symbol_share must be in (0, 1]; got {share}", field="max_symbol_share"
                )
            if self.max_total_exposure_quote is None:
                raise InvalidRiskLimits(
                    "max_symbol_share is a share of max_total_exposure_quote: set that too",
                    field="max_symbol_share",
                )
        for name in ("max_orders_per_second", "stop_loss_streak"):
            count = getattr(self, name)
            if count is not None and count < 1:
                raise InvalidRiskLimits(f"{name} must be at least 1; got {count}", field=name)
        if self.stop_loss_cooldown_minutes < 1:
            raise InvalidRiskLimits(
                f"stop_loss_cooldown_minutes must be at least 1; got "
                f"{self.stop_loss_cooldown_minutes}",
                field="stop_loss_cooldown_minutes",
            )


@dataclass(frozen=True, slots=True)
class StartEquity:
    """The equity a percent daily-loss limit is measured against: the quote balance plus the
    open positions at their cost, as it was at the first check of the UTC day (or of each
    24 h period, for the rolling window)."""

    amount: Decimal
    at: datetime

    def is_due(self, now: datetime, window: LossWindow) -> bool:
        """Whether a new start equity is due at `now`: a new UTC day began (UTC_DAY), or 24 h
        passed since this one was recorded (ROLLING_24H)."""
        if window is LossWindow.ROLLING_24H:
            return now - self.at >= _DAY
        return self.at < now.replace(hour=0, minute=0, second=0, microsecond=0)


#: Presets an admin can start from (quote amounts for a small USDT account).
PROFILES: dict[str, RiskLimits] = {
    "conservative": RiskLimits(
        max_position_quote=Decimal(100),
        max_total_exposure_quote=Decimal(500),
        max_open_positions=5,
        daily_loss_limit=Decimal(50),
    ),
    "moderate": RiskLimits(
        max_position_quote=Decimal(500),
        max_total_exposure_quote=Decimal(2500),
        max_open_positions=10,
        daily_loss_limit=Decimal(250),
    ),
    "aggressive": RiskLimits(
        max_position_quote=Decimal(2000),
        max_total_exposure_quote=Decimal(10000),
        max_open_positions=25,
        daily_loss_limit=Decimal(1000),
    ),
}
