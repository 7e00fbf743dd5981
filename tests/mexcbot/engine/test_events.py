"""The event bus: typed delivery, unsubscribe, and a failing subscriber never breaks a publisher."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mexcbot.domain.orders import Order, OrderSide, OrderType
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind, ReconciliationFinished
from mexcbot.engine.orders.report import ReconciliationReport


def an_order() -> Order:
    return Order.place(
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        quantity=Decimal(1),
        created_at=datetime.now(UTC),
    )


def test_subscribers_get_only_their_event_type_until_they_unsubscribe() -> None:
    bus = EventBus()
    updates: list[OrderUpdated] = []
    reports: list[ReconciliationFinished] = []
    unsubscribe = bus.subscribe(OrderUpdated, updates.append)
    bus.subscribe(ReconciliationFinished, reports.append)
    event = OrderUpdated(an_order(), OrderUpdateKind.CREATED)
    bus.publish(event)
    assert updates == [event]
    assert reports == []
    unsubscribe()
    bus.publish(OrderUpdated(an_order(), OrderUpdateKind.ACKNOWLEDGED))
    assert updates == [event]
    bus.publish(ReconciliationFinished(ReconciliationReport(started_at=datetime.now(UTC))))
    assert len(reports) == 1


def test_a_failing_subscriber_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    seen: list[OrderUpdated] = []

    def broken(event: OrderUpdated) -> None:
        raise RuntimeError("websocket gone")

    bus.subscribe(OrderUpdated, broken)
    bus.subscribe(OrderUpdated, seen.append)
    with caplog.at_level(logging.ERROR):
        bus.publish(OrderUpdated(an_order(), OrderUpdateKind.CREATED))
    assert len(seen) == 1
    assert "event subscriber failed on OrderUpdated" in caplog.text
