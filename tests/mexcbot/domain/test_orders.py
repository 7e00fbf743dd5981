"""The order aggregate: construction rules, client order ids and every state transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mexcbot.domain.orders import (
    CLIENT_ORDER_ID_PATTERN,
    EXCHANGE_STATUSES,
    LEGAL_TRANSITIONS,
    TERMINAL_STATUSES,
    Fill,
    IllegalTransition,
    InvalidOrder,
    Order,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    TimeInForce,
    client_order_id_for,
    new_client_order_id,
    validate_client_order_id,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def limit_order(**overrides: object) -> Order:
    fields: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": OrderSide.BUY,
        "type": OrderType.LIMIT,
        "quantity": Decimal("2"),
        "price": Decimal("100"),
        "created_at": T0,
    }
    fields.update(overrides)
    return Order.place(**fields)  # type: ignore[arg-type]


def order_in(status: OrderStatus) -> Order:
    """An order brought to `status` through the public transitions only."""
    order = limit_order()
    if status is OrderStatus.PENDING_NEW:
        return order
    if status is OrderStatus.UNKNOWN:
        order.mark_unknown("timeout")
    elif status is OrderStatus.REJECTED:
        order.reject(30002, "minimum transaction volume")
    elif status is OrderStatus.LOST:
        order.acknowledge("ex-1", T0)
        order.mark_lost("the exchange forgot it")
    else:
        executed = {
            OrderStatus.NEW: Decimal(0),
            OrderStatus.PARTIALLY_FILLED: Decimal(1),
            OrderStatus.FILLED: Decimal(2),
            OrderStatus.CANCELED: Decimal(0),
            OrderStatus.PARTIALLY_CANCELED: Decimal(1),
            OrderStatus.EXPIRED: Decimal(0),
        }[status]
        order.acknowledge("ex-1", T0)
        order.apply_exchange_update(status, executed, executed * 100, T0 + timedelta(seconds=1))
    assert order.status is status
    return order


# --- client order ids ---


def test_random_ids_are_valid_prefixed_and_distinct() -> None:
    ids = {new_client_order_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(CLIENT_ORDER_ID_PATTERN.fullmatch(i) and i.startswith("mxb") for i in ids)
    assert all(len(i) == 32 for i in ids)


def test_keyed_ids_are_deterministic_valid_and_key_specific() -> None:
    first = client_order_id_for("rule:7:listing:ABCUSDT")
    assert first == client_order_id_for("rule:7:listing:ABCUSDT")
    assert first != client_order_id_for("rule:7:listing:XYZUSDT")
    assert CLIENT_ORDER_ID_PATTERN.fullmatch(first)
    assert first.startswith("mxb")


def test_idempotency_key_gives_the_same_order_id_twice() -> None:
    a = limit_order(idempotency_key="position:3:stop-loss")
    b = limit_order(idempotency_key="position:3:stop-loss")
    assert a.client_order_id == b.client_order_id == client_order_id_for("position:3:stop-loss")


@pytest.mark.parametrize("bad", ["", "a" * 33, "has space", "ümlaut", "semi;colon", "dot.ted"])
def test_invalid_client_order_id_is_refused_naming_field_and_rule(bad: str) -> None:
    with pytest.raises(InvalidOrder, match=r"client_order_id must be 1 to 32 characters"):
        validate_client_order_id(bad)
    with pytest.raises(InvalidOrder, match="client_order_id"):
        limit_order(client_order_id=bad)


@pytest.mark.parametrize("good", ["a", "A_b-9", "x" * 32, "C02__426060921085927424065"])
def test_valid_client_order_id_is_kept(good: str) -> None:
    assert limit_order(client_order_id=good).client_order_id == good


def test_client_id_and_idempotency_key_together_is_an_error() -> None:
    with pytest.raises(InvalidOrder, match="either client_order_id or idempotency_key"):
        limit_order(client_order_id="abc", idempotency_key="k")


def test_empty_idempotency_key_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="idempotency_key"):
        client_order_id_for("")


# --- what the bot asked ---


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"symbol": "btcusdt"}, "symbol must be"),
        ({"quantity": Decimal(0)}, "quantity must be a positive number"),
        ({"price": Decimal(-1)}, "price must be a positive number"),
        ({"price": Decimal("NaN")}, "price must be a positive number"),
        ({"price": None}, "price: a LIMIT order needs a price"),
        ({"quote_amount": Decimal(5)}, "quote_amount is only allowed for MARKET"),
        ({"type": OrderType.MARKET}, "price must be empty for a MARKET order"),
        (
            {"type": OrderType.MARKET, "price": None, "quote_amount": Decimal(5)},
            "exactly one of quantity or quote_amount",
        ),
        ({"type": OrderType.LIMIT_MAKER, "time_in_force": TimeInForce.IOC}, "GTC"),
        ({"origin": OrderOrigin.EXTERNAL}, "import_external"),
    ],
)
def test_invalid_requests_name_the_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidOrder, match=message) as raised:
        limit_order(**overrides)
    field = raised.value.field
    assert field is not None
    assert field in str(raised.value) or field == "origin"


def test_market_order_by_quote_amount() -> None:
    order = Order.place(
        symbol="MXUSDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        quote_amount=Decimal("25.5"),
        created_at=T0,
        origin=OrderOrigin.RULE,
        origin_ref="rule:7",
    )
    assert order.request.quantity is None
    assert order.request.quote_amount == Decimal("25.5")
    assert order.status is OrderStatus.PENDING_NEW
    assert order.request.origin_ref == "rule:7"


def test_import_external_derives_a_stable_id_when_the_exchange_has_none() -> None:
    def imported(client_id: str | None) -> Order:
        return Order.import_external(
            symbol="MXUSDT",
            side=OrderSide.SELL,
            type=OrderType.LIMIT,
            exchange_order_id="C02__1",
            client_order_id=client_id,
            quantity=Decimal(1),
            quote_amount=None,
            price=Decimal(2),
            created_at=T0,
        )

    a, b = imported(None), imported(None)
    assert a.client_order_id == b.client_order_id
    assert a.is_external
    assert a.request.origin is OrderOrigin.EXTERNAL
    assert a.status is OrderStatus.UNKNOWN
    assert a.exchange_order_id == "C02__1"
    assert imported("web_123").client_order_id == "web_123"


# --- the state machine ---

ALL_TARGETS = sorted(OrderStatus)


def _attempt(order: Order, target: OrderStatus) -> bool:
    """Try to move `order` to `target` with the method meant for it."""
    if target is OrderStatus.UNKNOWN:
        return order.mark_unknown("timeout")
    if target is OrderStatus.REJECTED:
        return order.reject(30004, "insufficient balance")
    if target is OrderStatus.LOST:
        return order.mark_lost("the exchange forgot it")
    if target is OrderStatus.PENDING_NEW:
        raise IllegalTransition(order.client_order_id, order.status, "return to PENDING_NEW")
    executed = {
        OrderStatus.NEW: order.executed_qty,
        OrderStatus.PARTIALLY_FILLED: max(order.executed_qty, Decimal("1.5")),
        OrderStatus.FILLED: Decimal(2),
        OrderStatus.CANCELED: order.executed_qty,
        OrderStatus.PARTIALLY_CANCELED: max(order.executed_qty, Decimal("1.5")),
        OrderStatus.EXPIRED: order.executed_qty,
    }[target]
    return order.apply_exchange_update(target, executed, executed * 100, T0 + timedelta(hours=1))


@pytest.mark.parametrize("source", ALL_TARGETS)
@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_transition_follows_the_table(source: OrderStatus, target: OrderStatus) -> None:
    order = order_in(source)
    before_qty = order.executed_qty
    if target in LEGAL_TRANSITIONS[source]:
        assert _attempt(order, target) is True
        assert order.status is target
        return
    # Not a legal move: either refused loudly or a stale/duplicate no-op; never a status change.
    contradiction = (
        target is OrderStatus.PENDING_NEW
        or (source is OrderStatus.REJECTED and target is not OrderStatus.REJECTED)
        or (source is OrderStatus.LOST and target is not OrderStatus.LOST)
        or (
            target in {OrderStatus.UNKNOWN, OrderStatus.REJECTED}
            and target is not source
            and source not in {OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN}
        )
        or (target is OrderStatus.LOST and source is not OrderStatus.LOST)
    )
    if contradiction:
        with pytest.raises(IllegalTransition):
            _attempt(order, target)
    else:
        _attempt(order, target)
    assert order.status is source
    assert order.executed_qty >= before_qty


def test_legal_table_matches_the_brief() -> None:
    assert LEGAL_TRANSITIONS[OrderStatus.PENDING_NEW] >= {
        OrderStatus.NEW,
        OrderStatus.REJECTED,
        OrderStatus.UNKNOWN,
        OrderStatus.FILLED,
    }
    assert LEGAL_TRANSITIONS[OrderStatus.UNKNOWN] == EXCHANGE_STATUSES | {OrderStatus.REJECTED}
    assert OrderStatus.UNKNOWN not in LEGAL_TRANSITIONS[OrderStatus.NEW]
    for terminal in TERMINAL_STATUSES:
        assert LEGAL_TRANSITIONS[terminal] == frozenset()
        assert terminal.is_terminal


def test_acknowledge_moves_pending_to_new_and_records_the_exchange_id() -> None:
    order = limit_order()
    assert order.acknowledge("ex-9", T0) is True
    assert (order.status, order.exchange_order_id, order.exchange_created_at) == (
        OrderStatus.NEW,
        "ex-9",
        T0,
    )
    assert order.acknowledge("ex-9", T0) is False


def test_late_acknowledge_after_a_fill_keeps_the_fill() -> None:
    order = limit_order()
    order.apply_exchange_update(OrderStatus.FILLED, Decimal(2), Decimal(200), T0)
    assert order.acknowledge("ex-9", T0) is True
    assert order.status is OrderStatus.FILLED
    assert order.exchange_order_id == "ex-9"


def test_acknowledge_with_a_different_exchange_id_is_a_contradiction() -> None:
    order = order_in(OrderStatus.NEW)
    with pytest.raises(IllegalTransition, match="known as ex-1"):
        order.acknowledge("ex-2", T0)
    with pytest.raises(IllegalTransition):
        order.apply_exchange_update(
            OrderStatus.FILLED, Decimal(2), Decimal(200), T0, exchange_order_id="ex-2"
        )
    assert order.status is OrderStatus.NEW


def test_acknowledge_a_rejected_order_is_illegal() -> None:
    with pytest.raises(IllegalTransition, match="cannot acknowledge from status REJECTED"):
        order_in(OrderStatus.REJECTED).acknowledge("ex-1", T0)


def test_unknown_is_resolved_by_a_query_result() -> None:
    order = order_in(OrderStatus.UNKNOWN)
    assert order.unknown_reason == "timeout"
    assert order.apply_exchange_update(
        OrderStatus.PARTIALLY_FILLED, Decimal(1), Decimal(99), T0, exchange_order_id="ex-5"
    )
    assert order.exchange_order_id == "ex-5"
    assert order.status is OrderStatus.PARTIALLY_FILLED


def test_reject_records_code_and_message() -> None:
    order = limit_order()
    assert order.reject(30002, "minimum transaction volume") is True
    assert (order.reject_code, order.reject_message) == (30002, "minimum transaction volume")
    assert order.reject(30002, "again") is False
    assert order.reject_message == "minimum transaction volume"


@pytest.mark.parametrize(
    "status", [OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN, OrderStatus.REJECTED]
)
def test_bot_side_statuses_cannot_be_reported_by_the_exchange(status: OrderStatus) -> None:
    with pytest.raises(IllegalTransition):
        order_in(OrderStatus.NEW).apply_exchange_update(status, Decimal(0), Decimal(0), T0)


def test_quantities_are_validated() -> None:
    order = order_in(OrderStatus.NEW)
    with pytest.raises(InvalidOrder, match="exceeds the order quantity"):
        order.apply_exchange_update(OrderStatus.FILLED, Decimal(3), Decimal(300), T0)
    with pytest.raises(InvalidOrder, match="must not be negative"):
        order.apply_exchange_update(OrderStatus.NEW, Decimal(-1), Decimal(0), T0)


def test_stale_and_duplicate_updates_are_no_ops() -> None:
    order = order_in(OrderStatus.NEW)
    later = T0 + timedelta(seconds=5)
    assert order.apply_exchange_update(
        OrderStatus.PARTIALLY_FILLED, Decimal(1), Decimal(100), later
    )
    assert not order.apply_exchange_update(
        OrderStatus.PARTIALLY_FILLED, Decimal(1), Decimal(100), later
    )
    assert not order.apply_exchange_update(OrderStatus.NEW, Decimal(0), Decimal(0), T0)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.executed_qty == Decimal(1)
    assert order.exchange_updated_at == later


def test_terminal_order_takes_larger_quantities_but_keeps_its_status() -> None:
    order = order_in(OrderStatus.NEW)
    order.apply_exchange_update(OrderStatus.CANCELED, Decimal(0), Decimal(0), T0)
    assert order.apply_exchange_update(
        OrderStatus.PARTIALLY_FILLED, Decimal("0.5"), Decimal(50), T0
    )
    assert order.status is OrderStatus.CANCELED
    assert order.executed_qty == Decimal("0.5")


def test_avg_price_is_derived() -> None:
    order = order_in(OrderStatus.NEW)
    assert order.avg_price is None
    order.apply_exchange_update(OrderStatus.PARTIALLY_FILLED, Decimal("1.5"), Decimal("150.3"), T0)
    assert order.avg_price == Decimal("100.2")


def test_record_fill_sums_fees_per_asset_and_checks_ownership() -> None:
    order = order_in(OrderStatus.NEW)

    def fill(trade: str, commission: str, asset: str, cid: str | None = None) -> Fill:
        return Fill(
            exchange_trade_id=trade,
            client_order_id=cid or order.client_order_id,
            symbol="BTCUSDT",
            price=Decimal(100),
            qty=Decimal(1),
            quote_qty=Decimal(100),
            commission=Decimal(commission),
            commission_asset=asset,
            is_maker=False,
            time=T0,
        )

    order.record_fill(fill("t1", "0.1", "USDT"))
    order.record_fill(fill("t2", "0.05", "USDT"))
    order.record_fill(fill("t3", "0.002", "MX"))
    assert order.fees == {"USDT": Decimal("0.15"), "MX": Decimal("0.002")}
    with pytest.raises(InvalidOrder, match="belongs to"):
        order.record_fill(fill("t4", "1", "USDT", cid="someone-else"))


# --- Order.for_command: the request built without re-checking what the command checked ---


def _fields(order: Order) -> dict[str, object]:
    request = order.request
    return {name: getattr(request, name) for name in request.__dataclass_fields__}


@pytest.mark.parametrize(
    "command",
    [
        PlaceOrder(
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.0012345"),
            price=Decimal("30000.123"),
        ),
        PlaceOrder(
            symbol="ETHUSDT",
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            quote_amount=Decimal("25.5"),
            origin=OrderOrigin.RULE,
            origin_ref="rule:7",
            idempotency_key="rule:7:listing:ETHUSDT",
        ),
        PlaceOrder(
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.IOC,
            quantity=Decimal("1"),
            price=Decimal("2"),
            origin=OrderOrigin.POSITION_EXIT,
            origin_ref="position:3",
            idempotency_key="position:3:exit:1",
        ),
    ],
)
def test_for_command_builds_what_place_builds(command: PlaceOrder) -> None:
    amounts = {"quantity": command.quantity, "quote_amount": command.quote_amount}
    amounts["price"] = command.price
    built = Order.for_command(command, T0, **amounts)
    placed = Order.place(
        symbol=command.symbol,
        side=command.side,
        type=command.type,
        created_at=T0,
        time_in_force=command.time_in_force,
        idempotency_key=command.idempotency_key,
        origin=command.origin,
        origin_ref=command.origin_ref,
        **amounts,
    )
    if command.idempotency_key is None:  # a random id: the same shape, not the same id
        assert CLIENT_ORDER_ID_PATTERN.fullmatch(built.client_order_id)
        assert built.client_order_id != placed.client_order_id
        assert {**_fields(built), "client_order_id": "x"} == {
            **_fields(placed),
            "client_order_id": "x",
        }
    else:
        assert built.request == placed.request
    assert (built.status, built.created_at, built.fees) == (OrderStatus.PENDING_NEW, T0, {})
    assert built.snapshot().request is built.request


@pytest.mark.parametrize(
    ("amounts", "field", "message"),
    [
        ({"quantity": Decimal(0), "quote_amount": None, "price": Decimal(1)}, "quantity", "0"),
        (
            {"quantity": Decimal(1), "quote_amount": None, "price": Decimal("-1")},
            "price",
            "-1",
        ),
        ({"quantity": None, "quote_amount": None, "price": Decimal(1)}, "quantity", "needs"),
    ],
)
def test_for_command_still_checks_the_rounded_amounts(
    amounts: dict[str, Decimal | None], field: str, message: str
) -> None:
    command = PlaceOrder(
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.5"),
        price=Decimal("1.5"),
    )
    with pytest.raises(InvalidOrder, match=message) as caught:
        Order.for_command(command, T0, **amounts)
    assert caught.value.field == field


def test_a_snapshot_copies_every_field_and_owns_its_fees() -> None:
    order = Order(
        request=limit_order().request,
        created_at=T0,
        status=OrderStatus.PARTIALLY_FILLED,
        exchange_order_id="C02__1",
        executed_qty=Decimal("0.5"),
        cumulative_quote_qty=Decimal("50.1"),
        fees={"USDT": Decimal("0.01")},
        exchange_created_at=T0 + timedelta(seconds=1),
        exchange_updated_at=T0 + timedelta(seconds=2),
        reject_code=-1,
        reject_message="m",
        unknown_reason="r",
        is_external=True,
    )
    copy = order.snapshot()
    names = list(Order.__dataclass_fields__)
    assert [getattr(copy, n) for n in names] == [getattr(order, n) for n in names]
    assert len({getattr(order, n) if n != "fees" else None for n in names}) > 10  # all distinct
    assert copy.request is order.request
    assert copy.fees is not order.fees
