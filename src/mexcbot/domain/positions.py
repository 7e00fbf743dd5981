"""The position aggregate: a LONG spot holding built from its fills, its PnL and its exits.

Pure domain code: no I/O, Decimal only. Accounting is average cost, net of fees:

- an entry (BUY) fill adds its quantity, less a fee paid in the base asset (that part never
  reaches the account), and adds its quote cost plus a fee paid in the quote asset;
- an exit (SELL) fill releases the average cost of what it sold; its proceeds, less a fee in
  quote, minus that cost is realised PnL;
- unrealised PnL at a price is what is held at that price minus the cost still held.

So `realised + unrealised(p) == proceeds + held * p - spent` exactly (the property tests check
it). A fee paid in a third asset (MX) is kept in the fill history but not priced into PnL.

Exits are decided by `mexcbot.domain.exit_decisions.decide`, a pure function of the position, a
price and the symbol's rules; `observe` is the one mutation a price causes (excursions, the
trailing peak, the ratcheting stop), so a restart resumes from what was persisted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from mexcbot.domain.exits import (
    PRICE_QUANTUM,
    ExitDecision,
    ExitPlan,
    ExitTrigger,
)
from mexcbot.domain.orders import OrderSide

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
#: Failed exit orders (rejected, expired unfilled) before the position is marked failed to exit.
MAX_EXIT_FAILURES = 3


class PositionSide(StrEnum):
    LONG = "LONG"


class PositionStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class PositionType(StrEnum):
    MANUAL = "MANUAL"
    AUTOMATIC = "AUTOMATIC"
    NEWCOIN = "NEWCOIN"


class PositionError(ValueError):
    """An operation the position's state or rules forbid; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class PositionFill:
    """One fill that moved the position; unique per (client_order_id, exchange_trade_id)."""

    client_order_id: str
    exchange_trade_id: str
    side: OrderSide
    price: Decimal
    quantity: Decimal
    commission: Decimal
    commission_asset: str
    time: datetime


@dataclass(eq=False, slots=True)
class Position:
    """A LONG spot position. Mutate only through the methods; each returns whether it changed
    anything, so the caller knows whether to persist and publish."""

    symbol: str
    base_asset: str
    quote_asset: str
    type: PositionType
    opened_at: datetime
    id: int | None = None
    side: PositionSide = PositionSide.LONG
    status: PositionStatus = PositionStatus.OPEN
    quantity: Decimal = _ZERO  # held, net of fees paid in the base asset
    entered_quantity: Decimal = _ZERO  # everything bought, net: ladder fractions refer to it
    cost: Decimal = _ZERO  # quote cost of what is held, fees included
    spent_quote: Decimal = _ZERO
    proceeds_quote: Decimal = _ZERO
    realised_pnl: Decimal = _ZERO
    fees_quote: Decimal = _ZERO
    peak_price: Decimal | None = None
    trough_price: Decimal | None = None
    exits: ExitPlan = field(default_factory=ExitPlan)
    stop_price: Decimal | None = None
    stop_trigger: ExitTrigger | None = None
    trailing_peak: Decimal | None = None  # None until the trailing stop is activated
    take_profits_done: int = 0
    exit_seq: int = 0
    exit_order_id: str | None = None
    exit_trigger: ExitTrigger | None = None
    exit_level: int | None = None
    exit_failures: int = 0
    exit_failed_reason: str | None = None
    dust_quantity: Decimal = _ZERO
    stop_breaches: int = 0  # ticks in a row at or below the stop (in memory: a restart recounts)
    notes: str | None = None
    closed_at: datetime | None = None
    fills: list[PositionFill] = field(default_factory=list)
    version: int = 0  # the stored row's version: the repository manages it
    _entry_cache: tuple[Decimal, Decimal, Decimal | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _targets_cache: tuple[tuple[Decimal, ExitPlan, int], tuple[Decimal, Decimal | None]] | None = (
        field(default=None, init=False, repr=False, compare=False)
    )

    # --- derived -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status is PositionStatus.OPEN

    @property
    def average_entry(self) -> Decimal | None:
        """Cost per unit held, fees included: the break-even price. Cached against (cost,
        quantity): every tick of the exit monitor reads it."""
        cost, quantity = self.cost, self.quantity
        cached = self._entry_cache
        if cached is not None and cached[0] is cost and cached[1] is quantity:
            return cached[2]
        entry = (
            None
            if quantity <= 0
            else (cost / quantity).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
        )
        self._entry_cache = (cost, quantity, entry)
        return entry

    def unrealised_pnl(self, price: Decimal) -> Decimal:
        return self.quantity * price - self.cost if self.quantity > 0 else _ZERO

    def pnl(self, price: Decimal | None) -> Decimal:
        return self.realised_pnl + (self.unrealised_pnl(price) if price is not None else _ZERO)

    def pnl_percent(self, price: Decimal | None) -> Decimal | None:
        """Total PnL as a percent of everything spent on entries."""
        if self.spent_quote <= 0:
            return None
        return self.pnl(price) * _HUNDRED / self.spent_quote

    def excursions(self) -> tuple[Decimal | None, Decimal | None]:
        """Max favourable and max adverse excursion, in percent of the average entry."""
        entry = self.average_entry
        if entry is None or self.peak_price is None or self.trough_price is None:
            return None, None
        return (
            (self.peak_price - entry) * _HUNDRED / entry,
            (self.trough_price - entry) * _HUNDRED / entry,
        )

    # --- fills -------------------------------------------------------------------------------

    def apply_fill(self, fill: PositionFill) -> bool:
        """Apply an entry (BUY) or exit (SELL) fill once; a fill already applied is a no-op."""
        if any(
            f.exchange_trade_id == fill.exchange_trade_id
            and f.client_order_id == fill.client_order_id
            for f in self.fills
        ):
            return False
        if self.status is PositionStatus.CLOSED:
            raise PositionError(f"position {self.id} is closed: it takes no more fills")
        if fill.side is OrderSide.BUY:
            self._apply_entry(fill)
        else:
            self._apply_exit(fill)
        self.fills.append(fill)
        return True

    def _fee_in(self, fill: PositionFill) -> tuple[Decimal, Decimal]:
        """(fee in base, fee in quote) of a fill."""
        if fill.commission_asset == self.base_asset:
            return fill.commission, _ZERO
        if fill.commission_asset == self.quote_asset:
            return _ZERO, fill.commission
        return _ZERO, _ZERO

    def _apply_entry(self, fill: PositionFill) -> None:
        base_fee, quote_fee = self._fee_in(fill)
        spent = fill.price * fill.quantity + quote_fee
        received = fill.quantity - base_fee
        self.quantity += received
        self.entered_quantity += received
        self.cost += spent
        self.spent_quote += spent
        self.fees_quote += quote_fee + base_fee * fill.price
        self._rearm_percent_stop()

    def _apply_exit(self, fill: PositionFill) -> None:
        base_fee, quote_fee = self._fee_in(fill)
        sold = fill.quantity + base_fee
        if sold > self.quantity:
            raise PositionError(
                f"position {self.id}: exit fill of {sold} exceeds the {self.quantity} held",
                field="quantity",
            )
        proceeds = fill.price * fill.quantity - quote_fee
        if sold == self.quantity:
            released = self.cost
        else:
            released = (self.cost * sold / self.quantity).quantize(
                PRICE_QUANTUM, rounding=ROUND_HALF_EVEN
            )
        self.quantity -= sold
        self.cost -= released
        self.proceeds_quote += proceeds
        self.realised_pnl += proceeds - released
        self.fees_quote += quote_fee + base_fee * fill.price
        if self.quantity == 0:
            self._close(fill.time)

    def _close(self, at: datetime) -> None:
        self.status = PositionStatus.CLOSED
        self.closed_at = at
        self.dust_quantity = self.quantity

    def close_with_dust(self, at: datetime) -> bool:
        """Close a position whose remainder the exchange will not take (below its minimums):
        the dust stays reported in `dust_quantity`, never hidden."""
        if not self.is_open or self.exit_order_id is not None:
            return False
        self._close(at)
        return True

    # --- exit rules --------------------------------------------------------------------------

    def set_exits(self, plan: ExitPlan) -> None:
        """Replace the exit rules. A stop that would move against the position is refused: the
        stop only ever moves in the position's favour."""
        if not self.is_open:
            raise PositionError(f"position {self.id} is closed: its exits cannot change")
        entry, current = self.average_entry, self.exits.stop_loss
        if plan.stop_loss is not None and current is not None and entry is not None:
            wanted, was = plan.stop_loss.price_for(entry), current.price_for(entry)
            if wanted < was:
                raise PositionError(
                    f"stop_loss: {wanted} is below the current stop-loss {was}; a stop only "
                    "moves in the position's favour",
                    field="stop_loss",
                )
        self.exits = plan
        if plan.stop_loss is None:
            self.stop_price, self.stop_trigger = None, None
        if plan.trailing is None:
            self.trailing_peak = None
            if self.stop_trigger is ExitTrigger.TRAILING_STOP:
                self.stop_price, self.stop_trigger = None, None
        self.take_profits_done = min(self.take_profits_done, len(plan.take_profits))
        self._rearm_percent_stop()

    def _raise_stop(self, price: Decimal, trigger: ExitTrigger) -> bool:
        if self.stop_price is None or price > self.stop_price:
            self.stop_price, self.stop_trigger = price, trigger
            return True
        return False

    def _rearm_percent_stop(self) -> None:
        entry = self.average_entry
        if self.exits.stop_loss is not None and entry is not None:
            self._raise_stop(self.exits.stop_loss.price_for(entry), ExitTrigger.STOP_LOSS)

    def observe(self, price: Decimal) -> bool:
        """Record a trigger price: excursions, the trailing peak and the stop it drags up.
        Returns whether the exit state (what must be persisted) changed."""
        if not self.is_open or self.quantity <= 0:
            return False
        changed = False
        if self.peak_price is None or price > self.peak_price:
            self.peak_price, changed = price, True
        if self.trough_price is None or price < self.trough_price:
            self.trough_price, changed = price, True
        stop = self.stop_price
        self.stop_breaches = self.stop_breaches + 1 if stop is not None and price <= stop else 0
        trailing = self.exits.trailing
        if trailing is None:
            return changed
        peak = self.trailing_peak
        if peak is None:
            entry = self.average_entry
            if entry is None or price < self._targets(entry)[0]:
                return changed
        elif price <= peak:
            return changed
        self.trailing_peak = price
        self._raise_stop(trailing.stop_for(price), ExitTrigger.TRAILING_STOP)
        return True

    def record_range(self, high: Decimal, low: Decimal) -> bool:
        """Fold the highest and lowest trigger prices seen since the last call into the
        excursions (MFE / MAE). The exit monitor tracks a symbol's running high and low per
        tick and applies them here lazily (before the position is read, changed or persisted),
        so a tick that moves nothing else costs no work per position. Same result as
        `observe` on each of those prices, for the excursions."""
        if not self.is_open or self.quantity <= 0:
            return False
        changed = False
        if self.peak_price is None or high > self.peak_price:
            self.peak_price, changed = high, True
        if self.trough_price is None or low < self.trough_price:
            self.trough_price, changed = low, True
        return changed

    def trailing_activation(self) -> Decimal | None:
        """The price that activates the trailing stop at the current average entry (None
        without a trailing stop or an entry)."""
        entry = self.average_entry
        if self.exits.trailing is None or entry is None:
            return None
        return self._targets(entry)[0]

    def _targets(self, entry: Decimal) -> tuple[Decimal, Decimal | None]:
        """(trailing activation, lowest remaining take-profit target) at `entry`, cached
        against (entry, rules, ladder progress): the exit monitor asks on every tick."""
        key = (entry, self.exits, self.take_profits_done)
        cached = self._targets_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        trailing = self.exits.trailing
        activation = trailing.activation_for(entry) if trailing is not None else entry
        remaining = self.exits.take_profits[self.take_profits_done :]
        lowest = min((level.price_for(entry) for level in remaining), default=None)
        self._targets_cache = (key, (activation, lowest))
        return activation, lowest

    def lowest_target(self) -> Decimal | None:
        """The lowest remaining take-profit target at the current average entry."""
        entry = self.average_entry
        return None if entry is None else self._targets(entry)[1]

    # --- the exit in flight ------------------------------------------------------------------

    def begin_exit(self, decision: ExitDecision, client_order_id: str) -> None:
        """Record the exit order about to be placed: at most one is in flight at a time."""
        if self.exit_order_id is not None and self.exit_order_id != client_order_id:
            raise PositionError(
                f"position {self.id} already has exit order {self.exit_order_id} in flight"
            )
        self.exit_order_id = client_order_id
        self.exit_trigger, self.exit_level = decision.trigger, decision.level

    def replace_exit_order(self, client_order_id: str) -> None:
        """The exit in flight goes out as another order (a LIMIT IOC after a refused market
        sell): the refused one is final with nothing sold, so it still is one exit at a time."""
        if self.exit_order_id is None:
            raise PositionError(f"position {self.id} has no exit in flight to replace")
        self.exit_order_id = client_order_id

    def finish_exit(self, client_order_id: str, *, executed: Decimal, reason: str | None) -> bool:
        """The exit order reached a final status; `executed` is what it sold. An exit that sold
        nothing counts as a failure; after `MAX_EXIT_FAILURES` the position is marked failed
        to exit (it stays OPEN and is reported, loudly)."""
        if self.exit_order_id != client_order_id:
            return False
        if executed > 0:
            if self.exit_trigger is ExitTrigger.TAKE_PROFIT and self.exit_level is not None:
                self.take_profits_done = max(self.take_profits_done, self.exit_level + 1)
                entry = self.average_entry
                if self.exits.break_even_after_take_profit and entry is not None:
                    self._raise_stop(entry, ExitTrigger.STOP_LOSS)
            self.exit_failures = 0
        else:
            self.exit_failures += 1
            if self.exit_failures >= MAX_EXIT_FAILURES:
                self.exit_failed_reason = reason or "exit orders sold nothing"
        self.exit_seq += 1
        self.exit_order_id = self.exit_trigger = self.exit_level = None
        return True
