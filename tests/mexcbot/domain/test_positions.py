"""Position accounting and exit decisions through the aggregate's public methods."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mexcbot.domain.exit_decisions import close_decision, decide
from mexcbot.domain.exits import (
    ExitPlan,
    ExitTrigger,
    InvalidExitPlan,
    StopLoss,
    TakeProfitLevel,
    TrailingStop,
)
from mexcbot.domain.orders import OrderSide
from mexcbot.domain.positions import (
    MAX_EXIT_FAILURES,
    PositionError,
    PositionStatus,
)
from tests.mexcbot.domain.positions_support import RULES, D, fill, position

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_scale_in_averages_the_entry_and_a_base_fee_reduces_the_quantity() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "10", fee="1", fee_asset="USDT"))
    p.apply_fill(fill(BUY, "20", "10", fee="0.1", fee_asset="METAL"))
    assert p.quantity == D("19.9")
    assert p.cost == D("301")
    assert p.average_entry == (D("301") / D("19.9")).quantize(D("1e-18"))
    assert p.fees_quote == D("1") + D("0.1") * 20


def test_partial_and_full_exit_realise_pnl_net_of_fees_and_close() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "10"))
    p.apply_fill(fill(SELL, "12", "4", fee="0.5"))
    assert p.realised_pnl == D("48") - D("0.5") - D("40")
    assert p.unrealised_pnl(D("11")) == D("6") * 11 - D("60")
    p.apply_fill(fill(SELL, "9", "6"))
    assert p.status is PositionStatus.CLOSED
    assert p.realised_pnl == D("7.5") + D("54") - D("60")
    assert p.pnl_percent(None) == p.realised_pnl * 100 / 100


def test_a_fill_applies_once_and_cannot_sell_more_than_held() -> None:
    p = position()
    entry = fill(BUY, "10", "1")
    assert p.apply_fill(entry)
    assert not p.apply_fill(entry)
    with pytest.raises(PositionError, match="exceeds"):
        p.apply_fill(fill(SELL, "10", "2"))


def test_stop_loss_by_percent_fires_once_for_everything_held() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "3"))
    p.set_exits(ExitPlan(stop_loss=StopLoss(percent=D("5"))))
    assert p.stop_price == D("9.5")
    assert decide(p, D("9.6"), RULES) is None
    decision = decide(p, D("9.5"), RULES)
    assert decision is not None
    assert (decision.trigger, decision.quantity) == (ExitTrigger.STOP_LOSS, D("3"))
    assert decision.idempotency_key(7) == "position:7:stop:0"
    p.begin_exit(decision, "mxb-exit")
    assert decide(p, D("9"), RULES) is None  # one exit in flight at a time


def test_trailing_stop_arms_at_activation_and_follows_the_peak_only_up() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "3"))
    p.set_exits(
        ExitPlan(
            stop_loss=StopLoss(price=D("9")),
            trailing=TrailingStop(callback_percent=D("10"), activation_percent=D("20")),
        )
    )
    p.observe(D("11.9"))
    assert p.trailing_peak is None
    assert p.stop_price == D("9")
    p.observe(D("15"))
    assert p.stop_price == D("13.5")
    assert p.stop_trigger is ExitTrigger.TRAILING_STOP
    p.observe(D("14"))
    assert p.stop_price == D("13.5")
    decision = decide(p, D("13.4"), RULES)
    assert decision is not None
    assert decision.trigger is ExitTrigger.TRAILING_STOP


def test_ladder_sells_levels_in_turn_and_the_last_takes_the_rest() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "10.01"))
    p.set_exits(
        ExitPlan(
            take_profits=(
                TakeProfitLevel(fraction=D("0.5"), percent=D("10")),
                TakeProfitLevel(fraction=D("0.2"), price=D("12")),
            ),
            break_even_after_take_profit=True,
        )
    )
    assert decide(p, D("10.9"), RULES) is None
    first = decide(p, D("11"), RULES)
    assert first is not None
    assert (first.level, first.quantity) == (0, D("5"))
    p.begin_exit(first, "mxb-tp0")
    p.apply_fill(fill(SELL, "11", "5", order="mxb-tp0"))
    p.finish_exit("mxb-tp0", executed=D("5"), reason=None)
    assert p.stop_price == p.average_entry  # break-even after the first take-profit
    second = decide(p, D("12"), RULES)
    assert second is not None
    assert (second.level, second.quantity) == (1, D("5.01"))
    assert second.idempotency_key(7) == "position:7:tp:1"


def test_a_level_below_the_minimum_merges_into_the_next() -> None:
    p = position()
    p.apply_fill(fill(BUY, "1", "12"))
    p.set_exits(
        ExitPlan(
            take_profits=(
                TakeProfitLevel(fraction=D("0.25"), price=D("1.1")),  # 3 * 1.1 < 5 notional
                TakeProfitLevel(fraction=D("0.25"), price=D("1.2")),
                TakeProfitLevel(fraction=D("0.5"), price=D("2")),
            )
        )
    )
    assert decide(p, D("1.15"), RULES) is None
    merged = decide(p, D("1.2"), RULES)
    assert merged is not None
    assert (merged.level, merged.quantity) == (1, D("6"))


def test_a_level_that_would_leave_dust_sells_everything() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "1.05"))
    p.set_exits(ExitPlan(take_profits=(TakeProfitLevel(fraction=D("0.95"), price=D("11")),)))
    decision = decide(p, D("11"), RULES)
    assert decision is not None
    assert decision.quantity == D("1.05")


def test_a_stop_never_moves_against_the_position() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "1"))
    p.set_exits(ExitPlan(stop_loss=StopLoss(price=D("9"))))
    with pytest.raises(PositionError, match="favour"):
        p.set_exits(ExitPlan(stop_loss=StopLoss(price=D("8"))))
    p.set_exits(ExitPlan(stop_loss=StopLoss(price=D("9.5"))))
    assert p.stop_price == D("9.5")


def test_failed_exits_are_counted_then_the_position_is_marked_failed() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "1"))
    p.set_exits(ExitPlan(stop_loss=StopLoss(price=D("9"))))
    for n in range(MAX_EXIT_FAILURES):
        decision = decide(p, D("8"), RULES)
        assert decision is not None
        assert decision.level == n
        p.begin_exit(decision, f"mxb-{n}")
        p.finish_exit(f"mxb-{n}", executed=D(0), reason="market closed")
    assert p.exit_failed_reason == "market closed"
    assert decide(p, D("8"), RULES) is None


def test_close_reports_dust_instead_of_hiding_it() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "0.05"))
    with pytest.raises(PositionError, match="dust"):
        close_decision(p, D("10"), RULES)
    assert p.close_with_dust(p.opened_at)
    assert p.dust_quantity == D("0.05")
    assert p.status is PositionStatus.CLOSED


def test_plan_rules_are_checked() -> None:
    with pytest.raises(InvalidExitPlan, match="exactly one"):
        StopLoss()
    with pytest.raises(InvalidExitPlan, match="more than 1"):
        ExitPlan(
            take_profits=(
                TakeProfitLevel(fraction=D("0.6"), price=D("1")),
                TakeProfitLevel(fraction=D("0.6"), price=D("2")),
            )
        )
    assert Decimal(0) < D("1")


def test_a_confirmed_stop_sells_only_after_n_ticks_in_a_row_below_it() -> None:
    p = position()
    p.apply_fill(fill(BUY, "10", "10"))
    p.set_exits(ExitPlan(stop_loss=StopLoss(price=D("9")), stop_confirm_ticks=3))

    def at(price: str) -> ExitTrigger | None:
        p.observe(D(price))
        decision = decide(p, D(price), RULES)
        return decision.trigger if decision else None

    assert [at("8.9"), at("8.8"), at("9.1")] == [None, None, None]  # a wick: the count resets
    assert [at("9"), at("8.9"), at("8.9")] == [None, None, ExitTrigger.STOP_LOSS]
    with pytest.raises(InvalidExitPlan, match="stop_confirm_ticks") as refused:
        ExitPlan(stop_loss=StopLoss(price=D("9")), stop_confirm_ticks=0)
    assert refused.value.field == "stop_confirm_ticks"
