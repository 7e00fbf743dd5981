"""RateLimiter under a fake clock: waits for budget rather than exceeding it."""

from __future__ import annotations

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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_budget_is_used_without_waiting(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(50):
        assert await limiter.acquire(ep.EXCHANGE_INFO, 10) == 0.0
    assert clock.sleeps == []
    assert limiter.total_wait_s == 0.0


async def test_waits_for_the_window_to_slide_once_budget_is_spent(clock: FakeClock) -> None:
    seen: list[tuple[str, float]] = []
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, on_wait=lambda k, s: seen.append((k, s)))
    for i in range(50):
        await limiter.acquire(ep.EXCHANGE_INFO, 10)
        clock.now += 0.1 if i == 0 else 0.0
    waited = await limiter.acquire(ep.EXCHANGE_INFO, 10)
    # The first call (at t=1000) leaves the window at t=1010; we are at 1000.1.
    assert waited == pytest.approx(9.9)
    assert seen == [(ep.EXCHANGE_INFO.key, pytest.approx(9.9))]
    assert limiter.total_wait_s == pytest.approx(9.9)


async def test_weight_in_any_window_never_exceeds_budget(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    stamps: list[float] = []
    for _ in range(300):
        await limiter.acquire(ep.ACCOUNT, 10)  # signed: IP and UID pools, plus 2 req/s
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
        await limiter.acquire(ep.EXCHANGE_INFO, 10)
    assert await limiter.acquire(ep.DEPTH, 1) == 0.0


async def test_two_per_second_cap_on_batch_orders(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert await limiter.acquire(ep.BATCH_ORDERS, 1) == 0.0
    assert await limiter.acquire(ep.BATCH_ORDERS, 1) == 0.0
    assert await limiter.acquire(ep.BATCH_ORDERS, 1) == pytest.approx(1.0)


async def test_retry_after_blocks_the_endpoint(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.block(ep.DEPTH, 3.0)
    assert await limiter.acquire(ep.DEPTH, 1) == pytest.approx(3.0)
    assert await limiter.acquire(ep.PING, 1) == 0.0
