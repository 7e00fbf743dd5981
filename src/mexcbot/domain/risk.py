"""The trading state and the risk limits, as pure values.

ACTIVE trades normally. REDUCING is the kill switch: no new entries, while exits and cancels
still run (a loss limit must never keep a stop from selling). HALTED sends nothing at all and is
set and lifted only by an admin. Limits are in the quote asset; `None` means no limit.

Pure domain code: no I/O, Decimal only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class InvalidRiskLimits(ValueError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """What an entry may not exceed. `daily_loss_limit` (realised today plus unrealised at the
    trigger price, a positive amount) moves the state to REDUCING, where it stays until an
    admin sets it back."""

    max_position_quote: Decimal | None = None
    max_total_exposure_quote: Decimal | None = None
    max_open_positions: int | None = None
    daily_loss_limit: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("max_position_quote", "max_total_exposure_quote", "daily_loss_limit"):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and value > 0):
                raise InvalidRiskLimits(
                    f"{name} must be a positive number; got {value}", field=name
                )
        if self.max_open_positions is not None and self.max_open_positions < 1:
            raise InvalidRiskLimits(
                f"max_open_positions must be at least 1; got {self.max_open_positions}",
                field="max_open_positions",
            )


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
