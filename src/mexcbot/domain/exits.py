"""Exit rules of a position, as pure values: stop-loss, trailing stop, take-profit ladder.

MEXC spot has no stop orders over the API, so the engine emulates them on stream prices: this
module says WHAT the rules are and how a ladder splits a quantity; `mexcbot.domain.positions`
applies them to a position (`decide`). Prices given as a percent are relative to the position's
average entry and resolved when the position is evaluated, so a scale-in moves a % target with it.

Pure domain code: no I/O, Decimal only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from mexcbot.domain.symbols import SymbolRules

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
#: The store keeps 18 decimal places; derived prices are cut to that so they round-trip exactly.
PRICE_QUANTUM = Decimal("1e-18")


class InvalidExitPlan(ValueError):
    """An exit rule breaks a rule of its own; `field` names it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ExitTrigger(StrEnum):
    """Why an exit sells: part of the deterministic client order id."""

    STOP_LOSS = "stop"
    TRAILING_STOP = "trailing"
    TAKE_PROFIT = "tp"
    CLOSE = "close"


class TriggerPrice(StrEnum):
    """Which price an exit compares: the best bid (what a sell gets) by default."""

    BID = "BID"
    LAST = "LAST"
    MID = "MID"


def _positive(value: Decimal | None, name: str) -> None:
    if value is not None and not (value.is_finite() and value > 0):
        raise InvalidExitPlan(f"{name} must be a positive number; got {value}", field=name)


def _one_of(price: Decimal | None, percent: Decimal | None, name: str) -> None:
    if (price is None) == (percent is None):
        raise InvalidExitPlan(f"{name}: give exactly one of price or percent", field=name)
    _positive(price, f"{name}.price")
    _positive(percent, f"{name}.percent")


def below_entry(entry: Decimal, percent: Decimal) -> Decimal:
    return (entry * (_ONE - percent / _HUNDRED)).quantize(PRICE_QUANTUM, rounding=ROUND_DOWN)


def above_entry(entry: Decimal, percent: Decimal) -> Decimal:
    return (entry * (_ONE + percent / _HUNDRED)).quantize(PRICE_QUANTUM, rounding=ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class StopLoss:
    """Sell everything held at or below `price`, or `percent` below the average entry."""

    price: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        _one_of(self.price, self.percent, "stop_loss")
        if self.percent is not None and self.percent >= _HUNDRED:
            raise InvalidExitPlan("stop_loss.percent must be below 100", field="stop_loss.percent")

    def price_for(self, entry: Decimal) -> Decimal:
        if self.price is not None:
            return self.price
        assert self.percent is not None
        return below_entry(entry, self.percent)


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """From the activation price on (absolute, or % above entry), the stop follows the peak at
    `callback_percent` below it. Before activation the initial stop-loss applies."""

    callback_percent: Decimal
    activation_price: Decimal | None = None
    activation_percent: Decimal | None = None

    def __post_init__(self) -> None:
        _positive(self.callback_percent, "trailing.callback_percent")
        if self.callback_percent >= _HUNDRED:
            raise InvalidExitPlan(
                "trailing.callback_percent must be below 100", field="trailing.callback_percent"
            )
        if self.activation_price is not None and self.activation_percent is not None:
            raise InvalidExitPlan(
                "trailing: give at most one of activation_price or activation_percent",
                field="trailing.activation_price",
            )
        _positive(self.activation_price, "trailing.activation_price")
        _positive(self.activation_percent, "trailing.activation_percent")

    def activation_for(self, entry: Decimal) -> Decimal:
        """The price that arms the trailing stop; without one it is armed from the entry."""
        if self.activation_price is not None:
            return self.activation_price
        if self.activation_percent is not None:
            return above_entry(entry, self.activation_percent)
        return entry

    def stop_for(self, peak: Decimal) -> Decimal:
        return below_entry(peak, self.callback_percent)


@dataclass(frozen=True, slots=True)
class TakeProfitLevel:
    """Sell `fraction` of the position's entered quantity at `price` (or `percent` above entry)."""

    fraction: Decimal
    price: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        _one_of(self.price, self.percent, "take_profit")
        if not (self.fraction.is_finite() and Decimal(0) < self.fraction <= _ONE):
            raise InvalidExitPlan(
                f"take_profit.fraction must be in (0, 1]; got {self.fraction}",
                field="take_profit.fraction",
            )

    def price_for(self, entry: Decimal) -> Decimal:
        if self.price is not None:
            return self.price
        assert self.percent is not None
        return above_entry(entry, self.percent)


MAX_STOP_CONFIRM_TICKS = 100


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """All exit rules of one position. The last take-profit level takes what is left, whatever
    its fraction, so a ladder never leaves an unsold remainder behind; except that with a
    trailing stop and fractions below 1 the remainder is the trailing stop's to sell."""

    stop_loss: StopLoss | None = None
    trailing: TrailingStop | None = None
    take_profits: tuple[TakeProfitLevel, ...] = ()
    break_even_after_take_profit: bool = False
    trigger_price: TriggerPrice = TriggerPrice.BID
    max_slippage_percent: Decimal = Decimal(1)
    #: The stop (or trailing stop) sells only after this many ticks in a row at or below it:
    #: 1 sells on the first; more filters a lone wick at the cost of selling later.
    stop_confirm_ticks: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.stop_confirm_ticks <= MAX_STOP_CONFIRM_TICKS:
            raise InvalidExitPlan(
                f"stop_confirm_ticks must be in [1, {MAX_STOP_CONFIRM_TICKS}]; got "
                f"{self.stop_confirm_ticks}",
                field="stop_confirm_ticks",
            )
        total = sum((level.fraction for level in self.take_profits), Decimal(0))
        if total > _ONE:
            raise InvalidExitPlan(
                f"take_profits: fractions add up to {total}, more than 1",
                field="take_profits",
            )
        if not (Decimal(0) <= self.max_slippage_percent < _HUNDRED):
            raise InvalidExitPlan(
                "max_slippage_percent must be in [0, 100)", field="max_slippage_percent"
            )

    @property
    def ladder_takes_rest(self) -> bool:
        """Whether the last take-profit sells everything left: yes, unless a trailing stop is
        set and the fractions leave a part for it to run (then the trailing stop sells it)."""
        total = sum((level.fraction for level in self.take_profits), Decimal(0))
        return self.trailing is None or total >= _ONE

    @property
    def is_empty(self) -> bool:
        return self.stop_loss is None and self.trailing is None and not self.take_profits


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """Sell `quantity` now because `trigger` (ladder level `level`) fired at `price`."""

    trigger: ExitTrigger
    level: int
    quantity: Decimal
    price: Decimal

    def idempotency_key(self, position_id: int) -> str:
        """The exit's deterministic key: a repeated tick, a restart or a second process that
        reaches the same decision derives the same client order id and cannot sell twice."""
        return f"position:{position_id}:{self.trigger}:{self.level}"


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One sell of the ladder after merging: covers original levels up to `level` inclusive."""

    level: int
    target: Decimal
    quantity: Decimal


def sellable(rules: SymbolRules, quantity: Decimal, price: Decimal) -> bool:
    """Whether the exchange would take a market sell of `quantity` at about `price`."""
    return (
        quantity > 0
        and quantity >= rules.min_quantity
        and quantity * price >= max(rules.min_notional, rules.min_notional_market)
    )


@dataclass(slots=True)
class _Remaining:
    quantity: Decimal
    carried: Decimal = field(default=Decimal(0))


def plan_ladder(
    levels: tuple[TakeProfitLevel, ...],
    *,
    first_level: int,
    entry: Decimal,
    entered: Decimal,
    held: Decimal,
    rules: SymbolRules,
    last_takes_rest: bool = True,
) -> list[LadderStep]:
    """The remaining sells of the ladder from `first_level` on, for what is `held` now.

    Each level sells its fraction of the `entered` quantity, rounded down to the step; the last
    takes the rest. A level too small to sell (minimum quantity or notional) merges into the
    next; a level that would leave an unsellable remainder sells everything instead.
    """
    left = _Remaining(rules.quantize_quantity(held))
    steps: list[LadderStep] = []
    last = len(levels) - 1
    for index in range(first_level, len(levels)):
        if left.quantity <= 0:
            break
        level = levels[index]
        target = level.price_for(entry)
        if index == last and last_takes_rest:
            quantity = left.quantity
        else:
            share = rules.quantize_quantity(level.fraction * entered)
            quantity = min(left.quantity, share + left.carried)
        if not sellable(rules, quantity, target) and (index != last or not last_takes_rest):
            if index == last:
                break
            left.carried = quantity
            continue
        remainder = left.quantity - quantity
        if remainder > 0 and not sellable(rules, remainder, target):
            quantity = left.quantity
        steps.append(LadderStep(level=index, target=target, quantity=quantity))
        left.quantity -= quantity
        left.carried = Decimal(0)
    return steps
