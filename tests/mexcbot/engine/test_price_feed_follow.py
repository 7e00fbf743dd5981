"""PriceFeed.follow against mexcsim's market stream: a feed started with no symbols follows one
added later (an auto-buy rule's), and its prices carry the volume the stream's trades traded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import PriceChanged
from mexcbot.engine.price_feed import PriceFeed
from mexcbot.engine.prices import PriceBook
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.mexc.streams import StreamConfig
from mexcsim import SimServer
from tests.fixtures.engine_timing import client_config


async def until(condition: Callable[[], bool]) -> None:
    while True:
        if condition():
            return
        await asyncio.sleep(0.02)


async def test_a_symbol_followed_later_streams_with_its_traded_volume(
    sim_no_limits: SimServer,
) -> None:
    sim = sim_no_limits
    events = EventBus()
    changes: list[PriceChanged] = []
    events.subscribe(PriceChanged, changes.append)
    config = StreamConfig(url=sim.url.replace("http://", "ws://") + "/ws")
    async with MexcClient(client_config(sim.url)) as client:
        exchange = MexcExchange(client, config)
        feed = PriceFeed(exchange, PriceBook(exchange), events, [], publish_interval_s=0.05)
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(10):
                await asyncio.sleep(0.1)
                assert changes == []  # nothing followed yet
                feed.follow("ETHUSDT")
                feed.follow("ETHUSDT")  # known: changes nothing
                assert feed.symbols == ("ETHUSDT",)
                await until(lambda: any(c.last is not None for c in changes))
                sim.exchange.set_price("ETHUSDT", Decimal(3333))  # prints a trade
                await until(lambda: any(c.volume > 0 for c in changes))
                feed.follow("BTCUSDT")  # reopens the stream with both
                await until(lambda: any(c.symbol == "BTCUSDT" for c in changes))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert {c.symbol for c in changes} == {"ETHUSDT", "BTCUSDT"}
    assert feed.symbols == ("BTCUSDT", "ETHUSDT")
    assert all(c.volume >= 0 for c in changes)
