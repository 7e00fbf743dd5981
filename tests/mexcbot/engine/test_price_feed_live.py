"""PriceFeed on the shared live market against mexcsim: a symbol followed later is one more
subscription (nothing reopened, the first symbol's prices never pause; a connection opened for
it is no gap), only followed symbols move prices, and a dropped stream is one gap, then one resume
that reloads the prices."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

from mexcbot.engine.price_feed import PriceFeed
from mexcbot.engine.prices import PriceBook
from mexcbot.mexc.live_market import MexcLiveMarket
from mexcbot.mexc.streams import channels
from mexcsim import SimServer
from tests.fixtures.price_stream import (
    drop_the_stream_until_it_reloads,
    following,
    stream_rig,
    until,
)


async def test_follow_adds_a_subscription_without_reopening_and_gaps_are_reported(
    sim_no_limits: SimServer,
) -> None:
    sim = sim_no_limits
    async with stream_rig(sim) as rig:
        changes = rig.changes
        # 6 channels a connection: the third symbol opens a second one
        live = MexcLiveMarket(rig.client, dataclasses.replace(rig.config, max_subscriptions=6))
        prices = PriceBook(rig.exchange)
        feed = PriceFeed(
            rig.exchange, prices, rig.events, ["ETHUSDT"], publish_interval_s=0.05, live=live
        )
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

                await drop_the_stream_until_it_reloads(sim, feed, rig)  # prices reloaded
        finally:
            await live.close()
    assert [(s.connected, s.gaps) for s in rig.statuses][:3] == [(True, 0), (False, 1), (True, 1)]
    assert {c.symbol for c in changes} == {"ETHUSDT", "BTCUSDT"}
