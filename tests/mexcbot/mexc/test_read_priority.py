"""The read lane of the rate-limit budget: reads keep the order path's headroom free and refuse at
once rather than wait past their bound (fake clock), and a cancel goes out while 1,000 reads are
queued (real simulator)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderSide, OrderType
from mexcbot.mexc import constants as ep
from mexcbot.mexc.errors import BudgetExhausted
from mexcbot.mexc.ratelimit import Priority, RateLimiter
from mexcbot.mexc.rest import MexcClient
from mexcsim import SimServer
from tests.fixtures.mexc import client_config
from tests.mexcbot.mexc.test_ratelimit import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def spend(
    limiter: RateLimiter, endpoint: ep.Endpoint, times: int, priority: Priority
) -> None:
    for _ in range(times):
        await limiter.acquire(endpoint, endpoint.weight, priority)
        limiter.release(endpoint, endpoint.weight)


async def test_reads_leave_the_reserve_to_orders(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, read_wait_limit_s=3.0)
    # GET /api/v3/order (weight 2) is read by users AND by the order path resolving an order.
    await spend(limiter, ep.QUERY_ORDER, 200, Priority.READ)  # 400 of 500: the read share
    with pytest.raises(BudgetExhausted) as refused:
        await limiter.acquire(ep.QUERY_ORDER, 2, Priority.READ)
    assert refused.value.retry_after == pytest.approx(10.0)  # the first read leaves the window
    assert limiter.reads_refused == 1
    # The order path still has its 100 weight, at once.
    assert await limiter.acquire(ep.QUERY_ORDER, 2, Priority.TRADING) == 0.0
    assert clock.sleeps == []


async def test_a_read_within_its_bound_waits_and_one_past_it_is_refused_at_once(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, read_wait_limit_s=3.0)
    await limiter.acquire(ep.ACCOUNT, 10, Priority.READ)
    limiter.release(ep.ACCOUNT, 10)
    await limiter.acquire(ep.ACCOUNT, 10, Priority.READ)
    limiter.release(ep.ACCOUNT, 10)
    # 2 per second spent: the third waits one second, within the bound.
    assert await limiter.acquire(ep.ACCOUNT, 10, Priority.READ) == pytest.approx(1.0)
    limiter.release(ep.ACCOUNT, 10)
    limiter.block(ep.ACCOUNT, 30.0)  # a 429's Retry-After: far past the bound
    before = clock.now
    with pytest.raises(BudgetExhausted):
        await limiter.acquire(ep.ACCOUNT, 10, Priority.READ)
    assert clock.now == before  # refused without waiting
    assert limiter.queued_reads() == 0


async def test_queued_reads_count_towards_the_bound(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, read_wait_limit_s=3.0)
    await spend(limiter, ep.ACCOUNT, 2, Priority.READ)
    waiting = [
        asyncio.ensure_future(limiter.acquire(ep.ACCOUNT, 10, Priority.READ)) for _ in range(10)
    ]
    await asyncio.sleep(0)
    # 2 per second: ten queued reads need ~5 s, so one more is refused though its own wait is 1 s.
    assert limiter.queued_reads() > 0
    with pytest.raises(BudgetExhausted) as refused:
        await limiter.acquire(ep.ACCOUNT, 10, Priority.READ)
    assert refused.value.retry_after > 3.0
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert limiter.queued_reads() == 0


async def test_a_cancel_is_sent_while_1000_reads_are_queued(sim: SimServer) -> None:
    config = client_config(sim.url, read_retries=0, read_wait_limit_s=120.0)
    async with MexcClient(config) as mexc:
        await mexc.place_order(
            "BTCUSDT",
            OrderSide.BUY,
            OrderType.LIMIT,
            quantity=Decimal("0.001"),
            price=Decimal("30000"),
            client_order_id="exit-under-load",
        )
        # 1,000 distinct depth reads: 400 weight of the read share, the rest must queue.
        reads = [
            asyncio.ensure_future(mexc.depth("BTCUSDT", limit, priority=Priority.READ))
            for limit in range(1, 1001)
        ]
        deadline = time.monotonic() + 10
        while mexc.queued_reads < 500 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert mexc.queued_reads >= 500
        canceled = await mexc.cancel_order("BTCUSDT", client_order_id="exit-under-load")
        assert canceled.client_order_id == "exit-under-load"
        assert mexc.queued_reads >= 500  # the reads were still queued when the cancel went out
        for task in reads:
            task.cancel()
        await asyncio.gather(*reads, return_exceptions=True)
