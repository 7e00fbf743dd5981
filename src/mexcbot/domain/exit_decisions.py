"""Exit decisions: what a price means for a position, as pure functions of its state.

`decide` is the one decision function of the exit monitor (stop, trailing, take-profit ladder);
`close_decision` the user's "sell what is left"; `trigger_band` the price range in which a tick
decides nothing and moves no stop, which lets the monitor skip most ticks in one comparison
(`quiet_band`, narrower, also excludes a new high or low).

Pure domain code: no I/O, Decimal only.
"""

from __future__ import annotations

from decimal import Decimal

from mexcbot.domain.exits import ExitDecision, ExitTrigger, plan_ladder, sellable
from mexcbot.domain.positions import Position, PositionError
from mexcbot.domain.symbols import SymbolRules


def decide(position: Position, price: Decimal, rules: SymbolRules) -> ExitDecision | None:
    """What to sell now at trigger `price`, or None. Pure: call `Position.observe(price)` first
    so the trailing stop has seen the price. The stop wins over a take-profit on the same tick;
    nothing is decided while an exit is in flight or after the position failed to exit."""
    if (
        not position.is_open
        or position.exit_order_id is not None
        or position.exit_failed_reason is not None
        or position.quantity <= 0
    ):
        return None
    held = rules.quantize_quantity(position.quantity)
    stop = position.stop_price
    if stop is not None and price <= stop:
        confirm = position.exits.stop_confirm_ticks
        if confirm > 1 and position.stop_breaches < confirm:
            return None  # not confirmed yet: `observe` counts the ticks at or below the stop
        if not sellable(rules, held, price):
            return None
        trigger = position.stop_trigger or ExitTrigger.STOP_LOSS
        return ExitDecision(trigger, position.exit_seq, held, price)
    entry = position.average_entry
    remaining = position.exits.take_profits[position.take_profits_done :]
    if entry is None or not remaining:
        return None
    lowest = position.lowest_target()
    if lowest is None or price < lowest:
        return None  # below every target: merging only moves a sell to a higher target
    steps = plan_ladder(
        position.exits.take_profits,
        first_level=position.take_profits_done,
        entry=entry,
        entered=position.entered_quantity,
        held=position.quantity,
        rules=rules,
        last_takes_rest=position.exits.ladder_takes_rest,
    )
    if steps and price >= steps[0].target and sellable(rules, steps[0].quantity, price):
        step = steps[0]
        return ExitDecision(ExitTrigger.TAKE_PROFIT, step.level, step.quantity, price)
    return None


def quiet_band(position: Position) -> tuple[Decimal, Decimal] | None:
    """The open price interval (floor, ceiling) in which a tick changes nothing: `observe`
    returns False and `decide` returns None. None when there is no such interval yet (nothing
    observed). The exit monitor skips such ticks without evaluating: the common case, since a
    tick rarely makes a new high or low, or crosses a stop or a target.

    Conservative by construction: floor is the higher of the stop and the lowest price seen;
    ceiling the lowest of the highest price seen, the trailing activation (while inactive) and
    every remaining take-profit target (merging only ever moves a sell to a higher target)."""
    peak, trough = position.peak_price, position.trough_price
    if not position.is_open or peak is None or trough is None:
        return None
    floor = trough if position.stop_price is None else max(trough, position.stop_price)
    ceiling = peak
    entry = position.average_entry
    if entry is not None:
        trailing = position.exits.trailing
        if trailing is not None and position.trailing_peak is None:
            ceiling = min(ceiling, trailing.activation_for(entry))
        for level in position.exits.take_profits[position.take_profits_done :]:
            ceiling = min(ceiling, level.price_for(entry))
    if floor >= ceiling:
        return None
    return floor, ceiling


NO_FLOOR = Decimal("-Infinity")
NO_CEILING = Decimal("Infinity")


def trigger_band(position: Position) -> tuple[Decimal, Decimal]:
    """The open price interval (floor, ceiling) in which a tick decides nothing and moves no
    stop: `decide` returns None and `observe` changes at most the excursions (MFE / MAE),
    which the exit monitor applies lazily (`Position.record_range`). Unlike `quiet_band` it
    does not narrow on every new high or low, so on a random walk the monitor evaluates a
    few ticks in a hundred instead of one in seven.

    floor: the stop (a tick at or below it sells); ceiling: the lowest of the trailing
    activation (while inactive), the trailing peak (once active: a higher tick drags the stop
    up) and every remaining take-profit target. A position that is closed or holds nothing
    cannot move: (-inf, +inf). While a stop awaits confirmation every tick counts (a tick
    above the stop resets the count): (+inf, -inf), nothing is quiet."""
    if not position.is_open or position.quantity <= 0:
        return NO_FLOOR, NO_CEILING
    if position.stop_breaches and position.exits.stop_confirm_ticks > 1:
        return NO_CEILING, NO_FLOOR
    stop = position.stop_price
    floor = NO_FLOOR if stop is None else stop
    ceiling = NO_CEILING
    if position.exits.trailing is not None:
        peak = position.trailing_peak
        level = peak if peak is not None else position.trailing_activation()
        if level is not None:
            ceiling = level
    lowest = position.lowest_target()
    if lowest is not None and lowest < ceiling:
        ceiling = lowest
    return floor, ceiling


def close_decision(position: Position, price: Decimal, rules: SymbolRules) -> ExitDecision:
    """Sell what is left now (PUT /positions/{id}/close); raises when nothing can be sold."""
    if not position.is_open:
        raise PositionError(f"position {position.id} is already closed")
    if position.exit_order_id is not None:
        raise PositionError(
            f"position {position.id} has exit order {position.exit_order_id} in flight"
        )
    held = rules.quantize_quantity(position.quantity)
    if not sellable(rules, held, price):
        raise PositionError(
            f"quantity: {position.quantity} left is dust below the exchange minimum "
            f"(min quantity {rules.min_quantity}, min notional {rules.min_notional_market})",
            field="quantity",
        )
    return ExitDecision(ExitTrigger.CLOSE, position.exit_seq, held, price)
