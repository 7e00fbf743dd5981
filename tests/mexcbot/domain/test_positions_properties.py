"""Properties: the PnL identity, exits never sell more than held, the stop never moves down."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mexcbot.domain.exit_decisions import decide, quiet_band, trigger_band
from mexcbot.domain.exits import ExitPlan, StopLoss, TakeProfitLevel, TrailingStop
from mexcbot.domain.orders import OrderSide
from tests.mexcbot.domain.positions_support import RULES, D, fill, position

prices = st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n) / 1000)
quantities = st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n) / 100)
fees = st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n) / 10_000)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(st.tuples(prices, quantities, fees, st.booleans()), min_size=1, max_size=5),
    exits=st.lists(st.tuples(prices, st.floats(0.01, 1.0), fees), max_size=6),
    mark=prices,
)
def test_realised_plus_unrealised_is_the_equity_change_net_of_fees(
    entries: list[tuple[Decimal, Decimal, Decimal, bool]],
    exits: list[tuple[Decimal, float, Decimal]],
    mark: Decimal,
) -> None:
    p = position()
    spent = received = Decimal(0)
    for price, qty, fee_rate, in_base in entries:
        fee = (qty * fee_rate) if in_base else (price * qty * fee_rate)
        p.apply_fill(
            fill(OrderSide.BUY, price, qty, fee=fee, fee_asset="METAL" if in_base else "USDT")
        )
        spent += price * qty + (0 if in_base else fee)
    for price, share, fee_rate in exits:
        qty = RULES.quantize_quantity(p.quantity * Decimal(str(share)))
        if qty <= 0 or not p.is_open:
            continue
        fee = price * qty * fee_rate
        p.apply_fill(fill(OrderSide.SELL, price, qty, fee=fee))
        received += price * qty - fee
    assert p.quantity >= 0
    equity_change = received + p.quantity * mark - spent
    assert abs(p.realised_pnl + p.unrealised_pnl(mark) - equity_change) <= D("1e-15")


ticks = st.lists(prices, min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(entry=prices, qty=quantities, path=ticks, stop_pct=st.integers(1, 50), cb=st.integers(1, 30))
def test_exits_never_sell_more_than_held_and_the_stop_only_rises(
    entry: Decimal, qty: Decimal, path: list[Decimal], stop_pct: int, cb: int
) -> None:
    p = position()
    p.apply_fill(fill(OrderSide.BUY, entry, qty))
    p.set_exits(
        ExitPlan(
            stop_loss=StopLoss(percent=D(stop_pct)),
            trailing=TrailingStop(callback_percent=D(cb), activation_percent=D(5)),
            take_profits=(
                TakeProfitLevel(fraction=D("0.3"), percent=D(10)),
                TakeProfitLevel(fraction=D("0.3"), percent=D(20)),
                TakeProfitLevel(fraction=D("0.4"), percent=D(40)),
            ),
        )
    )
    keys: set[str] = set()
    for n, price in enumerate(path):
        stop_before = p.stop_price
        p.observe(price)
        if stop_before is not None:
            assert p.stop_price is not None
            assert p.stop_price >= stop_before
        decision = decide(p, price, RULES)
        if decision is None:
            continue
        assert 0 < decision.quantity <= p.quantity
        key = decision.idempotency_key(7)
        assert key not in keys  # one exit order per trigger
        keys.add(key)
        cid = f"mxb-{n}"
        p.begin_exit(decision, cid)
        p.apply_fill(fill(OrderSide.SELL, price, decision.quantity, order=cid))
        p.finish_exit(cid, executed=decision.quantity, reason=None)
    assert p.quantity >= 0


@settings(max_examples=300, deadline=None)
@given(entry=prices, qty=quantities, path=ticks, probe=prices)
def test_inside_the_quiet_band_a_tick_changes_nothing(
    entry: Decimal, qty: Decimal, path: list[Decimal], probe: Decimal
) -> None:
    p = position()
    p.apply_fill(fill(OrderSide.BUY, entry, qty))
    p.set_exits(
        ExitPlan(
            stop_loss=StopLoss(percent=D(10)),
            trailing=TrailingStop(callback_percent=D(5), activation_percent=D(15)),
            take_profits=(TakeProfitLevel(fraction=D("0.5"), percent=D(8)),),
        )
    )
    for price in path:
        p.observe(price)
    band = quiet_band(p)
    if band is None or not band[0] < probe < band[1]:
        return
    assert decide(p, probe, RULES) is None
    assert not p.observe(probe)


@settings(max_examples=300, deadline=None)
@given(entry=prices, qty=quantities, path=ticks, probe=prices, tp=st.booleans())
def test_inside_the_trigger_band_a_tick_decides_nothing_and_moves_no_stop(
    entry: Decimal, qty: Decimal, path: list[Decimal], probe: Decimal, tp: bool
) -> None:
    p = position()
    p.apply_fill(fill(OrderSide.BUY, entry, qty))
    levels = (TakeProfitLevel(fraction=D("0.5"), percent=D(8)),) if tp else ()
    p.set_exits(
        ExitPlan(
            stop_loss=StopLoss(percent=D(10)),
            trailing=TrailingStop(callback_percent=D(5), activation_percent=D(15)),
            take_profits=levels,
        )
    )
    for price in path:
        p.observe(price)
    floor, ceiling = trigger_band(p)
    if not floor < probe < ceiling:
        return
    before = (p.stop_price, p.stop_trigger, p.trailing_peak)
    assert decide(p, probe, RULES) is None
    p.observe(probe)
    assert (p.stop_price, p.stop_trigger, p.trailing_peak) == before


@settings(max_examples=200, deadline=None)
@given(entry=prices, qty=quantities, path=ticks, split=st.integers(0, 40))
def test_excursions_from_a_lazy_high_and_low_equal_those_of_every_tick(
    entry: Decimal, qty: Decimal, path: list[Decimal], split: int
) -> None:
    every, lazy = position(), position()
    for p in (every, lazy):
        p.apply_fill(fill(OrderSide.BUY, entry, qty))
    for price in path:
        every.observe(price)
    head, tail = path[:split], path[split:]
    for part in (head, tail):
        if part:
            lazy.record_range(max(part), min(part))
    assert (lazy.peak_price, lazy.trough_price) == (every.peak_price, every.trough_price)
    assert lazy.excursions() == every.excursions()
