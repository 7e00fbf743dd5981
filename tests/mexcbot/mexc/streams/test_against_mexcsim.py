"""mexcbot's stream clients against mexcsim's ``/ws``: the two sides agree on the protocol."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mexcbot.mexc.streams import (
    BalanceUpdate,
    DepthUpdate,
    FillUpdate,
    MarketStream,
    OrderUpdate,
    StreamConfig,
    StreamItem,
    UserDataStream,
)
from mexcsim import SimConfig, SimServer
from mexcsim.exchange import SimExchange

KEY, SECRET = "bot-key", "bot-secret"


class SimListenKeys:
    """The listen-key calls, answered by the simulator's exchange (as its REST routes are)."""

    def __init__(self, exchange: SimExchange) -> None:
        self._exchange = exchange

    async def create_listen_key(self) -> str:
        return str(self._exchange.create_listen_key(KEY)["listenKey"])

    async def keepalive_listen_key(self, listen_key: str) -> None:
        self._exchange.keepalive_listen_key(KEY, listen_key)

    async def close_listen_key(self, listen_key: str) -> None:
        self._exchange.close_listen_key(KEY, listen_key)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    config = SimConfig(api_key=KEY, api_secret=SECRET, rate_limits=False, tick_interval=0.05)
    async with SimServer(config, SimExchange(provide_liquidity=False, history=False)) as server:
        server.exchange.fund(KEY, "BTC", Decimal(5))
        yield server


async def first(stream: MarketStream | UserDataStream, kind: type[StreamItem]) -> StreamItem:
    async with asyncio.timeout(5):
        while True:
            item = await stream.next()
            if isinstance(item, kind):
                return item


def limit(side: str, price: str, qty: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "price": price, "quantity": qty}


async def test_market_stream_receives_depth_from_mexcsim(sim: SimServer) -> None:
    config = StreamConfig(url=sim.url.replace("http://", "ws://") + "/ws")
    async with MarketStream(config, rng=random.Random(1)) as stream:
        await stream.subscribe("spot@public.aggre.depth.v3.api.pb@10ms@BTCUSDT")
        await asyncio.sleep(0.2)
        sim.exchange.place_order(KEY, limit("BUY", "100", "1"))
        update = await first(stream, DepthUpdate)
    version = sim.exchange.depth("BTCUSDT", 5)["lastUpdateId"]
    assert isinstance(update, DepthUpdate)
    assert update[0].publicAggreDepths.toVersion == str(version)


async def test_user_data_stream_receives_order_fill_and_balance(sim: SimServer) -> None:
    config = StreamConfig(url=sim.url.replace("http://", "ws://") + "/ws")
    sim.exchange.create_account("other", "secret", {"USDT": Decimal(1000)})
    async with UserDataStream(SimListenKeys(sim.exchange), config, rng=random.Random(1)) as stream:
        await asyncio.sleep(0.3)
        sim.exchange.place_order(KEY, limit("SELL", "100", "1"))
        assert isinstance(await first(stream, OrderUpdate), OrderUpdate)
        sim.exchange.place_order("other", limit("BUY", "100", "1"))
        assert isinstance(await first(stream, FillUpdate), FillUpdate)
        assert isinstance(await first(stream, BalanceUpdate), BalanceUpdate)
