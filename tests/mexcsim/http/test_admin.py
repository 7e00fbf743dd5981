"""The /_sim/ admin API over real HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from mexcsim import SimServer
from mexcsim.http.faults import OrderFault
from tests.fixtures.sim import SIM_API_SECRET, auth_headers, signed_url

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: object = None
) -> tuple[int, dict[str, object]]:
    async with http.request(method, url, json=body) as response:
        return response.status, await response.json()


async def test_health(sim: SimServer, http: aiohttp.ClientSession) -> None:
    assert await call(http, "GET", f"{sim.url}/_sim/health") == (200, {"status": "ok"})


async def test_create_account_with_balances_and_sign_with_it(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    status, body = await call(
        http,
        "POST",
        f"{sim.url}/_sim/accounts",
        {"api_key": "alice", "api_secret": "alice-secret", "balances": {"USDT": "250.5"}},
    )
    assert status == 201
    assert body["api_key"] == "alice"
    assert "alice-secret" not in str(body)
    usdt = [b for b in body["balances"] if b["asset"] == "USDT"]  # type: ignore[attr-defined]
    assert usdt == [{"asset": "USDT", "free": "250.5", "locked": "0"}]
    # the new key works on MEXC's signed endpoints
    url = signed_url(sim.url, "/api/v3/account", secret="alice-secret")
    async with http.get(url, headers=auth_headers("alice")) as response:
        assert response.status == 200
        balances = (await response.json())["balances"]
    assert {"asset": "USDT", "free": "250.5", "locked": "0"} in balances


async def test_create_account_rejects_bad_input_naming_the_field(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.url}/_sim/accounts"
    status, body = await call(http, "POST", url, {"api_secret": "s"})
    assert (status, body["field"]) == (400, "api_key")
    status, body = await call(http, "POST", url, {"api_key": "k", "api_secret": "s", "balances": 5})
    assert (status, body["field"]) == (400, "balances")
    status, body = await call(
        http, "POST", url, {"api_key": "k", "api_secret": "s", "balances": {"USDT": "lots"}}
    )
    assert (status, body["field"]) == (400, "balances.USDT")
    status, body = await call(http, "POST", url, {"api_key": "test-api-key", "api_secret": "s"})
    assert (status, body["field"]) == (400, "api_key")
    assert "already exists" in str(body["error"])
    async with http.post(url, data="not json", headers=JSON) as response:
        assert response.status == 400


async def test_get_account_never_returns_the_secret(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, "GET", f"{sim.url}/_sim/accounts/test-api-key")
    assert status == 200
    assert SIM_API_SECRET not in str(body)
    assets = {b["asset"] for b in body["balances"]}  # type: ignore[attr-defined]
    assert "USDT" in assets
    status, body = await call(http, "GET", f"{sim.url}/_sim/accounts/nobody")
    assert status == 404


async def test_fund(sim: SimServer, http: aiohttp.ClientSession) -> None:
    before = sim.exchange.balances("test-api-key")["USDT"][0]
    url = f"{sim.url}/_sim/accounts/test-api-key/fund"
    status, _ = await call(http, "POST", url, {"asset": "USDT", "amount": "12.25"})
    assert status == 200
    assert sim.exchange.balances("test-api-key")["USDT"][0] == before + Decimal("12.25")
    status, body = await call(http, "POST", url, {"asset": "USDT"})
    assert (status, body["field"]) == (400, "amount")
    status, body = await call(http, "POST", url, {"asset": "usdt!", "amount": "1"})
    assert (status, body["field"]) == (400, "asset")
    status, _ = await call(
        http, "POST", f"{sim.url}/_sim/accounts/nobody/fund", {"asset": "USDT", "amount": "1"}
    )
    assert status == 404


async def test_schedule_listing_then_it_opens(sim: SimServer, http: aiohttp.ClientSession) -> None:
    open_time = time.time_ns() // 1_000_000 + 60_000
    status, body = await call(
        http,
        "POST",
        f"{sim.url}/_sim/listings",
        {
            "symbol": "NEWUSDT",
            "base_asset": "NEW",
            "open_time": open_time,
            "initial_price": "0.05",
            "taker_commission": "0.001",
        },
    )
    assert status == 201, body
    assert (body["symbol"], body["open_time"], body["initial_price"]) == (
        "NEWUSDT",
        open_time,
        "0.05",
    )
    # on time by default, with the simulator's default book ramp (SimConfig.listing_book_ramp_s)
    assert (body["api_open_time"], body["api_open_delay_ms"]) == (open_time, 0)
    assert (body["book_ramp_ms"], body["status"]) == (10_000, "pending")
    status, listed = await call(http, "GET", f"{sim.url}/_sim/listings")
    assert (status, listed) == (200, {"listings": [body]})
    # before the open, MEXC refuses API orders on it with exactly 10007
    order = {
        "symbol": "NEWUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "100",
        "price": "0.05",
    }
    url = signed_url(sim.url, "/api/v3/order", order)
    async with http.post(url, headers=auth_headers()) as response:
        assert response.status == 400
        assert await response.json() == {"code": 10007, "msg": "symbol not support api"}
    status, calendar = await call(http, "GET", f"{sim.url}/api/operation/new_coin_calendar")
    assert status == 200
    coins = calendar["data"]["newCoins"]  # type: ignore[index]
    assert any(c["vcoinName"] == "NEW" and c["firstOpenTime"] == open_time for c in coins)


async def test_schedule_listing_validation(sim: SimServer, http: aiohttp.ClientSession) -> None:
    url = f"{sim.url}/_sim/listings"
    base = {"symbol": "NEWUSDT", "base_asset": "NEW", "open_time": 1, "initial_price": "1"}
    for field, value in [
        ("symbol", None),
        ("open_time", "soon"),
        ("initial_price", "-1"),
        ("base_asset_precision", "two"),
        ("maker_commission", "cheap"),
        ("colour", "red"),
        ("api_open_delay_ms", -1),
        ("api_open_delay_ms", "late"),
        ("api_open_delay_ms", 86_400_001),
        ("book_ramp_ms", 1.5),
    ]:
        payload = {k: v for k, v in base.items() if k != field}
        if value is not None:
            payload[field] = value
        status, body = await call(http, "POST", url, payload)
        assert (status, body["field"]) == (400, field), payload
    assert await call(http, "GET", url) == (200, {"listings": []})  # nothing was scheduled


async def test_set_price_moves_the_market(sim: SimServer, http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, "POST", f"{sim.url}/_sim/prices", {"symbol": "BTCUSDT", "price": "40000"}
    )
    assert (status, body) == (200, {"symbol": "BTCUSDT", "price": "40000"})
    async with http.get(f"{sim.url}/api/v3/ticker/bookTicker?symbol=BTCUSDT") as response:
        book = await response.json()
    assert Decimal("39000") < Decimal(book["bidPrice"]) < Decimal("41000")
    status, body = await call(
        http, "POST", f"{sim.url}/_sim/prices", {"symbol": "NOPEUSDT", "price": "1"}
    )
    assert (status, body["field"]) == (400, "symbol")
    status, body = await call(
        http, "POST", f"{sim.url}/_sim/prices", {"symbol": "BTCUSDT", "price": "0"}
    )
    assert (status, body["field"]) == (400, "price")


async def test_faults_get_set_clear(sim: SimServer, http: aiohttp.ClientSession) -> None:
    url = f"{sim.url}/_sim/faults"
    status, body = await call(http, "GET", url)
    assert (status, body["order_fault"]) == (200, "none")
    status, body = await call(
        http, "POST", url, {"order_fault": "error_after", "order_fault_count": -1, "latency_ms": 5}
    )
    assert status == 200
    assert body["order_fault"] == "error_after"
    assert sim.faults.plan.order_fault is OrderFault.ERROR_AFTER
    assert sim.faults.plan.latency_ms == 5
    status, body = await call(http, "POST", url, {"order_fault": "meltdown"})
    assert (status, body["field"]) == (400, "order_fault")
    status, body = await call(http, "DELETE", url)
    assert (status, body["order_fault"]) == (200, "none")
    assert sim.faults.plan.order_fault is OrderFault.NONE
