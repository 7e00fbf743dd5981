"""mexcsim's ``/ws``: MEXC's control protocol, its limits, and pushes that follow the real book."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from mexcsim import SimConfig, SimServer
from mexcsim.exchange import SimExchange
from mexcsim.http.faults import FaultPlan
from mexcsim.market.symbols import DEFAULT_SYMBOLS

KEY, SECRET = "ws-key", "ws-secret"
DEPTH = "spot@public.aggre.depth.v3.api.pb@10ms@BTCUSDT"


@pytest.fixture
async def quiet() -> AsyncIterator[SimServer]:
    """A market without synthetic liquidity: only the test's orders move the book."""
    config = SimConfig(
        api_key=KEY,
        api_secret=SECRET,
        rate_limits=False,
        tick_interval=0.05,
        ws_no_sub_timeout=0.4,
        ws_idle_timeout=1.5,
    )
    async with SimServer(config, SimExchange(provide_liquidity=False, history=False)) as server:
        server.exchange.fund(KEY, "BTC", Decimal(10))
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def ws_url(sim: SimServer, listen_key: str | None = None) -> str:
    url = sim.url.replace("http://", "ws://") + "/ws"
    return url if listen_key is None else f"{url}?listenKey={listen_key}"


async def next_text(ws: aiohttp.ClientWebSocketResponse) -> str:
    while True:
        message = await asyncio.wait_for(ws.receive(), 3)
        if message.type is aiohttp.WSMsgType.TEXT:
            return str(message.data)
        assert message.type is aiohttp.WSMsgType.BINARY, message


async def next_push(ws: aiohttp.ClientWebSocketResponse, channel: str) -> PushDataV3ApiWrapper:
    while True:
        message = await asyncio.wait_for(ws.receive(), 3)
        if message.type is aiohttp.WSMsgType.BINARY:
            push = PushDataV3ApiWrapper()
            push.ParseFromString(message.data)
            if push.channel == channel:
                return push


def limit(side: str, price: str, qty: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "price": price, "quantity": qty}


async def test_control_frames_follow_mexc(quiet: SimServer, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(ws_url(quiet)) as ws:
        for method in ("PING", "ping", "Ping"):
            await ws.send_str(json.dumps({"method": method}))
            assert json.loads(await next_text(ws)) == {"id": 0, "code": 0, "msg": "PONG"}
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [DEPTH]}))
        assert json.loads(await next_text(ws)) == {"id": 0, "code": 0, "msg": DEPTH}
        unsub = {"method": "UNSUBSCRIPTION", "params": [DEPTH], "id": 7}
        await ws.send_str(json.dumps(unsub))
        assert json.loads(await next_text(ws)) == {"id": 7, "code": 0, "msg": DEPTH}


async def test_refusals_are_blocked_and_the_cap_is_30(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    json_channel = "spot@public.deals.v3.api@BTCUSDT"
    async with http.ws_connect(ws_url(quiet)) as ws:
        params = [json_channel, "spot@private.orders.v3.api.pb"]
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": params, "id": 3}))
        for channel in params:
            msg = f"Not Subscribed successfully! [{channel}].  Reason： Blocked!"
            assert json.loads(await next_text(ws)) == {"id": 3, "code": 0, "msg": msg}
        channels = [f"spot@public.kline.v3.api.pb@BTCUSDT@Min{n}" for n in (1, 5, 15, 30, 60)]
        channels += [f"spot@public.limit.depth.v3.api.pb@BTCUSDT@{n}" for n in (5, 10, 20)]
        symbols = ["BTCUSDT", "ETHUSDT"]
        channels += [
            f"spot@public.aggre.{kind}.v3.api.pb@{iv}@{s}"
            for kind in ("deals", "depth", "bookTicker")
            for iv in ("100ms", "10ms")
            for s in symbols
        ]
        channels += [f"spot@public.kline.v3.api.pb@ETHUSDT@{k}" for k in ("Min1", "Hour4")]
        channels += [
            f"spot@public.kline.v3.api.pb@BTCUSDT@{k}"
            for k in ("Hour4", "Hour8", "Day1", "Week1", "Month1")
        ]
        channels += ["spot@public.bookTicker.batch.v3.api.pb@BTCUSDT"]
        assert len(channels) == 28
        extra = [
            "spot@public.bookTicker.batch.v3.api.pb@ETHUSDT",
            "spot@public.kline.v3.api.pb@ETHUSDT@Day1",
        ]
        over = "spot@public.kline.v3.api.pb@ETHUSDT@Week1"
        for channel in [*channels, *extra]:
            await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [channel]}))
            assert json.loads(await next_text(ws))["msg"] == channel
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [over]}))
        assert "Blocked" in json.loads(await next_text(ws))["msg"]


async def test_invalid_listen_key_is_refused_then_closed(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ws_url(quiet, "nope")) as ws:
        assert await next_text(ws) == "Invalid listen key"
        message = await asyncio.wait_for(ws.receive(), 3)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_a_connection_without_subscription_is_closed(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ws_url(quiet)) as ws:
        message = await asyncio.wait_for(ws.receive(), 3)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert quiet.config.ws_no_sub_timeout < 1


async def test_book_rebuilt_from_snapshot_and_diffs_equals_rest(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    exchange = quiet.exchange
    exchange.place_order(KEY, limit("BUY", "100", "1"))
    async with http.ws_connect(ws_url(quiet)) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [DEPTH]}))
        await next_text(ws)
        async with http.get(f"{quiet.url}/api/v3/depth?symbol=BTCUSDT&limit=1000") as r:
            snapshot = await r.json()
        version = snapshot["lastUpdateId"]
        book = {
            "bids": {Decimal(p): Decimal(q) for p, q in snapshot["bids"]},
            "asks": {Decimal(p): Decimal(q) for p, q in snapshot["asks"]},
        }
        exchange.place_order(KEY, limit("BUY", "101", "2"))
        exchange.place_order(KEY, limit("SELL", "105", "1.5"))
        exchange.place_order(KEY, limit("SELL", "101", "0.5"))  # fills part of the 101 bid
        target = quiet.exchange.depth("BTCUSDT", 1000)["lastUpdateId"]
        assert isinstance(target, int)
        while version < target:
            body = (await next_push(ws, DEPTH)).publicAggreDepths
            assert int(body.fromVersion) == version + 1
            version = int(body.toVersion)
            for side, items in (("bids", body.bids), ("asks", body.asks)):
                for item in items:
                    qty = Decimal(item.quantity)
                    if qty:
                        book[side][Decimal(item.price)] = qty
                    else:
                        book[side].pop(Decimal(item.price), None)
        async with http.get(f"{quiet.url}/api/v3/depth?symbol=BTCUSDT&limit=1000") as r:
            rest = await r.json()
    assert rest["lastUpdateId"] == version
    assert [[str(p), str(q)] for p, q in sorted(book["bids"].items(), reverse=True)] == rest["bids"]
    assert [[str(p), str(q)] for p, q in sorted(book["asks"].items())] == rest["asks"]
    assert rest["bids"] == [["101", "1.5"], ["100", "1"]]


async def test_skipped_depth_version_fault_leaves_a_gap(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ws_url(quiet)) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [DEPTH]}))
        await next_text(ws)
        before = quiet.exchange.depth("BTCUSDT", 5)["lastUpdateId"]
        assert isinstance(before, int)
        quiet.faults.set(FaultPlan(ws_skip_depth_versions=1))
        quiet.exchange.place_order(KEY, limit("BUY", "100", "1"))
        body = (await next_push(ws, DEPTH)).publicAggreDepths
        assert int(body.fromVersion) == before + 2


async def test_drop_fault_closes_every_connection(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(ws_url(quiet)) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": [DEPTH]}))
        await next_text(ws)
        quiet.faults.set(FaultPlan(ws_drop_connections=True))
        message = await asyncio.wait_for(ws.receive(), 3)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert quiet.faults.plan.ws_drop_connections is False


async def test_a_fill_pushes_deals_orders_and_account(
    quiet: SimServer, http: aiohttp.ClientSession
) -> None:
    exchange = quiet.exchange
    listen_key = str(exchange.create_listen_key(KEY)["listenKey"])
    exchange.create_account("other", "secret", {"BTC": Decimal(1)})
    channels = [
        "spot@private.orders.v3.api.pb",
        "spot@private.deals.v3.api.pb",
        "spot@private.account.v3.api.pb",
    ]
    async with http.ws_connect(ws_url(quiet, listen_key)) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIPTION", "params": channels, "id": 1}))
        assert json.loads(await next_text(ws))["msg"] == ",".join(channels)
        placed = exchange.place_order(KEY, limit("BUY", "100", "1"))
        order = (await next_push(ws, channels[0])).privateOrders
        assert (order.id, order.status, order.tradeType) == (placed["orderId"], 1, 1)
        place = (await next_push(ws, channels[2])).privateAccount
        assert (place.type, place.vcoinName, place.frozenAmountChange) == (
            "ENTRUST_PLACE",
            "USDT",
            "100",
        )
        exchange.place_order("other", limit("SELL", "100", "0.4"))
        kinds = []
        for _ in range(4):
            message = await asyncio.wait_for(ws.receive(), 3)
            push = PushDataV3ApiWrapper()
            push.ParseFromString(message.data)
            kinds.append(push.WhichOneof("body"))
            if push.HasField("privateDeals"):
                assert (push.privateDeals.quantity, push.privateDeals.isMaker) == ("0.4", True)
                assert push.symbol == "BTCUSDT"
            if push.HasField("privateOrders"):
                assert (push.privateOrders.status, push.privateOrders.cumulativeQuantity) == (
                    3,
                    "0.4",
                )
        assert kinds == ["privateDeals", "privateOrders", "privateAccount", "privateAccount"]


async def test_a_pending_listing_is_blocked_until_it_opens(http: aiohttp.ClientSession) -> None:
    config = SimConfig(rate_limits=False, tick_interval=0.05, listing_book_ramp_s=1.0)
    async with SimServer(config, SimExchange(history=False)) as sim:
        opens = sim.now_ms() + 300
        new_coin = dataclasses.replace(
            DEFAULT_SYMBOLS[3], symbol="NEWUSDT", base_asset="NEW", full_name="New Coin"
        )
        sim.exchange.schedule_listing(new_coin, opens, Decimal("0.05"))
        channel = "spot@public.aggre.depth.v3.api.pb@100ms@NEWUSDT"
        subscribe = {"method": "SUBSCRIPTION", "params": [channel], "id": 3}
        async with http.ws_connect(ws_url(sim)) as ws:
            await ws.send_str(json.dumps(subscribe))
            msg = f"Not Subscribed successfully! [{channel}].  Reason： Blocked!"
            assert json.loads(await next_text(ws)) == {"id": 3, "code": 0, "msg": msg}
            assert sim.streams.subscribers(channel) == 0
            await asyncio.sleep(max(0.0, (opens - sim.now_ms()) / 1000))
            await ws.send_str(json.dumps(subscribe))
            assert json.loads(await next_text(ws)) == {"id": 3, "code": 0, "msg": channel}
            push = await next_push(ws, channel)  # the book filling in after the open
            assert push.symbol == "NEWUSDT"
            assert push.publicAggreDepths.asks or push.publicAggreDepths.bids
