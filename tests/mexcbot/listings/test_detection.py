"""Listing detection on a paper bot: a listing scheduled on the simulator is found by several
sources and kept as one listing, opens when defaultSymbols says so, and is served by the API."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

import aiohttp

from mexcbot.app import Bot
from mexcbot.domain.listings import ListingSource, ListingStatus
from mexcbot.engine.events import ListingChanged, ListingChangeKind
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for

FAST = {"listing_poll_interval": 0.1, "listing_symbols_interval": 0.1}


def schedule(bot: Bot, base: str, in_s: float, price: str = "0.5") -> int:
    assert bot.paper is not None
    spec = dataclasses.replace(
        DEFAULT_SYMBOLS[0], symbol=f"{base}USDT", base_asset=base, initial_price=Decimal(price)
    )
    open_ms = int(time.time() * 1000 + in_s * 1000)
    bot.paper.exchange.schedule_listing(spec, open_ms, Decimal(price))
    return open_ms


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met within 10 s")


async def test_one_listing_from_several_sources_then_open(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(**FAST) as bot:
        seen: list[ListingChanged] = []
        bot.events.subscribe(ListingChanged, seen.append)
        open_ms = schedule(bot, "SNPA", in_s=4)
        token = (await tokens_for(bot))["read"]

        async def listed() -> list[dict[str, object]]:
            async with http.get(
                f"{api_url(bot)}/api/v1/listings?view=all", headers=auth(token)
            ) as response:
                assert response.status == 200
                return [x for x in (await response.json())["listings"] if x["symbol"] == "SNPAUSDT"]

        polled = {ListingSource.CALENDAR, ListingSource.WEB_SYMBOLS, ListingSource.EXCHANGE_INFO}

        async def three_sources() -> bool:
            found = await listed()
            return bool(found) and polled <= set(found[0]["sources"])

        await eventually(three_sources)
        (listing,) = await listed()
        assert listing["status"] == ListingStatus.ANNOUNCED
        assert ListingSource.CALENDAR in listing["sources"]
        assert ListingSource.EXCHANGE_INFO in listing["sources"]
        assert ListingSource.WEB_SYMBOLS in listing["sources"]

        async def trading() -> bool:
            found = await listed()
            return found[0]["status"] == ListingStatus.TRADING

        await eventually(trading)
        (listing,) = await listed()
        assert listing["opened_at"] is not None
        assert listing["trading_at"] is not None
        assert ListingSource.MARKET_STREAM in listing["sources"]
        kinds = [e.kind for e in seen if e.listing.symbol == "SNPAUSDT"]
        assert kinds.count(ListingChangeKind.DETECTED) == 1
        assert kinds.count(ListingChangeKind.TRADING) == 1
        assert abs(int(listing_time(listing["open_time"])) - open_ms) < 1000


def listing_time(iso: object) -> float:
    assert isinstance(iso, str)
    return datetime.fromisoformat(iso).timestamp() * 1000


async def test_announce_by_hand_and_read_sources(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(listing_sources=[]) as bot:
        tokens = await tokens_for(bot)
        url = f"{api_url(bot)}/api/v1/listings"
        body = {"base_asset": "HAND", "open_time": "2030-01-01T00:00:00Z"}
        async with http.post(url, json=body, headers=auth(tokens["read"])) as response:
            assert response.status == 403
        async with http.post(
            url, json={**body, "open_time": "soon"}, headers=auth(tokens["trade"])
        ) as response:
            assert response.status == 422
            assert "open_time" in await response.text()
        async with http.post(url, json=body, headers=auth(tokens["trade"])) as response:
            assert response.status == 201
            created = await response.json()
        assert created["symbol"] == "HANDUSDT"
        assert created["sources"] == [ListingSource.MANUAL]
        async with http.get(f"{url}?view=upcoming", headers=auth(tokens["read"])) as response:
            upcoming = (await response.json())["listings"]
        assert [x["symbol"] for x in upcoming] == ["HANDUSDT"]
        async with http.get(f"{url}/{created['id']}", headers=auth(tokens["read"])) as response:
            assert (await response.json())["id"] == created["id"]
        async with http.get(f"{url}/999999", headers=auth(tokens["read"])) as response:
            assert response.status == 404
        async with http.get(f"{url}/sources", headers=auth(tokens["read"])) as response:
            assert (await response.json())["sources"] == []
