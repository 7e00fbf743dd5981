"""ExecutionService happy paths and refusals: real client, real simulator, both databases."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from mexcbot.domain.orders import (
    InvalidOrder,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    client_order_id_for,
)
from mexcbot.domain.symbols import OrderRuleViolation
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import (
    OrderNotCancelable,
    OrderNotFound,
    OrderRejectedByExchange,
    RiskRejected,
)
from mexcbot.engine.events import OrderUpdateKind
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.risk import RiskContext
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork
from mexcsim import SimServer
from tests.fixtures.agreement import compare, stored_orders
from tests.fixtures.recorder import EventRecorder
from tests.fixtures.sim import SIM_API_KEY

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET


async def agree(client: MexcClient, uow_factory: Callable[[], UnitOfWork], *symbols: str) -> None:
    result = await compare(client, uow_factory, symbols or ("BTCUSDT",))
    assert result.problems == []


async def test_start_makes_the_service_ready(service: ExecutionService) -> None:
    assert service.ready
    assert service.last_reconciliation is not None
    assert service.last_reconciliation.discrepancies == 0


async def test_limit_order_rests_and_is_stored_before_and_after_the_ack(
    service: ExecutionService,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    recorder: EventRecorder,
) -> None:
    order = await service.place(
        PlaceOrder(
            symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.0012345678"), price=D("30000.009")
        )
    )
    assert order.status is OrderStatus.NEW
    assert order.exchange_order_id
    assert order.request.quantity == D("0.001234")  # rounded down to 6 decimals
    assert order.request.price == D("30000.00")  # a buy never pays more than asked
    on_exchange = await client.get_order("BTCUSDT", client_order_id=order.client_order_id)
    assert on_exchange.order_id == order.exchange_order_id
    assert on_exchange.status is OrderStatus.NEW
    assert recorder.kinds(order.client_order_id) == [
        OrderUpdateKind.CREATED,
        OrderUpdateKind.ACKNOWLEDGED,
    ]
    assert [o.client_order_id for o in await service.open_orders("BTCUSDT")] == [
        order.client_order_id
    ]
    await agree(client, uow_factory)


async def test_market_sell_fills_and_get_records_the_fills(
    service: ExecutionService,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    recorder: EventRecorder,
) -> None:
    order = await service.place(
        PlaceOrder(symbol="ETHUSDT", side=SELL, type=MARKET, quantity=D("0.5"))
    )
    refreshed = await service.get("ETHUSDT", order.client_order_id)
    assert refreshed.status is OrderStatus.FILLED
    assert refreshed.executed_qty == D("0.5")
    assert refreshed.cumulative_quote_qty > 0
    async with uow_factory() as uow:
        fills = await uow.fills.list_for_order(order.client_order_id)
    assert sum(f.qty for f in fills) == D("0.5")
    assert len(recorder.fills) == len(fills)
    fee = sum(f.commission for f in fills)
    assert refreshed.fees.get("USDT", D(0)) == fee
    again = await service.get("ETHUSDT", order.client_order_id)  # terminal: nothing new
    async with uow_factory() as uow:
        assert len(await uow.fills.list_for_order(order.client_order_id)) == len(fills)
    assert again.executed_qty == D("0.5")
    await agree(client, uow_factory, "ETHUSDT")


async def test_market_buy_by_quote_amount(
    service: ExecutionService, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    order = await service.place(
        PlaceOrder(symbol="BTCUSDT", side=BUY, type=MARKET, quote_amount=D("50.123456"))
    )
    assert order.request.quote_amount == D("50.12")
    assert order.request.quantity is None
    filled = await service.get("BTCUSDT", order.exchange_order_id or "")
    assert filled.status is OrderStatus.FILLED
    assert D(0) < filled.cumulative_quote_qty <= D("50.12")
    await agree(client, uow_factory)


async def test_cancel_by_client_and_by_exchange_id(
    service: ExecutionService, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    first = await service.place(
        PlaceOrder(symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.001"), price=D("30000"))
    )
    second = await service.place(
        PlaceOrder(symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.001"), price=D("30001"))
    )
    canceled = await service.cancel("BTCUSDT", first.client_order_id)
    assert canceled.status is OrderStatus.CANCELED
    canceled = await service.cancel("BTCUSDT", second.exchange_order_id or "")
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(OrderNotCancelable, match="already CANCELED"):
        await service.cancel("BTCUSDT", first.client_order_id)
    assert await service.open_orders("BTCUSDT") == []
    await agree(client, uow_factory)


async def test_unknown_reference_is_not_found(service: ExecutionService) -> None:
    with pytest.raises(OrderNotFound):
        await service.get("BTCUSDT", "nope")
    with pytest.raises(OrderNotFound):
        await service.cancel("BTCUSDT", "nope")


async def test_rule_violation_persists_and_sends_nothing(
    service: ExecutionService, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    with pytest.raises(OrderRuleViolation) as error:
        await service.place(
            PlaceOrder(
                symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.000001"), price=D("30000")
            )
        )
    assert error.value.field == "quantity"
    assert error.value.rule == "min_notional"
    with pytest.raises(OrderRuleViolation, match="quantity"):
        await service.place(
            PlaceOrder(
                symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.0000001"), price=D("30000")
            )
        )
    with pytest.raises(InvalidOrder, match="lists no symbol"):
        await service.place(PlaceOrder(symbol="NOPEUSDT", side=BUY, type=MARKET, quantity=D("1")))
    with pytest.raises(InvalidOrder, match="exactly one of quantity or quote_amount"):
        await service.place(PlaceOrder(symbol="BTCUSDT", side=BUY, type=MARKET))
    assert await stored_orders(uow_factory) == []
    assert await client.all_orders("BTCUSDT") == []


async def test_exchange_rejection_is_stored_with_its_code(
    service: ExecutionService,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    recorder: EventRecorder,
) -> None:
    with pytest.raises(OrderRejectedByExchange) as error:
        await service.place(
            PlaceOrder(symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("10"), price=D("60000"))
        )
    rejected = error.value.order
    assert error.value.code in (10101, 30004)
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reject_code == error.value.code
    stored = await service.get("BTCUSDT", rejected.client_order_id)
    assert stored.status is OrderStatus.REJECTED
    assert stored.reject_message
    assert recorder.kinds(rejected.client_order_id)[-1] is OrderUpdateKind.REJECTED
    await agree(client, uow_factory)


async def test_idempotency_key_returns_the_same_order(
    service: ExecutionService, client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    kwargs = {
        "symbol": "BTCUSDT",
        "side": BUY,
        "type": LIMIT,
        "quantity": D("0.001"),
        "price": D("30000"),
        "origin": OrderOrigin.RULE,
        "origin_ref": "rule:7",
        "idempotency_key": "rule:7:listing:BTCUSDT",
    }
    first = await service.place(PlaceOrder(**kwargs))  # type: ignore[arg-type]
    second = await service.place(PlaceOrder(**kwargs))  # type: ignore[arg-type]
    assert first.client_order_id == second.client_order_id
    assert first.client_order_id == client_order_id_for("rule:7:listing:BTCUSDT")
    assert second.exchange_order_id == first.exchange_order_id
    assert len(await client.all_orders("BTCUSDT")) == 1
    assert len(await stored_orders(uow_factory)) == 1
    await agree(client, uow_factory)


async def test_risk_policy_refusal_persists_nothing(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork]
) -> None:
    class NoSells:
        def check(self, request: object, context: RiskContext) -> None:
            if getattr(request, "side", None) is SELL:
                raise RiskRejected("no_sells", f"{context.rules.symbol} sells are disabled")

    service = ExecutionService(MexcExchange(client), uow_factory, events=EventBus(), risk=NoSells())
    with pytest.raises(RiskRejected, match="no_sells"):
        await service.place(PlaceOrder(symbol="ETHUSDT", side=SELL, type=MARKET, quantity=D("0.1")))
    assert await stored_orders(uow_factory) == []
    assert await client.all_orders("ETHUSDT") == []


async def test_listing_and_history(service: ExecutionService) -> None:
    placed = [
        await service.place(
            PlaceOrder(
                symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.001"), price=D(30000 + i)
            )
        )
        for i in range(3)
    ]
    await service.cancel("BTCUSDT", placed[0].client_order_id)
    history = await service.history("BTCUSDT", limit=2, offset=0)
    assert [o.client_order_id for o in history] == [
        placed[2].client_order_id,
        placed[1].client_order_id,
    ]
    page = await service.list_orders(status=OrderStatus.NEW, limit=1)
    assert len(page.orders) == 1
    assert page.next_cursor is not None
    rest = await service.list_orders(status=OrderStatus.NEW, limit=5, cursor=page.next_cursor)
    assert {o.client_order_id for o in page.orders + rest.orders} == {
        placed[1].client_order_id,
        placed[2].client_order_id,
    }
    canceled = await service.list_orders(status=[OrderStatus.CANCELED], symbol="BTCUSDT")
    assert [o.client_order_id for o in canceled.orders] == [placed[0].client_order_id]


async def test_calculate_quantity_uses_the_book_and_the_rounding(
    service: ExecutionService, client: MexcClient
) -> None:
    quantity = await service.calculate_quantity("BTCUSDT", BUY, D("100"))
    ask = (await client.book_ticker("BTCUSDT")).ask_price
    assert ask is not None
    assert quantity == quantity.quantize(D("0.000001"))  # BTCUSDT quantities have 6 decimals
    assert quantity * ask <= D(100) * D("1.01")  # the market may tick between the two reads
    assert quantity * ask > D(100) * D("0.99")
    with pytest.raises(OrderRuleViolation, match="quote_amount"):
        await service.calculate_quantity("BTCUSDT", BUY, D("0.0000001"))
    with pytest.raises(InvalidOrder, match="quote_amount"):
        await service.calculate_quantity("BTCUSDT", BUY, D("-1"))


async def test_limit_maker_that_would_take_ends_canceled_not_rejected(
    service: ExecutionService,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    recorder: EventRecorder,
) -> None:
    # MEXC accepts a LIMIT_MAKER that would take, with an order id, and cancels it at once
    ask = (await client.book_ticker("BTCUSDT")).ask_price
    assert ask is not None
    order = await service.place(
        PlaceOrder(
            symbol="BTCUSDT",
            side=BUY,
            type=OrderType.LIMIT_MAKER,
            quantity=D("0.001"),
            price=(ask * D("1.01")).quantize(D("0.01")),
        )
    )
    assert order.status is not OrderStatus.REJECTED
    assert order.exchange_order_id
    final = await service.get("BTCUSDT", order.client_order_id)
    assert final.status is OrderStatus.CANCELED
    assert final.executed_qty == 0
    assert final.reject_code is None
    assert OrderUpdateKind.REJECTED not in recorder.kinds(order.client_order_id)
    assert await service.open_orders("BTCUSDT") == []
    await agree(client, uow_factory)


async def test_cancel_answered_unknown_order_reads_the_final_order_back(
    service: ExecutionService,
    sim: SimServer,
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    order = await service.place(
        PlaceOrder(symbol="BTCUSDT", side=BUY, type=LIMIT, quantity=D("0.001"), price=D("30000"))
    )
    # the order ends on the exchange behind the engine's back: MEXC answers the cancel with
    # -2011 "Unknown order sent.", and the engine must read the order back instead of failing
    sim.exchange.cancel_order(
        SIM_API_KEY, {"symbol": "BTCUSDT", "orderId": order.exchange_order_id or ""}
    )
    canceled = await service.cancel("BTCUSDT", order.client_order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert canceled.client_order_id == order.client_order_id
    await agree(client, uow_factory)
