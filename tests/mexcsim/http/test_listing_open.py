"""A scheduled listing over real HTTP, as a listing bot meets it: the discovery endpoints, zero
data and 10007 before the open, a late API open, a skewed clock, the admin's schedule and
acceptance log, the 429 count, and the schedule across a SIGKILL and a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan
from mexcsim.http.rate_limits import ENDPOINT_WEIGHTS
from mexcsim.http.server import MARKETS_PER_STEP
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from mexcsim.world import Command
from tests.fixtures.sim import (
    SIM_API_KEY,
    SIM_API_SECRET,
    auth_headers,
    signed_url,
    sim_config,
    start_sim_process,
)

ORDER = {"symbol": "NEWUSDT", "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "0.06"}
NOT_SUPPORTED = (400, {"code": 10007, "msg": "symbol not support api"})


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(
    http: aiohttp.ClientSession, url: str, params: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    query = f"?{urlencode(params)}" if params else ""
    async with http.get(f"{url}{query}") as response:
        return response.status, await response.json()


async def schedule(
    http: aiohttp.ClientSession, base: str, open_time: int, **extra: object
) -> dict[str, Any]:
    body = {
        "symbol": "NEWUSDT",
        "base_asset": "NEW",
        "full_name": "New Coin",
        "open_time": open_time,
        "initial_price": "0.05",
        **extra,
    }
    async with http.post(f"{base}/_sim/listings", json=body) as response:
        assert response.status == 201, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def buy(
    http: aiohttp.ClientSession, base: str, timestamp_ms: int | None = None, **extra: str
) -> tuple[int, Any]:
    url = signed_url(base, "/api/v3/order", {**ORDER, **extra}, timestamp_ms=timestamp_ms)
    async with http.post(url, headers=auth_headers()) as response:
        return response.status, await response.json()


async def server_time(http: aiohttp.ClientSession, base: str) -> int:
    status, body = await get(http, f"{base}/api/v3/time")
    assert status == 200
    return int(body["serverTime"])


async def sleep_until_server_time(http: aiohttp.ClientSession, base: str, target: int) -> None:
    """Wait until the simulator's own clock (not the test's) reaches `target`."""
    for _ in range(1_000):
        now = await server_time(http, base)
        if now >= target:
            return
        await asyncio.sleep(max(0.005, (target - now) / 1000))
    raise AssertionError(f"the simulator's clock never reached {target}")


async def test_discovery_endpoints_and_zero_data_before_the_open(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    opens = wall_ms() + 3_600_000
    await schedule(http, sim.url, opens)
    status, web = await get(http, f"{sim.url}/api/platform/spot/market-v2/web/symbolsV2")
    assert (status, web["code"]) == (200, 0)
    new = next(e for e in web["data"]["symbols"]["USDT"] if e["vn"] == "NEW")
    assert (new["ot"], new["fn"], new["sts"]) == (opens, "New Coin", 2)
    status, news = await get(http, f"{sim.url}/api/v3/announcements")
    assert status == 200
    assert set(news) == {"code", "data", "msg"}
    detail = news["data"][0]["details"][0]
    assert set(detail) == {"title", "url", "language", "postTime"}
    assert detail["title"].startswith("MEXC Will List New Coin (NEW), Trading opens ")
    status, body = await get(http, f"{sim.url}/api/v3/announcements", {"pageSize": "0"})
    assert status == 400
    assert "pageSize" in body["msg"]
    status, info = await get(http, f"{sim.url}/api/v3/exchangeInfo", {"symbol": "NEWUSDT"})
    assert (info["symbols"][0]["status"], info["symbols"][0]["firstOpenTime"]) == ("2", opens)
    status, symbols = await get(http, f"{sim.url}/api/v3/defaultSymbols")
    assert "NEWUSDT" not in symbols["data"]
    status, depth = await get(http, f"{sim.url}/api/v3/depth", {"symbol": "NEWUSDT", "limit": "1"})
    assert (status, depth["bids"], depth["asks"], depth["lastUpdateId"]) == (200, [], [], 0)
    status, price = await get(http, f"{sim.url}/api/v3/ticker/price", {"symbol": "NEWUSDT"})
    assert (status, price) == (200, {"symbol": "NEWUSDT", "price": "0"})
    _, open_ticker = await get(http, f"{sim.url}/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})
    status, ticker = await get(http, f"{sim.url}/api/v3/ticker/24hr", {"symbol": "NEWUSDT"})
    assert (status, set(ticker), ticker["lastPrice"]) == (200, set(open_ticker), "0")
    for path in ("/api/v3/trades", "/api/v3/aggTrades"):
        assert await get(http, f"{sim.url}{path}", {"symbol": "NEWUSDT"}) == (200, [])
    klines = {"symbol": "NEWUSDT", "interval": "1m"}
    assert await get(http, f"{sim.url}/api/v3/klines", klines) == (200, [])
    assert await buy(http, sim.url) == NOT_SUPPORTED


def test_the_discovery_endpoints_have_rate_limit_weights() -> None:
    assert ENDPOINT_WEIGHTS["GET /api/platform/spot/market-v2/web/symbolsV2"] == 1
    assert ENDPOINT_WEIGHTS["GET /api/v3/announcements"] == 1


async def test_a_late_open_refuses_until_the_delay_then_accepts_and_logs(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    opens = wall_ms() + 300
    row = await schedule(http, sim.url, opens, api_open_delay_ms=400, book_ramp_ms=2_000)
    assert row == {
        "symbol": "NEWUSDT",
        "base_asset": "NEW",
        "quote_asset": "USDT",
        "full_name": "New Coin",
        "vcoin_id": row["vcoin_id"],
        "open_time": opens,
        "api_open_delay_ms": 400,
        "api_open_time": opens + 400,
        "initial_price": "0.05",
        "announced_at": row["announced_at"],
        "book_ramp_ms": 2_000,
        "status": "pending",
    }
    await sleep_until_server_time(http, sim.url, opens + 50)
    assert await buy(http, sim.url) == NOT_SUPPORTED  # announced time passed, API still closed
    _, calendar = await get(http, f"{sim.url}/api/operation/new_coin_calendar")
    assert calendar["data"]["newCoins"][0]["firstOpenTime"] == opens
    await sleep_until_server_time(http, sim.url, opens + 400)
    status, ack = await buy(http, sim.url, newClientOrderId="late-1")
    assert status == 200, ack
    status, listings = await get(http, f"{sim.url}/_sim/listings")
    assert [(r["symbol"], r["status"]) for r in listings["listings"]] == [("NEWUSDT", "open")]
    status, log = await get(http, f"{sim.url}/_sim/orders/accepted", {"symbol": "NEWUSDT"})
    assert status == 200
    assert set(log) == {"symbol", "orders", "refused10007", "throttled429"}
    assert log["refused10007"] == 1
    assert log["throttled429"] == 0
    (accepted,) = log["orders"]
    assert accepted["orderId"] == ack["orderId"]
    assert (accepted["clientOrderId"], accepted["side"], accepted["type"]) == (
        "late-1",
        "BUY",
        "LIMIT",
    )
    assert accepted["acceptedAtUs"] >= (opens + 400) * 1000


async def test_the_accepted_orders_route_needs_a_symbol(
    sim: SimServer, http: aiohttp.ClientSession
) -> None:
    status, body = await get(http, f"{sim.url}/_sim/orders/accepted")
    assert (status, body["field"]) == (400, "symbol")
    status, body = await get(http, f"{sim.url}/_sim/orders/accepted", {"symbol": "BTCUSDT"})
    assert (status, body["orders"], body["refused10007"]) == (200, [], 0)


async def test_429s_are_counted_in_the_stats(sim: SimServer, http: aiohttp.ClientSession) -> None:
    sim.faults.set(FaultPlan(rate_limit_burst=2))
    for _ in range(3):
        await get(http, f"{sim.url}/api/v3/ping")
    status, stats = await get(http, f"{sim.url}/_sim/stats")
    assert status == 200
    assert stats["throttled429"] == 2
    assert set(stats) == {"throttled429", "accepted", "refused10007"}


async def test_a_skewed_clock_shows_in_server_time_timestamp_checks_and_opens(
    http: aiohttp.ClientSession,
) -> None:
    skew = 20_000
    async with SimServer(sim_config(rate_limits=False, clock_skew_ms=skew)) as sim:
        before = wall_ms()
        served = await server_time(http, sim.url)
        assert before + skew <= served <= wall_ms() + skew
        # a client stamping its requests with its own (unskewed) clock is 20 s late: 700003
        status, body = await buy(http, sim.url, timestamp_ms=wall_ms(), symbol="BTCUSDT")
        assert (status, body["code"]) == (400, 700003)
        # a listing opens on the simulator's clock: 200 ms after *its* now, not the wall's
        opens = served + 200
        await schedule(http, sim.url, opens)
        await sleep_until_server_time(http, sim.url, opens)
        status, ack = await buy(http, sim.url, timestamp_ms=await server_time(http, sim.url))
        assert status == 200, ack
        assert ack["transactTime"] >= opens
        _, log = await get(http, f"{sim.url}/_sim/orders/accepted", {"symbol": "NEWUSDT"})
        assert log["orders"][0]["acceptedAtUs"] >= opens * 1000
        assert wall_ms() < opens  # it opened before the wall clock reached its time


@pytest.mark.slow
async def test_the_schedule_survives_a_sigkill_and_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    flags: dict[str, object] = {
        "api_key": SIM_API_KEY,
        "api_secret": SIM_API_SECRET,
        "state_file": str(tmp_path / "state.json"),
        "tick_interval": 3600,
        "clock_skew_ms": -30_000,
        "listing_book_ramp_s": 4,
    }
    with start_sim_process(**flags) as url:
        served = await server_time(http, url)
        assert served <= wall_ms() - 30_000 + 1_000  # the CLI flag skews the clock
        opens = served + 3_600_000
        await schedule(http, url, opens, api_open_delay_ms=1_500)
        before = (await get(http, f"{url}/_sim/listings"))[1]
        news = (await get(http, f"{url}/api/v3/announcements"))[1]
    # leaving the block SIGKILLs the process: the listing lives only in the journal
    with start_sim_process(**flags) as url:
        assert (await get(http, f"{url}/_sim/listings"))[1] == before
        assert (await get(http, f"{url}/api/v3/announcements"))[1] == news
    (row,) = before["listings"]
    assert (row["api_open_time"], row["book_ramp_ms"]) == (opens + 1_500, 4_000)


async def test_a_tick_of_many_markets_is_spread_over_short_steps() -> None:
    async with SimServer(sim_config(rate_limits=False)) as sim:
        for n in range(12):
            new_coin = dataclasses.replace(
                DEFAULT_SYMBOLS[3], symbol=f"C{n:02d}USDT", base_asset=f"C{n:02d}"
            )
            sim.exchange.schedule_listing(new_coin, sim.now_ms(), Decimal("0.5"))
        commands: list[Command] = []
        sim.exchange.record_commands(commands.append)
        for _ in range(100):
            if sum(c.op == "advance" for c in commands) >= 3:
                break
            await asyncio.sleep(0.02)
        sim.exchange.record_commands(None)
    steps = [c.args.get("symbols") for c in commands if c.op == "advance"]
    assert all(isinstance(s, list) and 0 < len(s) <= MARKETS_PER_STEP for s in steps)
    first_tick: list[str] = []
    for step in steps:
        assert isinstance(step, list)
        first_tick += step
        if len(first_tick) >= 18:
            break
    assert sorted(first_tick) == sorted(sim.exchange.market_symbols())
