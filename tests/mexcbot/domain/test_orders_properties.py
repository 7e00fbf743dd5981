"""Property: any sequence of exchange reports, reordered and duplicated, merges monotonically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mexcbot.domain.orders import (
    EXCHANGE_STATUSES,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
QUANTITY = Decimal(10)

report = st.tuples(
    st.sampled_from(sorted(EXCHANGE_STATUSES)),
    st.integers(min_value=0, max_value=1000).map(lambda n: Decimal(n) / 100),
    st.integers(min_value=0, max_value=3600),
)


def fresh_order() -> Order:
    return Order.place(
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=QUANTITY,
        price=Decimal(3),
        created_at=T0,
    )


@settings(max_examples=300, deadline=None)
@given(
    reports=st.lists(report, max_size=25),
    prefix=st.sampled_from(["none", "ack", "unknown"]),
    data=st.data(),
)
def test_reports_never_lower_qty_nor_leave_a_terminal_state(
    reports: list[tuple[OrderStatus, Decimal, int]], prefix: str, data: st.DataObject
) -> None:
    order = fresh_order()
    if prefix == "ack":
        order.acknowledge("ex-1", T0)
    elif prefix == "unknown":
        order.mark_unknown("timeout")
    # replay with duplicates in a shuffled order
    replay = data.draw(st.permutations(reports + reports[: len(reports) // 2]))
    seen_terminal: OrderStatus | None = None
    for status, qty, seconds in replay:
        before = order.executed_qty
        changed = order.apply_exchange_update(status, qty, qty * 3, T0 + timedelta(seconds=seconds))
        assert order.executed_qty >= before
        if seen_terminal is not None:
            assert order.status is seen_terminal
        if order.is_terminal:
            seen_terminal = order.status
        if not changed:
            assert order.executed_qty == before
        # applying the very same report again never changes anything
        assert not order.apply_exchange_update(
            status, qty, qty * 3, T0 + timedelta(seconds=seconds)
        )
    if reports:
        assert order.executed_qty == max(qty for _, qty, _ in reports)


@settings(max_examples=200, deadline=None)
@given(reports=st.lists(report, min_size=1, max_size=15), data=st.data())
def test_final_quantity_does_not_depend_on_arrival_order(
    reports: list[tuple[OrderStatus, Decimal, int]], data: st.DataObject
) -> None:
    in_order, shuffled = fresh_order(), fresh_order()
    for status, qty, seconds in reports:
        in_order.apply_exchange_update(status, qty, qty * 3, T0 + timedelta(seconds=seconds))
    for status, qty, seconds in data.draw(st.permutations(reports)):
        shuffled.apply_exchange_update(status, qty, qty * 3, T0 + timedelta(seconds=seconds))
    assert in_order.executed_qty == shuffled.executed_qty
    assert in_order.cumulative_quote_qty == shuffled.cumulative_quote_qty
