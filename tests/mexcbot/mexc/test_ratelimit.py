"""RateLimiter under a fake clock: waits for budget rather than exceeding it."""

from __future__ import annotations

import asyncio

import pytest

from mexcbot.mexc import constants as ep
from mexcbot.mexc.ratelimit import RateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def call(limiter: RateLimiter, endpoint: ep.Endpoint, weight: int) -> float:
    """One request that is answered instantly: acquire, then release."""
    waited = await limiter.acquire(endpoint, weight)
    limiter.release(endpoint, weight)
    return waited


async def test_budget_is_used_without_waiting(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(50):
        assert await call(limiter, ep.EXCHANGE_INFO, 10) == 0.0
    assert clock.sleeps == []
    assert limiter.total_wait_s == 0.0


async def test_waits_for_the_window_to_slide_once_budget_is_spent(clock: FakeClock) -> None:
    seen: list[tuple[str, float]] = []
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, on_wait=lambda k, s: seen.append((k, s)))
    for i in range(50):
        await call(limiter, ep.EXCHANGE_INFO, 10)
        clock.now += 0.1 if i == 0 else 0.0
    waited = await call(limiter, ep.EXCHANGE_INFO, 10)
    # The first call (at t=1000) leaves the window at t=1010; we are at 1000.1.
    assert waited == pytest.approx(9.9)
    assert seen == [(ep.EXCHANGE_INFO.key, pytest.approx(9.9))]
    assert limiter.total_wait_s == pytest.approx(9.9)


async def test_weight_in_any_window_never_exceeds_budget(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    stamps: list[float] = []
    for _ in range(300):
        await call(limiter, ep.ACCOUNT, 10)  # signed: IP and UID pools, plus 2 req/s
        stamps.append(clock.now)
        clock.now += 0.01
    for i, start in enumerate(stamps):
        in_window = [s for s in stamps[i:] if s < start + ep.WEIGHT_WINDOW_S]
        assert len(in_window) * 10 <= ep.WEIGHT_BUDGET
        in_second = [s for s in stamps[i:] if s < start + 1.0]
        assert len(in_second) <= 2


async def test_endpoints_have_separate_budgets(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(50):
        await call(limiter, ep.EXCHANGE_INFO, 10)
    assert await call(limiter, ep.DEPTH, 1) == 0.0


async def test_two_per_second_cap_on_batch_orders(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert await call(limiter, ep.BATCH_ORDERS, 1) == 0.0
    assert await call(limiter, ep.BATCH_ORDERS, 1) == 0.0
    assert await call(limiter, ep.BATCH_ORDERS, 1) == pytest.approx(1.0)


async def test_retry_after_blocks_the_endpoint(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.block(ep.DEPTH, 3.0)
    assert await call(limiter, ep.DEPTH, 1) == pytest.approx(3.0)
    assert await call(limiter, ep.PING, 1) == 0.0


async def test_in_flight_requests_count_until_answered(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(50):
        await limiter.acquire(ep.EXCHANGE_INFO, 10)  # 500 weight sent, no answer yet
    clock.now += 20.0  # long after sending: the exchange may still be counting them
    waiter = asyncio.ensure_future(limiter.acquire(ep.EXCHANGE_INFO, 10))
    await asyncio.sleep(0)
    assert not waiter.done()
    for _ in range(50):
        limiter.release(ep.EXCHANGE_INFO, 10)  # answered now: they expire 10 s from now
    await asyncio.sleep(0)
    assert await waiter == pytest.approx(10.0, abs=0.01)
