"""When an auto-buy rule's trigger fires, as pure values: rolling windows and the guards.

The trigger watch (`mexcbot.engine.autobuy.triggers`) feeds every price it sees into one
`TriggerState` per rule; `observe` answers a `TriggerHit` (the stable key of the trigger moment,
the reason, the reference price) or None. Triggers are edge-triggered: a PRICE_BELOW rule fires
when the price goes below its value, and again only after the price was back above it, so a
price resting below fires once, not on every tick. A key names the moment (`{trigger}:{ms}`),
so a repeated evaluation of the same moment can never buy twice.

Windows cost O(1) amortised per price: the rolling max / min are monotonic deques, and the
volume windows are fixed buckets aligned to the epoch (`window-start ms` is part of the key).

`guard_reason` is the one place the cooldown and max-executions rules are written.

Pure domain code: no I/O, Decimal only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import median

from mexcbot.domain.autobuy import AutoBuyRule, Trigger, TriggerType

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A VOLUME_SURGE needs this many completed past windows before its median means anything.
MIN_VOLUME_HISTORY = 3
#: How many completed windows the rolling median looks back over.
VOLUME_HISTORY = 20


def epoch_ms(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class RuleStats:
    """What a rule has done so far: the executions that count (PENDING or bought something)
    and when it last fired (any attempt), the inputs of the guards."""

    executions: int = 0
    last_executed_at: datetime | None = None


def guard_reason(rule: AutoBuyRule, stats: RuleStats, now: datetime) -> str | None:
    """Why the rule may not fire now (disabled, max executions reached, in its cooldown), or
    None when it may."""
    if not rule.enabled:
        return "the rule is disabled"
    if rule.max_executions is not None and stats.executions >= rule.max_executions:
        return f"max_executions reached ({stats.executions} of {rule.max_executions})"
    if stats.last_executed_at is not None and rule.cooldown > timedelta(0):
        ready_at = stats.last_executed_at + rule.cooldown
        if now < ready_at:
            left = (ready_at - now).total_seconds()
            total = rule.cooldown.total_seconds()
            return f"in its cooldown for {left:.1f} s more (cooldown {total:g} s)"
    return None


@dataclass(frozen=True, slots=True)
class TriggerHit:
    key: str
    """Stable id of the trigger moment: the execution's key (unique per rule)."""
    reason: str
    reference_price: Decimal


class RollingExtremes:
    """The max and min price seen within the last `span` (monotonic deques)."""

    def __init__(self, span: timedelta) -> None:
        self._span = span
        self._max: deque[tuple[datetime, Decimal]] = deque()
        self._min: deque[tuple[datetime, Decimal]] = deque()

    def add(self, at: datetime, price: Decimal) -> None:
        while self._max and self._max[-1][1] <= price:
            self._max.pop()
        self._max.append((at, price))
        while self._min and self._min[-1][1] >= price:
            self._min.pop()
        self._min.append((at, price))
        cutoff = at - self._span
        while self._max[0][0] < cutoff:
            self._max.popleft()
        while self._min[0][0] < cutoff:
            self._min.popleft()

    @property
    def max(self) -> Decimal | None:
        return self._max[0][1] if self._max else None

    @property
    def min(self) -> Decimal | None:
        return self._min[0][1] if self._min else None


@dataclass(slots=True)
class VolumeWindows:
    """Traded volume in fixed windows of `span` aligned to the epoch: the current window's
    total and the completed windows before it (empty windows count as 0)."""

    span: timedelta
    current_start_ms: int | None = None
    current: Decimal = Decimal(0)
    past: deque[Decimal] = field(default_factory=lambda: deque(maxlen=VOLUME_HISTORY))

    def add(self, at: datetime, volume: Decimal) -> None:
        span_ms = max(1, self.span // timedelta(milliseconds=1))
        start = epoch_ms(at) // span_ms * span_ms
        if self.current_start_ms is None:
            self.current_start_ms = start
        elif start > self.current_start_ms:
            skipped = (start - self.current_start_ms) // span_ms - 1
            self.past.append(self.current)
            for _ in range(min(skipped, VOLUME_HISTORY)):
                self.past.append(Decimal(0))
            self.current_start_ms, self.current = start, Decimal(0)
        elif start < self.current_start_ms:
            return  # a late push for a finished window: its total is already counted
        self.current += volume

    def median(self) -> Decimal | None:
        if len(self.past) < MIN_VOLUME_HISTORY:
            return None
        return Decimal(median(self.past))


class TriggerState:
    """One rule's trigger evaluated on a symbol's prices (and traded volumes), in time order."""

    def __init__(self, trigger: Trigger) -> None:
        self.trigger = trigger
        self._armed = True
        window = trigger.window or timedelta(0)
        self.extremes = RollingExtremes(window)
        self.volumes = VolumeWindows(window)

    def observe(self, at: datetime, price: Decimal | None, volume: Decimal) -> TriggerHit | None:
        """Show one price (None: only volume) and the volume traded since the previous call."""
        kind = self.trigger.type
        if kind is TriggerType.VOLUME_SURGE:
            return self._volume(at, price, volume)
        if price is None or kind is TriggerType.NEW_LISTING:
            return None
        condition, reason = self._condition(at, price)
        if not condition:
            self._armed = True
            return None
        if not self._armed:
            return None
        self._armed = False
        return TriggerHit(f"{kind.value}:{epoch_ms(at)}", reason, price)

    def _condition(self, at: datetime, price: Decimal) -> tuple[bool, str]:
        value = self.trigger.value
        assert value is not None
        match self.trigger.type:
            case TriggerType.PRICE_BELOW:
                return price < value, f"price {price} below {value}"
            case TriggerType.PRICE_ABOVE:
                return price > value, f"price {price} above {value}"
            case TriggerType.PERCENT_DROP:
                self.extremes.add(at, price)
                peak = self.extremes.max
                assert peak is not None
                floor = peak * (_ONE - value / _HUNDRED)
                return price <= floor, f"price {price} is {value}% or more below {peak}"
            case TriggerType.PERCENT_RISE:
                self.extremes.add(at, price)
                low = self.extremes.min
                assert low is not None
                top = low * (_ONE + value / _HUNDRED)
                return price >= top, f"price {price} is {value}% or more above {low}"
        return False, ""

    def _volume(self, at: datetime, price: Decimal | None, volume: Decimal) -> TriggerHit | None:
        windows = self.volumes
        before = windows.current_start_ms
        windows.add(at, volume)
        if windows.current_start_ms != before:
            self._armed = True  # a new window may fire once
        typical = windows.median()
        value = self.trigger.value
        assert value is not None
        if not self._armed or typical is None or typical <= 0 or price is None:
            return None
        if windows.current < value * typical:
            return None
        self._armed = False
        return TriggerHit(
            f"{TriggerType.VOLUME_SURGE.value}:{windows.current_start_ms}",
            f"volume {windows.current} in the window is {value}x or more the median {typical}",
            price,
        )
