"""The event bus: typed delivery, unsubscribe, and a failing subscriber never breaks a publisher."""

from __future__ import annotations

import asyncio
import contextvars
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


_REQUEST = contextvars.ContextVar("request", default="none")


async def test_deferred_subscribers_run_after_the_work_already_scheduled_in_publish_order() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(
        OrderUpdated, lambda e: seen.append(f"{e.kind.value} {_REQUEST.get()}"), deferred=True
    )
    bus.subscribe(OrderUpdated, lambda e: seen.append(f"direct {e.kind.value}"))
    woken = asyncio.get_running_loop().create_future()
    woken.add_done_callback(lambda _: seen.append("woken"))
    token = _REQUEST.set("r1")
    bus.publish(OrderUpdated(an_order(), OrderUpdateKind.CREATED))
    _REQUEST.reset(token)
    woken.set_result(None)  # like the route's task, woken after the acknowledgement's publish
    bus.publish(OrderUpdated(an_order(), OrderUpdateKind.ACKNOWLEDGED))
    assert seen == ["direct created", "direct acknowledged"]
    await asyncio.sleep(0.01)
    assert seen == [
        "direct created",
        "direct acknowledged",
        "woken",
        "created r1",  # in the context of its publish
        "acknowledged none",
    ]


async def test_a_deferred_subscriber_unsubscribed_before_delivery_gets_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    seen: list[OrderUpdated] = []

    def broken(event: OrderUpdated) -> None:
        raise RuntimeError("websocket gone")

    bus.subscribe(OrderUpdated, broken, deferred=True)
    unsubscribe = bus.subscribe(OrderUpdated, seen.append, deferred=True)
    kept: list[OrderUpdated] = []
    bus.subscribe(OrderUpdated, kept.append, deferred=True)
    with caplog.at_level(logging.ERROR):
        bus.publish(OrderUpdated(an_order(), OrderUpdateKind.CREATED))
        unsubscribe()
        await asyncio.sleep(0.01)
    assert seen == []
    assert len(kept) == 1
    assert "event subscriber failed on OrderUpdated" in caplog.text


def test_deferred_subscribers_without_a_running_loop_get_the_event_at_once() -> None:
    bus = EventBus()
    seen: list[OrderUpdated] = []
    bus.subscribe(OrderUpdated, seen.append, deferred=True)
    bus.publish(OrderUpdated(an_order(), OrderUpdateKind.CREATED))
    assert len(seen) == 1


async def test_an_event_published_soon_reaches_its_subscribers_on_the_next_pass() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(OrderUpdated, lambda e: seen.append(f"{e.kind.value} {_REQUEST.get()}"))
    token = _REQUEST.set("r1")
    bus.publish_soon(OrderUpdated(an_order(), OrderUpdateKind.CREATED))
    _REQUEST.reset(token)
    assert seen == []  # not inside the publisher's step
    await asyncio.sleep(0)
    assert seen == ["created r1"]  # in the context of its publish
    await asyncio.sleep(0.01)
    assert seen == ["created r1"]  # once


async def test_a_publish_delivers_the_events_published_soon_before_it_first() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(OrderUpdated, lambda e: seen.append(e.kind.value))
    bus.publish_soon(OrderUpdated(an_order(), OrderUpdateKind.CREATED))
    bus.publish_soon(OrderUpdated(an_order(), OrderUpdateKind.ACKNOWLEDGED))
    bus.publish(OrderUpdated(an_order(), OrderUpdateKind.REJECTED))
    assert seen == ["created", "acknowledged", "rejected"]
    await asyncio.sleep(0.01)
    assert seen == ["created", "acknowledged", "rejected"]


def test_an_event_published_soon_without_a_running_loop_is_delivered_at_once() -> None:
    bus = EventBus()
    seen: list[OrderUpdated] = []
    bus.subscribe(OrderUpdated, seen.append)
    event = OrderUpdated(an_order(), OrderUpdateKind.CREATED)
    bus.publish_soon(event)
    assert seen == [event]
