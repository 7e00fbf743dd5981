"""Market reads through the real API on a paper bot, served from live stream state: the first read
of a symbol subscribes it on demand, the next ones cost the exchange no depth or trades call, an
idle symbol is unsubscribed (unless the price feed follows it), the on-demand bound holds, a
dropped stream makes the reads go back to REST, and every answer keeps saying how old it is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from mexcbot.app import Bot
from mexcbot.mexc.streams import channels
from mexcsim.http.faults import FaultPlan
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for
from tests.mexcbot.api.test_many_readers import count_exchange_requests

FAST = {"api_rate_limit_per_minute": 10_000_000}


async def until(check: Callable[[], bool], limit_s: float = 10.0) -> None:
    async with asyncio.timeout(limit_s):
        while not check():  # noqa: ASYNC110 (the state is the bot's and the sim's)
            await asyncio.sleep(0.02)


def subscribers(bot: Bot, channel: str) -> int:
    assert bot.paper is not None
    return bot.paper.streams.subscribers(channel)


async def get(
    http: aiohttp.ClientSession, bot: Bot, token: str, path: str
) -> tuple[Any, str | None]:
    async with http.get(f"{api_url(bot)}{path}", headers=auth(token)) as response:
        assert response.status == 200, await response.text()
        return await response.json(), response.headers.get("X-Data-Age")


async def test_reads_subscribe_on_demand_then_cost_no_exchange_call_and_idle_unsubscribes(
    make_bot: MakeBot,
) -> None:
    async with make_bot(**FAST, live_market_idle=1.0, stream_symbols=["BTCUSDT"]) as bot:
        token = (await tokens_for(bot))["read"]
        admitted, _ = count_exchange_requests(bot)
        async with aiohttp.ClientSession() as http:
            first, age = await get(http, bot, token, "/api/v1/market/depth/ETHUSDT?limit=20")
            assert first["as_of"] is not None
            assert age is not None
            assert admitted["GET /api/v3/depth"] >= 1  # the first answer came over REST
            await until(lambda: subscribers(bot, channels.depth("ETHUSDT")) == 1)
            await get(http, bot, token, "/api/v1/market/depth/BTCUSDT?limit=20")

            async def served_live() -> None:
                while True:
                    before = bot.market.live_answers
                    await get(http, bot, token, "/api/v1/market/depth/ETHUSDT?limit=20")
                    await get(http, bot, token, "/api/v1/market/trades/ETHUSDT?limit=50")
                    if bot.market.live_answers >= before + 2:
                        return
                    await asyncio.sleep(0.05)

            async with asyncio.timeout(10):
                await served_live()
            depth_calls, trade_calls = admitted["GET /api/v3/depth"], admitted["GET /api/v3/trades"]
            for _ in range(20):
                book, age = await get(http, bot, token, "/api/v1/market/depth/ETHUSDT?limit=20")
                trades, _ = await get(http, bot, token, "/api/v1/market/trades/ETHUSDT?limit=50")
                assert age is not None
                assert float(age) < 3.0
                assert 0 < len(book["bids"]) <= 20
                assert book["bids"][0]["price"] < book["asks"][0]["price"]
                assert len(trades) == 50
            assert admitted["GET /api/v3/depth"] == depth_calls  # not one per read
            assert admitted["GET /api/v3/trades"] == trade_calls

            status, _ = await get(http, bot, token, "/api/v1/status")
            live = status["live_market"]
            assert set(live["watched"]) == {"ETHUSDT", "BTCUSDT"}
            assert live["books_synced"] >= 1
            assert [c["subscriptions"] for c in live["connections"]] == [6]

            # nobody reads for longer than the idle time: ETHUSDT goes, BTCUSDT (followed) stays
            await until(lambda: subscribers(bot, channels.depth("ETHUSDT")) == 0)
            status, _ = await get(http, bot, token, "/api/v1/status")
            assert status["live_market"]["watched"] == ["BTCUSDT"]
            assert subscribers(bot, channels.depth("BTCUSDT")) == 1
            async with http.get(f"{api_url(bot)}/metrics", headers=auth(token)) as response:
                metrics = await response.text()
            assert "mexcbot_live_market_watched_symbols 1.0" in metrics


async def test_the_on_demand_bound_leaves_other_symbols_on_rest(make_bot: MakeBot) -> None:
    async with make_bot(**FAST, live_market_max_symbols=1) as bot:
        token = (await tokens_for(bot))["read"]
        async with aiohttp.ClientSession() as http:
            await get(http, bot, token, "/api/v1/market/depth/BTCUSDT")
            book, age = await get(http, bot, token, "/api/v1/market/depth/ETHUSDT")
            assert book["bids"]
            assert age is not None
            await until(lambda: subscribers(bot, channels.depth("BTCUSDT")) == 1)
            await asyncio.sleep(0.3)
            assert subscribers(bot, channels.depth("ETHUSDT")) == 0
            status, _ = await get(http, bot, token, "/api/v1/status")
            assert status["live_market"]["watched"] == ["BTCUSDT"]


async def test_a_live_ticker_overlays_stream_prices_and_says_how_old_each_part_is(
    make_bot: MakeBot,
) -> None:
    async with make_bot(**FAST) as bot:
        token = (await tokens_for(bot))["read"]
        async with aiohttp.ClientSession() as http:
            first, _ = await get(http, bot, token, "/api/v1/market/tickers/BTCUSDT")
            assert first["prices_as_of"] is None  # REST: one snapshot
            async with asyncio.timeout(10):
                while True:
                    ticker, age = await get(http, bot, token, "/api/v1/market/tickers/BTCUSDT")
                    if ticker["prices_as_of"] is not None:
                        break
                    await asyncio.sleep(0.05)
            assert age is not None
            assert ticker["as_of"] <= ticker["prices_as_of"]
            assert ticker["volume"] is not None
            assert ticker["bid_price"] < ticker["ask_price"]


async def test_a_dropped_stream_sends_reads_back_to_rest(make_bot: MakeBot) -> None:
    async with make_bot(**FAST, live_market_stale_after=0.5) as bot:
        assert bot.paper is not None
        token = (await tokens_for(bot))["read"]
        admitted, _ = count_exchange_requests(bot)
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(10):
                while bot.market.live_answers == 0:
                    await get(http, bot, token, "/api/v1/market/depth/BTCUSDT?limit=10")
                    await asyncio.sleep(0.05)
            # every /ws connection closed, and the pushes of the new ones held for 3 s
            bot.paper.faults.set(FaultPlan(ws_drop_connections=True, ws_stall_ms=3000))
            await asyncio.sleep(0.6)
            calls, live = admitted["GET /api/v3/depth"], bot.market.live_answers
            for _ in range(5):
                book, age = await get(http, bot, token, "/api/v1/market/depth/BTCUSDT?limit=10")
                assert book["bids"]
                assert age is not None
                await asyncio.sleep(0.3)
            assert bot.market.live_answers == live  # none of these came from the stream
            assert admitted["GET /api/v3/depth"] > calls
