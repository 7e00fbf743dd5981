"""Auto-buy rules as pure values: when to buy what, how much, at most at what price, with which
exits; and the record of each time a rule fired.

A rule names a symbol, or ``*`` for any new listing (narrowed by quote asset and a base-asset
name filter), a trigger, the amount to spend in the quote asset and the guards that always apply
(max price, max slippage, min 24 h volume, cooldown, max executions, the risk check). The bought
quantity opens a position with the rule's exits (`ExitPlan`, as for a manual position).

Pure domain code: no I/O, Decimal only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from mexcbot.domain.exits import ExitPlan

ANY_SYMBOL = "*"
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


class InvalidRule(ValueError):
    """A rule field breaks a rule; `field` names it and the message says which rule."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class TriggerType(StrEnum):
    NEW_LISTING = "NEW_LISTING"
    PRICE_BELOW = "PRICE_BELOW"  # value: a price
    PRICE_ABOVE = "PRICE_ABOVE"  # value: a price
    PERCENT_DROP = "PERCENT_DROP"  # value: percent below the rolling max over `window`
    PERCENT_RISE = "PERCENT_RISE"  # value: percent above the rolling min over `window`
    VOLUME_SURGE = "VOLUME_SURGE"  # value: k; window volume >= k x the rolling median


#: Triggers that need a value, and what the value is.
_TRIGGER_VALUE = {
    TriggerType.PRICE_BELOW: "a price",
    TriggerType.PRICE_ABOVE: "a price",
    TriggerType.PERCENT_DROP: "a percent",
    TriggerType.PERCENT_RISE: "a percent",
    TriggerType.VOLUME_SURGE: "a multiple of the rolling median volume",
}
_WINDOWED = {TriggerType.PERCENT_DROP, TriggerType.PERCENT_RISE, TriggerType.VOLUME_SURGE}


class BuyOrderType(StrEnum):
    """How a rule buys: a LIMIT IOC capped at its max price (the default), or a MARKET buy by
    quote amount where the rule allows the exchange's own price protection to be the cap."""

    LIMIT_IOC = "LIMIT_IOC"
    MARKET = "MARKET"


@dataclass(frozen=True, slots=True)
class Trigger:
    type: TriggerType
    value: Decimal | None = None
    window: timedelta | None = None

    def __post_init__(self) -> None:
        needs = _TRIGGER_VALUE.get(self.type)
        if needs is None:
            if self.value is not None:
                raise InvalidRule(
                    f"trigger.value must be empty for {self.type}", field="trigger.value"
                )
        elif self.value is None or not (self.value.is_finite() and self.value > 0):
            raise InvalidRule(
                f"trigger.value must be {needs} greater than 0 for {self.type}",
                field="trigger.value",
            )
        if self.type in _WINDOWED:
            if self.window is None or self.window <= timedelta(0):
                raise InvalidRule(
                    f"trigger.window must be a positive duration for {self.type}",
                    field="trigger.window",
                )
        elif self.window is not None:
            raise InvalidRule(
                f"trigger.window must be empty for {self.type}", field="trigger.window"
            )
        if self.type in (TriggerType.PERCENT_DROP, TriggerType.PERCENT_RISE):
            assert self.value is not None
            if self.value >= _HUNDRED and self.type is TriggerType.PERCENT_DROP:
                raise InvalidRule("trigger.value must be below 100 percent", field="trigger.value")


def _positive(value: Decimal | None, name: str) -> None:
    if value is not None and not (value.is_finite() and value > 0):
        raise InvalidRule(f"{name} must be a number greater than 0; got {value}", field=name)


@dataclass(frozen=True, slots=True)
class AutoBuyRule:
    name: str
    trigger: Trigger
    buy_amount_quote: Decimal
    symbol: str = ANY_SYMBOL
    enabled: bool = True
    quote_asset: str | None = None
    """For ``*``: only listings quoted in this asset (e.g. USDT)."""
    name_filter: str | None = None
    """For ``*``: a case-insensitive regular expression the base asset must match."""
    max_buy_price: Decimal | None = None
    max_slippage_percent: Decimal = Decimal(5)
    """A LIMIT IOC is priced at reference x (1 + this %), never above `max_buy_price`."""
    min_volume_24h: Decimal | None = None
    """In the quote asset; not applied to NEW_LISTING (a new coin has no 24 h volume)."""
    allow_pre_trading: bool = False
    """NEW_LISTING: fire at the announced open time, before the symbol was seen tradable."""
    cooldown: timedelta = timedelta(0)
    max_executions: int | None = None
    order_type: BuyOrderType = BuyOrderType.LIMIT_IOC
    risk_check: bool = True
    exits: ExitPlan | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not (1 <= len(self.name.strip()) <= 100):
            raise InvalidRule("name must be 1 to 100 characters", field="name")
        if self.symbol != ANY_SYMBOL and not _SYMBOL.match(self.symbol):
            raise InvalidRule(
                "symbol must be '*' or 2 to 30 upper-case letters and digits (e.g. BTCUSDT)",
                field="symbol",
            )
        if self.symbol == ANY_SYMBOL and self.trigger.type is not TriggerType.NEW_LISTING:
            raise InvalidRule(
                f"symbol '*' is only for NEW_LISTING rules; {self.trigger.type} needs a symbol",
                field="symbol",
            )
        if self.quote_asset is not None and not _ASSET.match(self.quote_asset):
            raise InvalidRule(
                "quote_asset must be 1 to 20 upper-case letters and digits", field="quote_asset"
            )
        if self.name_filter is not None:
            try:
                re.compile(self.name_filter)
            except re.error as exc:
                raise InvalidRule(
                    f"name_filter must be a valid regular expression: {exc}", field="name_filter"
                ) from None
        _positive(self.buy_amount_quote, "buy_amount_quote")
        _positive(self.max_buy_price, "max_buy_price")
        _positive(self.min_volume_24h, "min_volume_24h")
        if not (self.max_slippage_percent.is_finite() and 0 <= self.max_slippage_percent <= 100):
            raise InvalidRule(
                "max_slippage_percent must be between 0 and 100", field="max_slippage_percent"
            )
        if self.cooldown < timedelta(0):
            raise InvalidRule("cooldown must not be negative", field="cooldown")
        if self.max_executions is not None and self.max_executions < 1:
            raise InvalidRule("max_executions must be at least 1", field="max_executions")
        if (
            self.order_type is BuyOrderType.LIMIT_IOC
            and self.trigger.type is TriggerType.NEW_LISTING
            and self.max_buy_price is None
            and self.max_slippage_percent == 0
        ):
            raise InvalidRule(
                "a NEW_LISTING LIMIT_IOC rule needs max_buy_price or a max_slippage_percent "
                "above 0 to price its order",
                field="max_buy_price",
            )

    def matches_listing(self, symbol: str, base_asset: str, quote_asset: str) -> bool:
        """Whether this rule buys the new listing `symbol` (enabled NEW_LISTING rules only)."""
        if not self.enabled or self.trigger.type is not TriggerType.NEW_LISTING:
            return False
        if self.symbol != ANY_SYMBOL:
            return self.symbol == symbol
        if self.quote_asset is not None and self.quote_asset != quote_asset:
            return False
        if self.name_filter is not None:
            return re.search(self.name_filter, base_asset, re.IGNORECASE) is not None
        return True

    def limit_price(self, reference: Decimal | None) -> Decimal | None:
        """The most a LIMIT IOC of this rule may pay: reference x (1 + slippage), capped by
        `max_buy_price`; None when neither is known (the rule cannot price its order)."""
        capped = None
        if reference is not None and reference > 0:
            capped = reference * (_ONE + self.max_slippage_percent / _HUNDRED)
        if self.max_buy_price is not None:
            capped = self.max_buy_price if capped is None else min(capped, self.max_buy_price)
        return capped


class ExecutionOutcome(StrEnum):
    PENDING = "PENDING"  # persisted, the order is (about to be) sent
    FILLED = "FILLED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    NOT_FILLED = "NOT_FILLED"  # the IOC found nothing at or below its price
    REJECTED = "REJECTED"  # the exchange refused it (after the retries, for a snipe)
    SKIPPED = "SKIPPED"  # a guard stopped it (cooldown, max executions, risk, price, volume)
    FAILED = "FAILED"  # the bot could not place it (deadline, exchange unreachable)


FINAL_OUTCOMES = frozenset(ExecutionOutcome) - {ExecutionOutcome.PENDING}


@dataclass(frozen=True, slots=True)
class RuleExecution:
    """One firing of a rule: why, what it bought and how it ended. `key` makes it unique per
    rule (a listing's id for NEW_LISTING, the trigger's moment for price rules), so two
    detectors or a restart can never fire a rule twice for the same cause."""

    rule_id: int
    symbol: str
    trigger_type: TriggerType
    key: str
    reason: str
    outcome: ExecutionOutcome
    created_at: datetime
    client_order_id: str | None = None
    position_id: int | None = None
    listing_id: int | None = None
    detail: str | None = None
    quantity: Decimal | None = None
    quote_spent: Decimal | None = None
    average_price: Decimal | None = None
    finished_at: datetime | None = None
    id: int | None = None
