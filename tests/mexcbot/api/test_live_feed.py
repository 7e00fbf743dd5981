"""The live feed on its own: an order's or a fill's message says what the event said when it was
published, also after the engine changed the order, like the generic path does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from mexcbot.api.live_feed import LiveFeed, LiveMessage
from mexcbot.domain.orders import Fill, Order, OrderSide, OrderType
from mexcbot.engine.events import FillRecorded, OrderUpdated, OrderUpdateKind

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Bus:
    def __init__(self) -> None:
        self.callbacks: dict[type, object] = {}

    def subscribe(self, event_type: type, callback: object, *, deferred: bool = False) -> None:
        self.callbacks[event_type] = callback


class Client:
    def __init__(self) -> None:
        self.messages: list[LiveMessage] = []

    def offer(self, message: LiveMessage) -> None:
        self.messages.append(message)


def _body(message: LiveMessage) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(message.text)
    decoded.pop("ts")
    return decoded


def test_order_and_fill_messages_are_copies_taken_at_publish() -> None:
    feed, bus, client = LiveFeed(buffer_size=10, ticker_interval=1.0), Bus(), Client()
    feed.attach(bus)  # type: ignore[arg-type]
    feed.add(client)
    order = Order.place(
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.001000"),
        price=Decimal("30000.00"),
        created_at=T0,
    )
    on_order, on_fill = bus.callbacks[OrderUpdated], bus.callbacks[FillRecorded]
    created = OrderUpdated(order, OrderUpdateKind.CREATED)
    expected = [LiveMessage(feed.seq + 1, "orders", created)]
    on_order(created)  # type: ignore[operator]
    order.acknowledge("C02__1", T0)
    acked = OrderUpdated(order, OrderUpdateKind.ACKNOWLEDGED)
    expected.append(LiveMessage(feed.seq + 1, "orders", acked))
    on_order(acked)  # type: ignore[operator]
    fill = Fill("t1", order.client_order_id, "BTCUSDT", Decimal(30000), Decimal("0.001"),
                Decimal(30), Decimal(0), "USDT", False, T0)  # fmt: skip
    order.apply_exchange_update(order.status.FILLED, Decimal("0.001"), Decimal(30), T0)
    filled = FillRecorded(order, fill)
    expected.append(LiveMessage(feed.seq + 1, "fills", filled))
    on_fill(filled)  # type: ignore[operator]
    order.fees["USDT"] = Decimal(1)  # the engine goes on changing its order

    assert [m.topic for m in client.messages] == ["orders", "orders", "fills"]
    assert feed.since(client.messages[0].seq - 1) == client.messages
    bodies = [_body(m) for m in client.messages]
    assert bodies == [_body(m) for m in expected]
    statuses = [b["data"]["order"]["status"] for b in bodies]  # type: ignore[index]
    assert statuses == ["PENDING_NEW", "NEW", "FILLED"]
    assert bodies[2]["data"]["order"]["fees"] == {}  # type: ignore[index]
