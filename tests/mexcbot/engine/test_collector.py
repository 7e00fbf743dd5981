"""The garbage collector waits while orders are placed and runs again right after: held by the
engine's placement and by the API's order requests (the gate's own test is in
tests/mexcbot/api/test_read_admission.py), never for longer than the bound, and never switched
on when someone else had switched it off."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from decimal import Decimal

import aiohttp
import pytest

from mexcbot.app import Bot
from mexcbot.domain.orders import OrderSide, OrderType, PlaceOrder
from mexcbot.engine.collector import CollectorHold
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind
from tests.fixtures.api import MakeBot, place_order, tokens_for


@pytest.fixture(autouse=True)
def collector_enabled() -> Iterator[None]:
    """Every test starts with the collector on and leaves it on."""
    gc.enable()
    yield
    gc.enable()


async def _next_pass() -> None:
    """Let the loop run what a release scheduled (a timer due now)."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_a_hold_stops_the_collector_until_the_pass_after_the_last_release() -> None:
    collector = CollectorHold()
    collector.hold()
    collector.hold()  # two orders overlap
    assert not gc.isenabled()
    collector.release()
    await _next_pass()
    assert not gc.isenabled()  # the second order is still in flight
    collector.release()
    assert not gc.isenabled()  # not inside the step that ended the last order
    await _next_pass()
    assert gc.isenabled()
    assert (collector.holds, collector.overdue) == (1, 0)


async def test_an_order_that_starts_before_the_release_pass_keeps_the_hold() -> None:
    collector = CollectorHold()
    collector.hold()
    collector.release()
    collector.hold()  # the next order, in the same step
    await _next_pass()
    assert not gc.isenabled()
    collector.release()
    await _next_pass()
    assert gc.isenabled()
    assert collector.holds == 1


async def test_a_hold_never_outlasts_its_bound() -> None:
    collector = CollectorHold(max_hold_s=0.05)
    collector.hold()
    await asyncio.sleep(0.1)
    assert gc.isenabled()  # the orders overlapped too long: the collector runs again
    assert collector.overdue == 1
    collector.release()
    await _next_pass()
    assert gc.isenabled()
    collector.hold()  # a new run of orders holds it again
    assert not gc.isenabled()
    collector.release()
    await _next_pass()
    assert gc.isenabled()


async def test_a_collector_switched_off_elsewhere_stays_off() -> None:
    gc.disable()
    collector = CollectorHold()
    collector.hold()
    collector.release()
    await _next_pass()
    assert not gc.isenabled()
    assert collector.holds == 0


async def _collector_runs_again() -> None:
    for _ in range(100):
        if gc.isenabled():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the collector is still held 1 s after the order was answered")


ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "30000",
}


ORDER_COMMAND = PlaceOrder(
    symbol="BTCUSDT",
    side=OrderSide.BUY,
    type=OrderType.LIMIT,
    quantity=Decimal("0.001"),
    price=Decimal(30000),
)


@contextlib.contextmanager
def collector_at_order_events(bot: Bot) -> Iterator[list[tuple[OrderUpdateKind, bool]]]:
    """Whether the collector ran when the orders' events were published, in publish order."""
    seen: list[tuple[OrderUpdateKind, bool]] = []

    def record(event: OrderUpdated) -> None:
        seen.append((event.kind, gc.isenabled()))

    unsubscribe = bot.events.subscribe(OrderUpdated, record)
    try:
        yield seen
    finally:
        unsubscribe()


def held_throughout(seen: list[tuple[OrderUpdateKind, bool]]) -> bool:
    """The collector was held at the intent (CREATED) and at the placement's next event: its
    acknowledgement, or the account stream's report of the order when that was merged first
    (the ack then merges into it). Later events may come after the answer."""
    kinds = [kind for kind, _ in seen[:2]]
    assert kinds[0] is OrderUpdateKind.CREATED, seen
    assert kinds[1] in (OrderUpdateKind.ACKNOWLEDGED, OrderUpdateKind.EXCHANGE_UPDATE), seen
    return [held for _, held in seen[:2]] == [False, False]


async def test_the_bot_places_orders_with_the_collector_held(make_bot: MakeBot) -> None:
    async with make_bot() as bot, aiohttp.ClientSession() as http:
        token = (await tokens_for(bot))["trade"]
        with collector_at_order_events(bot) as through_api:
            status, _ = await place_order(http, bot, token, ORDER)
        assert status == 201
        assert held_throughout(through_api)
        await _collector_runs_again()  # the order answered (the gate's step ends after the send)

        with collector_at_order_events(bot) as from_engine:  # an order of a rule or an exit
            order = await bot.execution.place(ORDER_COMMAND)
        assert order.exchange_order_id is not None
        assert held_throughout(from_engine)
        await _collector_runs_again()
