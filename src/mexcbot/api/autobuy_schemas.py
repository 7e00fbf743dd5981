"""Request and response bodies of `/api/v1/autobuy`.

Amounts are decimal strings in and out. The rule's own rules (a trigger's value and window, `*`
only for NEW_LISTING, a LIMIT IOC that can be priced) are the domain's (`AutoBuyRule`), whose
`InvalidRule` names the field; the exits reuse the positions API's `ExitsIn` and its output.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mexcbot.api.numbers import PlainDecimal, PlainInt
from mexcbot.api.position_schemas import ExitsIn, plan_out
from mexcbot.api.schemas import Money, PositiveAmount
from mexcbot.domain.autobuy import (
    ANY_SYMBOL,
    AutoBuyRule,
    BuyOrderType,
    ExecutionOutcome,
    RuleExecution,
    Trigger,
    TriggerType,
)
from mexcbot.domain.autobuy_triggers import RuleStats
from mexcbot.engine.autobuy.evaluation import Evaluation
from mexcbot.store.autobuy import StoredRule

_WEEK_S = 7 * 24 * 3600
_YEAR_S = 366 * 24 * 3600


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerIn(_Strict):
    type: TriggerType
    value: PositiveAmount | None = Field(
        default=None,
        description="PRICE_*: a price; PERCENT_*: a percent; VOLUME_SURGE: the multiple k",
    )
    window_seconds: PlainInt | None = Field(
        default=None, ge=1, le=_WEEK_S, description="PERCENT_* and VOLUME_SURGE: the window"
    )


class RuleBody(_Strict):
    """An auto-buy rule as created or replaced (PUT replaces every field)."""

    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    symbol: str = Field(
        default=ANY_SYMBOL,
        max_length=30,
        description="A symbol like BTCUSDT, or * for any new listing (NEW_LISTING only)",
    )
    quote_asset: str | None = Field(default=None, max_length=20)
    name_filter: str | None = Field(
        default=None, max_length=200, description="Case-insensitive regex on the base asset"
    )
    trigger: TriggerIn
    buy_amount_quote: PositiveAmount
    max_buy_price: PositiveAmount | None = None
    max_slippage_percent: Annotated[PlainDecimal, Field(ge=0, le=100, decimal_places=18)] = Decimal(
        5
    )
    min_volume_24h: PositiveAmount | None = None
    allow_pre_trading: bool = False
    cooldown_seconds: PlainInt = Field(default=0, ge=0, le=_YEAR_S)
    max_executions: PlainInt | None = Field(default=None, ge=1, le=1_000_000)
    order_type: BuyOrderType = BuyOrderType.LIMIT_IOC
    risk_check: bool = True
    exits: ExitsIn | None = None

    def rule(self) -> AutoBuyRule:
        """The domain rule; `InvalidRule` / `InvalidExitPlan` name the field at fault."""
        window = self.trigger.window_seconds
        return AutoBuyRule(
            name=self.name,
            enabled=self.enabled,
            symbol=self.symbol,
            quote_asset=self.quote_asset,
            name_filter=self.name_filter,
            trigger=Trigger(
                self.trigger.type,
                self.trigger.value,
                timedelta(seconds=window) if window is not None else None,
            ),
            buy_amount_quote=self.buy_amount_quote,
            max_buy_price=self.max_buy_price,
            max_slippage_percent=self.max_slippage_percent,
            min_volume_24h=self.min_volume_24h,
            allow_pre_trading=self.allow_pre_trading,
            cooldown=timedelta(seconds=self.cooldown_seconds),
            max_executions=self.max_executions,
            order_type=self.order_type,
            risk_check=self.risk_check,
            exits=self.exits.plan() if self.exits is not None else None,
        )


class TriggerOut(BaseModel):
    type: TriggerType
    value: Money | None
    window_seconds: int | None


class RuleOut(BaseModel):
    id: int
    name: str
    enabled: bool
    symbol: str
    quote_asset: str | None
    name_filter: str | None
    trigger: TriggerOut
    buy_amount_quote: Money
    max_buy_price: Money | None
    max_slippage_percent: Money
    min_volume_24h: Money | None
    allow_pre_trading: bool
    cooldown_seconds: int
    max_executions: int | None
    order_type: BuyOrderType
    risk_check: bool
    exits: dict[str, object] | None
    executions: int = Field(description="Executions that count: pending or bought something")
    last_executed_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, stored: StoredRule) -> RuleOut:
        return cls.of_rule(stored.rule, stored.stats)

    @classmethod
    def of_rule(cls, r: AutoBuyRule, stats: RuleStats) -> RuleOut:
        assert r.id is not None
        window = r.trigger.window
        return cls(
            id=r.id,
            name=r.name,
            enabled=r.enabled,
            symbol=r.symbol,
            quote_asset=r.quote_asset,
            name_filter=r.name_filter,
            trigger=TriggerOut(
                type=r.trigger.type,
                value=r.trigger.value,
                window_seconds=int(window.total_seconds()) if window is not None else None,
            ),
            buy_amount_quote=r.buy_amount_quote,
            max_buy_price=r.max_buy_price,
            max_slippage_percent=r.max_slippage_percent,
            min_volume_24h=r.min_volume_24h,
            allow_pre_trading=r.allow_pre_trading,
            cooldown_seconds=int(r.cooldown.total_seconds()),
            max_executions=r.max_executions,
            order_type=r.order_type,
            risk_check=r.risk_check,
            exits=plan_out(r.exits) if r.exits is not None else None,
            executions=stats.executions,
            last_executed_at=stats.last_executed_at,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class RulePageOut(BaseModel):
    rules: list[RuleOut]
    total: int


class EvaluationOut(BaseModel):
    rule_id: int
    would_buy: bool
    reasons: list[str]
    symbol: str | None
    reference_price: Money | None
    limit_price: Money | None
    quantity: Money | None
    quote_amount: Money | None
    matching_listings: list[str]

    @classmethod
    def of(cls, e: Evaluation) -> EvaluationOut:
        return cls(
            rule_id=e.rule_id,
            would_buy=e.would_buy,
            reasons=list(e.reasons),
            symbol=e.symbol,
            reference_price=e.reference_price,
            limit_price=e.limit_price,
            quantity=e.quantity,
            quote_amount=e.quote_amount,
            matching_listings=list(e.matching_listings),
        )


class ExecutionOut(BaseModel):
    id: int | None
    rule_id: int
    symbol: str
    trigger_type: TriggerType
    key: str
    reason: str
    outcome: ExecutionOutcome
    client_order_id: str | None
    position_id: int | None
    listing_id: int | None
    detail: str | None
    quantity: Money | None
    quote_spent: Money | None
    average_price: Money | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, e: RuleExecution) -> ExecutionOut:
        return cls(
            id=e.id,
            rule_id=e.rule_id,
            symbol=e.symbol,
            trigger_type=e.trigger_type,
            key=e.key,
            reason=e.reason,
            outcome=e.outcome,
            client_order_id=e.client_order_id,
            position_id=e.position_id,
            listing_id=e.listing_id,
            detail=e.detail,
            quantity=e.quantity,
            quote_spent=e.quote_spent,
            average_price=e.average_price,
            created_at=e.created_at,
            finished_at=e.finished_at,
        )


class ExecutionPageOut(BaseModel):
    executions: list[ExecutionOut]
    total: int
