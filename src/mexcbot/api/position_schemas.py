"""Request and response bodies of `/api/v1/positions` and `/api/v1/risk`.

Amounts in and out are decimal strings (`PositiveAmount` in, `Money` out), never floats. The
exit rules mirror `mexcbot.domain.exits`; the domain checks the rules that span fields (one of
price or percent, fractions adding up to at most 1) and its errors name the field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mexcbot.api.schemas import Money, OrderOut, PositiveAmount, Symbol
from mexcbot.domain.decimals import decimal_text
from mexcbot.domain.exits import (
    MAX_STOP_CONFIRM_TICKS,
    ExitPlan,
    ExitTrigger,
    InvalidExitPlan,
    StopLoss,
    TakeProfitLevel,
    TrailingStop,
    TriggerPrice,
)
from mexcbot.domain.orders import InvalidOrder
from mexcbot.domain.performance import Performance
from mexcbot.domain.positions import Position, PositionSide, PositionStatus, PositionType
from mexcbot.domain.risk import LossWindow, RiskLimits, TradingState
from mexcbot.engine.risk import Exposure, RiskLimitsPolicy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StopLossIn(_Strict):
    price: PositiveAmount | None = None
    percent: PositiveAmount | None = Field(default=None, description="below the average entry")


class TrailingIn(_Strict):
    callback_percent: PositiveAmount
    activation_price: PositiveAmount | None = None
    activation_percent: PositiveAmount | None = Field(
        default=None, description="above the average entry"
    )


class TakeProfitIn(_Strict):
    fraction: PositiveAmount = Field(description="of the entered quantity, in (0, 1]")
    price: PositiveAmount | None = None
    percent: PositiveAmount | None = Field(default=None, description="above the average entry")


class ExitsIn(_Strict):
    stop_loss: StopLossIn | None = None
    trailing: TrailingIn | None = None
    take_profits: list[TakeProfitIn] = Field(default_factory=list, max_length=20)
    break_even_after_take_profit: bool = False
    trigger_price: TriggerPrice = TriggerPrice.BID
    max_slippage_percent: PositiveAmount = Decimal(1)
    stop_confirm_ticks: int = Field(
        default=1,
        ge=1,
        le=MAX_STOP_CONFIRM_TICKS,
        description="the stop sells after this many ticks in a row at or below it (1: at once)",
    )

    def plan(self) -> ExitPlan:
        stop, trail = self.stop_loss, self.trailing
        return ExitPlan(
            stop_loss=StopLoss(price=stop.price, percent=stop.percent) if stop else None,
            trailing=(
                TrailingStop(
                    callback_percent=trail.callback_percent,
                    activation_price=trail.activation_price,
                    activation_percent=trail.activation_percent,
                )
                if trail
                else None
            ),
            take_profits=tuple(_level(index, t) for index, t in enumerate(self.take_profits)),
            break_even_after_take_profit=self.break_even_after_take_profit,
            trigger_price=self.trigger_price,
            max_slippage_percent=self.max_slippage_percent,
            stop_confirm_ticks=self.stop_confirm_ticks,
        )


def _level(index: int, level: TakeProfitIn) -> TakeProfitLevel:
    """One ladder level; its error names it as the body does (``take_profits.1.fraction``)."""
    try:
        return TakeProfitLevel(fraction=level.fraction, price=level.price, percent=level.percent)
    except InvalidExitPlan as exc:
        named = f"take_profits.{index}"
        field = (exc.field or "take_profit").replace("take_profit", named, 1)
        raise InvalidExitPlan(str(exc).replace("take_profit", named, 1), field=field) from None


class AdoptIn(_Strict):
    """What a position adopts instead of buying: `order_ids` (client or exchange ids of filled
    BUY orders of the symbol the bot knows, which no position holds), or `quantity` with
    `entry_price` (holdings bought elsewhere). The coins must be in the free balance of the
    base asset and not already in an open position."""

    order_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=50, description="filled BUY orders to adopt"
    )
    quantity: PositiveAmount | None = Field(default=None, description="of the base asset")
    entry_price: PositiveAmount | None = Field(
        default=None, description="what the holdings cost per unit, in the quote asset"
    )


class OpenPositionBody(_Strict):
    """Open a MANUAL position with a market buy of `quote_amount` (or `quantity`), or adopt
    existing fills or holdings with `adopt` (no order is sent)."""

    symbol: Symbol
    quote_amount: PositiveAmount | None = None
    quantity: PositiveAmount | None = None
    adopt: AdoptIn | None = None
    exits: ExitsIn | None = None
    notes: str | None = Field(default=None, max_length=2000)


class UpdatePositionBody(_Strict):
    """New exits (they replace the old ones), new notes, or both."""

    exits: ExitsIn | None = None
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.exits is None and self.notes is None:
            raise InvalidOrder("exits: send the new exits, notes, or both", field="exits")
        return self


class PositionFillOut(BaseModel):
    client_order_id: str
    exchange_trade_id: str
    side: str
    price: Money
    quantity: Money
    commission: Money
    commission_asset: str
    time: datetime


class PositionOut(BaseModel):
    id: int
    symbol: str
    side: PositionSide
    status: PositionStatus
    type: PositionType
    quantity: Money
    entered_quantity: Money
    average_entry: Money | None
    cost: Money
    realised_pnl: Money
    unrealised_pnl: Money | None
    pnl_percent: Money | None
    fees_quote: Money
    mark_price: Money | None
    max_favourable_excursion_percent: Money | None
    max_adverse_excursion_percent: Money | None
    stop_price: Money | None
    stop_trigger: ExitTrigger | None
    trailing_peak: Money | None
    take_profits_done: int
    exit_order_id: str | None
    exit_failed_reason: str | None
    dust_quantity: Money
    exits: dict[str, object]
    notes: str | None
    opened_at: datetime
    closed_at: datetime | None
    fills: list[PositionFillOut]

    @classmethod
    def of(cls, p: Position, mark: Decimal | None) -> PositionOut:
        assert p.id is not None
        mfe, mae = p.excursions()
        pct = p.pnl_percent(mark if p.is_open else None)
        return cls(
            id=p.id,
            symbol=p.symbol,
            side=p.side,
            status=p.status,
            type=p.type,
            quantity=p.quantity,
            entered_quantity=p.entered_quantity,
            average_entry=p.average_entry,
            cost=p.cost,
            realised_pnl=p.realised_pnl,
            unrealised_pnl=p.unrealised_pnl(mark) if mark is not None and p.is_open else None,
            pnl_percent=pct.quantize(Decimal("0.0001")) if pct is not None else None,
            fees_quote=p.fees_quote,
            mark_price=mark,
            max_favourable_excursion_percent=mfe.quantize(Decimal("0.0001")) if mfe else mfe,
            max_adverse_excursion_percent=mae.quantize(Decimal("0.0001")) if mae else mae,
            stop_price=p.stop_price,
            stop_trigger=p.stop_trigger,
            trailing_peak=p.trailing_peak,
            take_profits_done=p.take_profits_done,
            exit_order_id=p.exit_order_id,
            exit_failed_reason=p.exit_failed_reason,
            dust_quantity=p.dust_quantity,
            exits=_plan_out(p.exits),
            notes=p.notes,
            opened_at=p.opened_at,
            closed_at=p.closed_at,
            fills=[
                PositionFillOut(
                    client_order_id=f.client_order_id,
                    exchange_trade_id=f.exchange_trade_id,
                    side=f.side.value,
                    price=f.price,
                    quantity=f.quantity,
                    commission=f.commission,
                    commission_asset=f.commission_asset,
                    time=f.time,
                )
                for f in p.fills
            ],
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _plan_out(plan: ExitPlan) -> dict[str, object]:
    stop, trail = plan.stop_loss, plan.trailing
    return {
        "stop_loss": (
            {"price": _text(stop.price), "percent": _text(stop.percent)} if stop else None
        ),
        "trailing": (
            {
                "callback_percent": _text(trail.callback_percent),
                "activation_price": _text(trail.activation_price),
                "activation_percent": _text(trail.activation_percent),
            }
            if trail
            else None
        ),
        "take_profits": [
            {"fraction": _text(t.fraction), "price": _text(t.price), "percent": _text(t.percent)}
            for t in plan.take_profits
        ],
        "break_even_after_take_profit": plan.break_even_after_take_profit,
        "trigger_price": plan.trigger_price.value,
        "max_slippage_percent": _text(plan.max_slippage_percent),
        "stop_confirm_ticks": plan.stop_confirm_ticks,
    }


#: The exits as the API shows them (the auto-buy rules show theirs the same way).
plan_out = _plan_out


class OpenedPositionOut(BaseModel):
    position: PositionOut
    entry_order: OrderOut | None = Field(description="None when the position adopted")


class ClosedPositionOut(BaseModel):
    position: PositionOut
    exit_order: OrderOut | None


class PositionPageOut(BaseModel):
    positions: list[PositionOut]
    total: int


class DayOut(BaseModel):
    day: date
    closed: int
    realised_pnl: Money


class SummaryOut(BaseModel):
    closed: int
    wins: int
    losses: int
    win_rate: Money | None
    realised_pnl: Money
    gross_profit: Money
    gross_loss: Money
    profit_factor: Money | None
    max_drawdown: Money
    fees_quote: Money
    open_positions: int
    by_day: list[DayOut]

    @classmethod
    def of(cls, perf: Performance, open_positions: int) -> SummaryOut:
        q = Decimal("0.0001")
        return cls(
            closed=perf.closed,
            wins=perf.wins,
            losses=perf.losses,
            win_rate=perf.win_rate.quantize(q) if perf.win_rate is not None else None,
            realised_pnl=perf.realised_pnl,
            gross_profit=perf.gross_profit,
            gross_loss=perf.gross_loss,
            profit_factor=(
                perf.profit_factor.quantize(q) if perf.profit_factor is not None else None
            ),
            max_drawdown=perf.max_drawdown,
            fees_quote=perf.fees_quote,
            open_positions=open_positions,
            by_day=[
                DayOut(day=d.day, closed=d.closed, realised_pnl=d.realised_pnl) for d in perf.by_day
            ],
        )


class RiskLimitsIn(_Strict):
    max_position_quote: PositiveAmount | None = None
    max_total_exposure_quote: PositiveAmount | None = None
    max_open_positions: int | None = Field(default=None, ge=1, le=10_000)
    daily_loss_limit: PositiveAmount | None = None
    daily_loss_limit_percent: PositiveAmount | None = Field(
        default=None,
        description="in (0, 100]: the daily loss limit as a percent of the start-of-day equity "
        "(quote balance plus open positions at cost); with daily_loss_limit the stricter applies",
    )
    daily_loss_window: LossWindow = Field(
        default=LossWindow.UTC_DAY,
        description="UTC_DAY: realised since 00:00 UTC; ROLLING_24H: over the last 24 hours",
    )
    max_symbol_share: PositiveAmount | None = Field(
        default=None,
        description="max share, in (0, 1], of max_total_exposure_quote held in one symbol",
    )
    max_orders_per_second: int | None = Field(default=None, ge=1, le=1_000)
    stop_loss_streak: int | None = Field(
        default=None, ge=1, le=100, description="stop-loss exits in a row that start a cooldown"
    )
    stop_loss_cooldown_minutes: int = Field(default=60, ge=1, le=10_080)
    min_volume_24h_quote: PositiveAmount | None = Field(
        default=None, description="a position's entry needs this 24 h quote volume (not snipes)"
    )

    def limits(self) -> RiskLimits:
        return RiskLimits(
            max_position_quote=self.max_position_quote,
            max_total_exposure_quote=self.max_total_exposure_quote,
            max_open_positions=self.max_open_positions,
            daily_loss_limit=self.daily_loss_limit,
            daily_loss_limit_percent=self.daily_loss_limit_percent,
            daily_loss_window=self.daily_loss_window,
            max_symbol_share=self.max_symbol_share,
            max_orders_per_second=self.max_orders_per_second,
            stop_loss_streak=self.stop_loss_streak,
            stop_loss_cooldown_minutes=self.stop_loss_cooldown_minutes,
            min_volume_24h_quote=self.min_volume_24h_quote,
        )


class RiskChangeBody(_Strict):
    """Change the state, the limits (or a named profile's), or both; `reason` is audited."""

    state: TradingState | None = None
    limits: RiskLimitsIn | None = None
    profile: str | None = Field(default=None, pattern="^(conservative|moderate|aggressive)$")
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_set_of_limits(self) -> Self:
        if self.profile is not None and self.limits is not None:
            # which one was meant is a guess either way: refuse, change nothing
            raise InvalidOrder(
                "profile: send a profile or limits, not both (a profile is a whole set of limits)",
                field="profile",
            )
        return self


class RiskLimitsOut(BaseModel):
    max_position_quote: Money | None
    max_total_exposure_quote: Money | None
    max_open_positions: int | None
    daily_loss_limit: Money | None
    daily_loss_limit_percent: Money | None
    daily_loss_window: LossWindow
    max_symbol_share: Money | None
    max_orders_per_second: int | None
    stop_loss_streak: int | None
    stop_loss_cooldown_minutes: int
    min_volume_24h_quote: Money | None


class RiskOut(BaseModel):
    state: TradingState
    reason: str | None
    changed_by: str
    changed_at: datetime | None
    limits: RiskLimitsOut
    open_positions: int
    exposure_quote: Money
    pnl_today: Money = Field(
        description="realised in limits.daily_loss_window (today UTC or the last 24 h, earlier "
        "runs included) plus unrealised at last prices: what daily_loss_limit is checked on"
    )
    start_equity: Money | None = Field(
        default=None,
        description="the start-of-day equity daily_loss_limit_percent is measured against: the "
        "quote balance plus open positions at cost, at the first check of the day (or 24 h)",
    )
    start_equity_at: datetime | None = None
    daily_loss_limit_in_force: Money | None = Field(
        default=None, description="the loss that trips REDUCING: the stricter of the two limits"
    )

    @classmethod
    @classmethod
    def now(cls, risk: RiskLimitsPolicy) -> RiskOut:
        """The policy's state, limits and exposure as they are now."""
        out = cls.of(
            risk.state, risk.reason, risk.changed_by, risk.changed_at, risk.limits, risk.exposure()
        )
        equity, in_force = risk.start_equity, risk.loss_limit()
        return out.model_copy(
            update={
                "start_equity": equity.amount if equity is not None else None,
                "start_equity_at": equity.at if equity is not None else None,
                "daily_loss_limit_in_force": in_force[1] if in_force is not None else None,
            }
        )

    @classmethod
    def of(
        cls,
        state: TradingState,
        reason: str | None,
        changed_by: str,
        changed_at: datetime | None,
        limits: RiskLimits,
        exposure: Exposure,
    ) -> RiskOut:
        return cls(
            state=state,
            reason=reason,
            changed_by=changed_by,
            changed_at=changed_at,
            limits=RiskLimitsOut(
                max_position_quote=limits.max_position_quote,
                max_total_exposure_quote=limits.max_total_exposure_quote,
                max_open_positions=limits.max_open_positions,
                daily_loss_limit=limits.daily_loss_limit,
                daily_loss_limit_percent=limits.daily_loss_limit_percent,
                daily_loss_window=limits.daily_loss_window,
                max_symbol_share=limits.max_symbol_share,
                max_orders_per_second=limits.max_orders_per_second,
                stop_loss_streak=limits.stop_loss_streak,
                stop_loss_cooldown_minutes=limits.stop_loss_cooldown_minutes,
                min_volume_24h_quote=limits.min_volume_24h_quote,
            ),
            open_positions=exposure.open_positions,
            exposure_quote=exposure.total_quote,
            pnl_today=exposure.pnl_today,
        )
