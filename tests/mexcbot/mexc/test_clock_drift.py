"""A 700003 (timestamp outside the recvWindow) is repaired once: re-sync the clock, re-send the same
request. Against the real simulator over HTTP; the local clock is made wrong on purpose."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType
from mexcbot.mexc.errors import (
    InsufficientBalance,
    InvalidSignature,
    OrderNotFound,
    TimestampOutsideRecvWindow,
)
from mexcbot.mexc.rest import MexcClient
from mexcsim import SimServer
from tests.fixtures.mexc import client_config
from tests.fixtures.sim import sim_config

D = Decimal
PLACE = "POST /api/v3/order"
TIME = "GET /api/v3/time"


def shifted_clock(seconds: float) -> Callable[[], float]:
    return lambda: time.time() + seconds


def drifting_clock(step_s: float) -> Callable[[], float]:
    """Jumps ``step_s`` further ahead at every reading: no measured offset stays right."""
    readings = 0

    def now() -> float:
        nonlocal readings
        readings += 1
        return time.time() + readings * step_s

    return now


async def place(mexc: MexcClient, client_order_id: str, quantity: str = "0.001") -> None:
    await mexc.place_order(
        "BTCUSDT",
        OrderSide.BUY,
        OrderType.LIMIT,
        quantity=D(quantity),
        price=D("30000"),
        client_order_id=client_order_id,
    )


async def orders_with_id(mexc: MexcClient, client_order_id: str) -> int:
    orders = await mexc.all_orders("BTCUSDT")
    return sum(order.client_order_id == client_order_id for order in orders)


@pytest.mark.parametrize("behind_s", [120.0, -120.0], ids=["clock-behind", "clock-ahead"])
async def test_drifted_order_is_resynced_and_placed_exactly_once(
    sim: SimServer, behind_s: float
) -> None:
    sent: Counter[str] = Counter()
    async with MexcClient(
        client_config(sim.url),
        wall_clock=shifted_clock(-behind_s),
        on_request=lambda key, _: sent.update([key]),
    ) as mexc:
        await place(mexc, "drift-1")
        assert sent[PLACE] == 2  # refused with 700003, then re-sent once
        assert sent[TIME] == 1
        assert abs(mexc.time_offset_ms - behind_s * 1000) < 2000
        order = await mexc.get_order("BTCUSDT", client_order_id="drift-1")
        assert order.status is OrderStatus.NEW
        assert await orders_with_id(mexc, "drift-1") == 1
        await place(mexc, "drift-2")  # the corrected clock holds: no second re-sync
        assert sent[PLACE] == 3
        assert sent[TIME] == 1


async def test_signed_read_is_resynced_when_the_server_clock_jumps() -> None:
    skew_ms = 30_000
    server = SimServer(sim_config(), now_ms=lambda: time.time_ns() // 1_000_000 + skew_ms)
    sent: Counter[str] = Counter()
    async with (
        server,
        MexcClient(client_config(server.url), on_request=lambda key, _: sent.update([key])) as mexc,
    ):
        assert (await mexc.account()).can_trade
        assert sent["GET /api/v3/account"] == 2
        assert abs(mexc.time_offset_ms - skew_ms) < 1000


async def test_concurrent_drifted_orders_share_one_resync(sim: SimServer) -> None:
    sent: Counter[str] = Counter()
    async with MexcClient(
        client_config(sim.url),
        wall_clock=shifted_clock(-120.0),
        on_request=lambda key, _: sent.update([key]),
    ) as mexc:
        await asyncio.gather(*(place(mexc, f"burst-{i}") for i in range(4)))
        assert sent[TIME] == 1
        assert sent[PLACE] == 8
        assert len(await mexc.open_orders("BTCUSDT")) == 4


async def test_a_second_700003_is_raised_and_the_order_does_not_exist(sim: SimServer) -> None:
    sent: Counter[str] = Counter()
    async with MexcClient(
        client_config(sim.url),
        wall_clock=drifting_clock(60.0),
        on_request=lambda key, _: sent.update([key]),
    ) as mexc:
        with pytest.raises(TimestampOutsideRecvWindow) as info:
            await place(mexc, "drift-forever")
        assert info.value.code == 700003
        assert sent[PLACE] == 2  # re-sent once, never twice
        assert sent[TIME] == 1
    async with MexcClient(client_config(sim.url)) as honest:
        with pytest.raises(OrderNotFound):
            await honest.get_order("BTCUSDT", client_order_id="drift-forever")


async def test_other_rejections_are_never_resent(sim: SimServer) -> None:
    sent: Counter[str] = Counter()

    def count(key: str, _: float) -> None:
        sent.update([key])

    async with MexcClient(
        client_config(sim.url, api_secret="not-the-secret"), on_request=count
    ) as mexc:
        with pytest.raises(InvalidSignature):
            await place(mexc, "bad-signature")
    assert sent[PLACE] == 1
    async with MexcClient(client_config(sim.url), on_request=count) as mexc:
        with pytest.raises(InsufficientBalance):
            await place(mexc, "too-big", quantity="10")
    assert sent[PLACE] == 2
    assert sent[TIME] == 0
