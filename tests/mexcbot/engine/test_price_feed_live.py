"""PriceFeed on the shared live market against mexcsim: a symbol followed later is one more
subscription (nothing reopened, the first symbol's prices never pause; a connection opened for
it is no gap), only followed symbols move prices, and a dropped stream is one gap, then one resume
that reloads the prices."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import PriceChanged, StreamStatusChanged
from mexcbot.engine.price_feed import PriceFeed
from mexcbot.engine.prices import PriceBook
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.live_market import MexcLiveMarket
from mexcbot.mexc.rest import MexcClient
from mexcbot.mexc.streams import StreamConfig, channels
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan
from tests.fixtures.engine_timing import client_config


@contextlib.asynccontextmanager
async def following(feed: PriceFeed) -> AsyncIterator[None]:
    task = asyncio.create_task(feed.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (the state is the feed's and the sim's)
        await asyncio.sleep(0.02)


async def test_follow_adds_a_subscription_without_reopening_and_gaps_are_reported(
    sim_no_limits: SimServer,
) -> None:
    sim = sim_no_limits
    events = EventBus()
    changes: list[PriceChanged] = []
    statuses: list[StreamStatusChanged] = []
    events.subscribe(PriceChanged, changes.append)
    events.subscribe(StreamStatusChanged, statuses.append)
    requests: list[str] = []
    config = StreamConfig(
        url=sim.url.replace("http://", "ws://") + "/ws",
        reconnect_initial_s=0.05,
        reconnect_max_s=0.05,
    )
    async with MexcClient(
        client_config(sim.url), on_request=lambda endpoint, _s: requests.append(endpoint)
    ) as client:
        exchange = MexcExchange(client, config)
        # 6 channels a connection: the third symbol opens a second one
        live = MexcLiveMarket(client, dataclasses.replace(config, max_subscriptions=6))
        prices = PriceBook(exchange)
        feed = PriceFeed(exchange, prices, events, ["ETHUSDT"], publish_interval_s=0.05, live=live)
        try:
            async with following(feed), asyncio.timeout(10):
                await until(lambda: feed.health.connected and any(c.last for c in changes))
                live.watch("MXUSDT")  # a symbol someone reads: not followed
                feed.follow("BTCUSDT")
                await until(lambda: any(c.symbol == "BTCUSDT" for c in changes))
                sim.exchange.set_price("ETHUSDT", Decimal(3333))  # prints a trade
                await until(lambda: any(c.symbol == "ETHUSDT" and c.volume > 0 for c in changes))
                await until(lambda: all(c.connected for c in live.status().connections))
                assert sorted(c.subscriptions for c in live.status().connections) == [3, 6]
                assert sim.streams.subscribers(channels.trades("BTCUSDT")) == 1
                assert sim.streams.connections == 2
                assert feed.health.reconnects == 0  # never reopened; a new connection is no gap
                assert feed.symbols == ("BTCUSDT", "ETHUSDT")

                requests.clear()
                sim.faults.set(FaultPlan(ws_drop_connections=True))
                await until(lambda: feed.health.reconnects == 1 and feed.health.connected)
                await until(lambda: "GET /api/v3/ticker/price" in requests)  # prices reloaded
        finally:
            await live.close()
    assert [(s.connected, s.gaps) for s in statuses][:3] == [(True, 0), (False, 1), (True, 1)]
    assert {c.symbol for c in changes} == {"ETHUSDT", "BTCUSDT"}
