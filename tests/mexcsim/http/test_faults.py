"""Injected faults, seen from a raw aiohttp client exactly as a MEXC client would see them."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from mexcsim import SimServer
from mexcsim.http.faults import FaultInjector, FaultPlan, FaultPlanError, OrderFault
from tests.fixtures.sim import SIM_API_KEY, auth_headers, signed_url


def order_params(client_order_id: str) -> dict[str, str]:
    """A LIMIT buy far below the market: it rests on the book, funded by the default balance."""
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": "30000",
        "newClientOrderId": client_order_id,
    }


async def post_order(http: aiohttp.ClientSession, sim: SimServer, client_order_id: str) -> int:
    url = signed_url(sim.url, "/api/v3/order", order_params(client_order_id))
    async with http.post(url, headers=auth_headers()) as response:
        await response.read()
        return response.status


def test_order_fault_count_is_consumed_then_disarms() -> None:
    faults = FaultInjector()
    faults.set(FaultPlan(order_fault=OrderFault.ERROR_AFTER, order_fault_count=2))
    assert faults.take_order_fault("GET", "/api/v3/order") is OrderFault.NONE
    assert faults.take_order_fault("POST", "/api/v3/order/test") is OrderFault.NONE
    assert faults.take_order_fault("POST", "/api/v3/order") is OrderFault.ERROR_AFTER
    assert faults.take_order_fault("POST", "/api/v3/batchOrders") is OrderFault.ERROR_AFTER
    assert faults.take_order_fault("POST", "/api/v3/order") is OrderFault.NONE


def test_order_fault_until_cleared() -> None:
    faults = FaultInjector()
    faults.set(FaultPlan(order_fault=OrderFault.ERROR_BEFORE, order_fault_count=-1))
    for _ in range(5):
        assert faults.take_order_fault("POST", "/api/v3/order") is OrderFault.ERROR_BEFORE
    faults.clear()
    assert faults.take_order_fault("POST", "/api/v3/order") is OrderFault.NONE


def test_latency_paths_filter() -> None:
    faults = FaultInjector()
    faults.set(FaultPlan(latency_ms=250, latency_paths=("/api/v3/order",)))
    assert faults.latency_for("/api/v3/order") == 0.25
    assert faults.latency_for("/api/v3/ping") == 0.0


def test_plan_json_round_trip_and_validation() -> None:
    plan = FaultPlan(latency_ms=5, order_fault=OrderFault.DROP_AFTER, rate_limit_burst=2)
    assert FaultPlan.from_json(plan.to_json()) == plan
    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_json({"error_status": 404})
    assert caught.value.field == "error_status"
    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_json({"order_fault": "explode"})
    assert caught.value.field == "order_fault"
    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_json({"latency": 5})
    assert caught.value.field == "latency"


async def test_error_before_answers_5xx_and_places_nothing(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(order_fault=OrderFault.ERROR_BEFORE, error_status=502))
    async with aiohttp.ClientSession() as http:
        assert await post_order(http, sim, "eb1") == 502
        assert not sim.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "eb1")
        # one-shot: the next order goes through
        assert await post_order(http, sim, "eb2") == 200
        assert sim.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "eb2")


async def test_error_after_places_the_order_then_answers_5xx(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(order_fault=OrderFault.ERROR_AFTER))
    async with aiohttp.ClientSession() as http:
        assert await post_order(http, sim, "ea1") == 503
    assert sim.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "ea1")


async def test_drop_after_places_the_order_and_sends_no_response(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(order_fault=OrderFault.DROP_AFTER))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await post_order(http, sim, "da1")
        assert sim.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "da1")
        # the server itself is fine afterwards
        async with http.get(f"{sim.url}/api/v3/ping") as response:
            assert response.status == 200


async def test_order_faults_hit_batch_orders(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(order_fault=OrderFault.ERROR_AFTER))
    batch = json.dumps([order_params("b1")], separators=(",", ":"))
    url = signed_url(sim.url, "/api/v3/batchOrders", {"batchOrders": batch})
    async with aiohttp.ClientSession() as http, http.post(url, headers=auth_headers()) as response:
        assert response.status == 503
    assert sim.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "b1")


async def test_latency_delays_the_response_but_the_order_exists(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(latency_ms=300, latency_paths=("/api/v3/order",)))
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        async with http.get(f"{sim.url}/api/v3/ping") as response:
            assert response.status == 200
        assert time.perf_counter() - started < 0.25
        url = signed_url(sim.url, "/api/v3/order", order_params("lat1"))
        timeout = aiohttp.ClientTimeout(total=0.1)
        with pytest.raises(TimeoutError):
            async with http.post(url, headers=auth_headers(), timeout=timeout) as response:
                await response.read()
    assert sim.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "lat1")


async def test_rate_limit_burst(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(rate_limit_burst=2))
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(3):
            async with http.get(f"{sim.url}/api/v3/time") as response:
                statuses.append((response.status, response.headers.get("Retry-After")))
                body = await response.json()
        assert statuses == [(429, "1"), (429, "1"), (200, None)]
        assert "serverTime" in body


def test_read_errors_hit_only_gets_under_the_api_and_are_consumed() -> None:
    faults = FaultInjector()
    faults.set(FaultPlan(read_error_count=2))
    assert not faults.take_read_error("POST", "/api/v3/order")
    assert not faults.take_read_error("GET", "/_sim/health")
    assert faults.take_read_error("GET", "/api/v3/openOrders")
    assert faults.take_read_error("GET", "/api/v3/ping")
    assert not faults.take_read_error("GET", "/api/v3/ping")
    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_json({"read_error_count": -1})
    assert caught.value.field == "read_error_count"
    plan = FaultPlan(read_error_count=3, error_status=500)
    assert FaultPlan.from_json(plan.to_json()) == plan


async def test_read_errors_answer_5xx_then_reads_and_writes_work(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.url}/_sim/faults", json={"read_error_count": 2}) as response:
            assert response.status == 200
            assert (await response.json())["read_error_count"] == 2
        # a write passes untouched and does not consume a read error
        assert await post_order(http, sim, "re1") == 200
        statuses = []
        for _ in range(3):
            url = signed_url(sim.url, "/api/v3/openOrders", {"symbol": "BTCUSDT"})
            async with http.get(url, headers=auth_headers()) as response:
                statuses.append(response.status)
                body = await response.json()
        assert statuses == [503, 503, 200]
        assert [o["clientOrderId"] for o in body] == ["re1"]
        async with http.get(f"{sim.url}/_sim/faults") as response:
            assert (await response.json())["read_error_count"] == 0


async def test_read_error_body_is_mexc_shaped(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(read_error_count=1, error_status=504))
    async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/api/v3/time") as response:
        assert response.status == 504
        body = await response.json()
    assert body["code"] == 504
    assert "read_error" in body["msg"]
