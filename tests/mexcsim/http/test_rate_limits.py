"""MEXC's rate limits (reference §4) under a controlled clock, and over HTTP."""

from __future__ import annotations

import aiohttp

from mexcsim import SimServer
from mexcsim.http.rate_limits import RateLimiter, endpoint_weight
from tests.fixtures.sim import auth_headers, signed_url


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_weights_come_from_one_table() -> None:
    assert endpoint_weight("GET /api/v3/exchangeInfo", {}) == 10
    assert endpoint_weight("GET /api/v3/ticker/24hr", {"symbol": "BTCUSDT"}) == 1
    assert endpoint_weight("GET /api/v3/ticker/24hr", {}) == 40
    assert endpoint_weight("GET /api/v3/account", {}) == 10
    assert endpoint_weight("GET /somewhere/else", {}) == 1


def test_500_weight_per_10_seconds_then_429_with_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(50):
        assert limiter.admit("GET /api/v3/exchangeInfo", 10, ip="1.2.3.4", uid=None) is None
        clock.now += 0.01
    refused = limiter.admit("GET /api/v3/exchangeInfo", 10, ip="1.2.3.4", uid=None)
    assert refused is not None
    # the first request was spent at t=1000.0, it leaves the window at 1010.0; now is 1000.5
    assert refused.retry_after == 10
    assert "500 weight" in refused.msg
    clock.now = 1010.0
    assert limiter.admit("GET /api/v3/exchangeInfo", 10, ip="1.2.3.4", uid=None) is None


def test_refused_requests_spend_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, weight_per_window=20)
    assert limiter.admit("GET /api/v3/allOrders", 10, ip="a", uid=None) is None
    assert limiter.admit("GET /api/v3/allOrders", 10, ip="a", uid=None) is None
    for _ in range(5):
        assert limiter.admit("GET /api/v3/allOrders", 10, ip="a", uid=None) is not None
    clock.now += 10.0
    assert limiter.admit("GET /api/v3/allOrders", 10, ip="a", uid=None) is None


def test_each_endpoint_has_its_own_budget() -> None:
    limiter = RateLimiter(clock=FakeClock(), weight_per_window=10)
    assert limiter.admit("GET /api/v3/allOrders", 10, ip="a", uid=None) is None
    assert limiter.admit("GET /api/v3/allOrders", 10, ip="a", uid=None) is not None
    assert limiter.admit("GET /api/v3/myTrades", 10, ip="a", uid=None) is None


def test_ip_and_uid_pools_are_independent() -> None:
    limiter = RateLimiter(clock=FakeClock(), weight_per_window=10)
    assert limiter.admit("GET /api/v3/myTrades", 10, ip="a", uid="k1") is None
    # same UID from another IP: the UID pool is spent
    assert limiter.admit("GET /api/v3/myTrades", 10, ip="b", uid="k1") is not None
    # another UID from the first IP: the IP pool is spent
    assert limiter.admit("GET /api/v3/myTrades", 10, ip="a", uid="k2") is not None
    # fresh IP and fresh UID: fine
    assert limiter.admit("GET /api/v3/myTrades", 10, ip="c", uid="k3") is None


def test_account_and_batch_orders_are_capped_at_2_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for endpoint in ("GET /api/v3/account", "POST /api/v3/batchOrders"):
        assert limiter.admit(endpoint, 1, ip="a", uid="k") is None
        clock.now += 0.1
        assert limiter.admit(endpoint, 1, ip="a", uid="k") is None
        clock.now += 0.1
        refused = limiter.admit(endpoint, 1, ip="a", uid="k")
        assert refused is not None
        assert refused.retry_after == 1
        assert "2 requests per second" in refused.msg
        clock.now += 0.81
        assert limiter.admit(endpoint, 1, ip="a", uid="k") is None
    # other endpoints have no per-second cap
    for _ in range(10):
        assert limiter.admit("POST /api/v3/order", 1, ip="a", uid="k") is None


async def test_http_429_with_retry_after(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(3):
            url = signed_url(sim.url, "/api/v3/account")
            async with http.get(url, headers=auth_headers()) as response:
                statuses.append(response.status)
                body = await response.json()
                retry_after = response.headers.get("Retry-After")
        assert statuses == [200, 200, 429]
        assert body["code"] == 429
        assert isinstance(body["msg"], str)
        assert retry_after == "1"


async def test_http_weight_budget_over_public_endpoint(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        # exchangeInfo weighs 10: 50 requests exhaust the 500 budget
        for _ in range(50):
            async with http.get(f"{sim.url}/api/v3/exchangeInfo?symbol=BTCUSDT") as response:
                assert response.status == 200
        async with http.get(f"{sim.url}/api/v3/exchangeInfo?symbol=BTCUSDT") as response:
            assert response.status == 429
            assert 1 <= int(response.headers["Retry-After"]) <= 10
        async with http.get(f"{sim.url}/api/v3/ping") as response:
            assert response.status == 200


async def test_limits_can_be_switched_off(sim_no_limits: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            url = signed_url(sim_no_limits.url, "/api/v3/account")
            async with http.get(url, headers=auth_headers()) as response:
                assert response.status == 200
