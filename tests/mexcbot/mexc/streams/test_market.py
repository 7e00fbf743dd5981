"""MarketStream against the loopback exchange: connections per 30 channels, resubscription
after a drop, keepalive PINGs, a dead connection noticed by its missing PONG, rotation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from mexcbot.mexc.streams import (
    MarketStream,
    StreamConfig,
    StreamConnected,
    StreamDisconnected,
    StreamItem,
    SubscriptionRefused,
    Trades,
    channels,
)
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from tests.fixtures.ws_exchange import WsExchange


def fast_config(exchange: WsExchange, **changes: float) -> StreamConfig:
    values: dict[str, float] = {
        "ping_interval_s": 5.0,
        "pong_timeout_s": 2.0,
        "reconnect_initial_s": 0.01,
        "reconnect_max_s": 0.05,
    }
    values.update(changes)
    return StreamConfig(url=exchange.ws_url, **values)  # type: ignore[arg-type]


@pytest.fixture
async def stream(ws_exchange: WsExchange) -> AsyncIterator[MarketStream]:
    async with MarketStream(fast_config(ws_exchange), rng=random.Random(1)) as market:
        yield market


async def next_of(stream: MarketStream, kind: type[StreamItem], limit_s: float = 5.0) -> StreamItem:
    async with asyncio.timeout(limit_s):
        while True:
            item = await stream.next()
            if isinstance(item, kind):
                return item


def trade_push(symbol: str, price: str) -> PushDataV3ApiWrapper:
    push = PushDataV3ApiWrapper(channel=channels.trades(symbol), symbol=symbol, sendTime=1)
    push.publicAggreDeals.deals.add(price=price, quantity="1", tradeType=1, time=1)
    return push


SYMBOLS = [f"C{i:02d}USDT" for i in range(40)]


async def test_channel_names_follow_the_reference() -> None:
    assert channels.trades("btcusdt") == "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"
    assert channels.depth("BTCUSDT", "10ms") == "spot@public.aggre.depth.v3.api.pb@10ms@BTCUSDT"
    assert channels.limit_depth("BTCUSDT", 5) == "spot@public.limit.depth.v3.api.pb@BTCUSDT@5"
    assert channels.book_ticker("BTCUSDT") == "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT"
    assert channels.book_ticker_batch("BTCUSDT") == "spot@public.bookTicker.batch.v3.api.pb@BTCUSDT"
    assert channels.klines("BTCUSDT", "60m") == "spot@public.kline.v3.api.pb@BTCUSDT@Min60"
    assert channels.klines("BTCUSDT", "Week1") == "spot@public.kline.v3.api.pb@BTCUSDT@Week1"
    with pytest.raises(ValueError, match="kline interval"):
        channels.klines("BTCUSDT", "1h")
    with pytest.raises(ValueError, match="levels"):
        channels.limit_depth("BTCUSDT", 7)


async def test_forty_channels_open_two_connections(
    ws_exchange: WsExchange, stream: MarketStream
) -> None:
    wanted = [channels.trades(s) for s in SYMBOLS]
    await stream.subscribe(*wanted)
    assert [len(c.channels) for c in stream.connections] == [30, 10]
    await ws_exchange.wait_until(lambda: ws_exchange.subscribed() == set(wanted))
    assert len(ws_exchange.live_peers()) == 2
    assert all(len(p.channels) <= 30 for p in ws_exchange.live_peers())
    await ws_exchange.publish(trade_push("C35USDT", "1.25"))
    event = await next_of(stream, Trades)
    assert isinstance(event, Trades)
    assert event.symbol == "C35USDT"

    await stream.unsubscribe(*wanted[30:])
    assert len(stream.connections) == 1
    await ws_exchange.wait_until(lambda: ws_exchange.subscribed() == set(wanted[:30]))
    await stream.unsubscribe(wanted[0])  # the connection stays: UNSUBSCRIPTION on the wire
    await ws_exchange.wait_until(lambda: ws_exchange.subscribed() == set(wanted[1:30]))
    await stream.subscribe(channels.depth("C00USDT"))  # the freed slot is reused
    assert len(stream.connections) == 1


async def test_reconnect_after_a_drop_resubscribes_everything(
    ws_exchange: WsExchange, stream: MarketStream
) -> None:
    wanted = [channels.trades(s) for s in SYMBOLS[:35]] + [channels.depth("C00USDT")]
    await stream.subscribe(*wanted)
    await ws_exchange.wait_until(lambda: ws_exchange.subscribed() == set(wanted))
    await ws_exchange.drop_connections()
    assert isinstance(await next_of(stream, StreamDisconnected), StreamDisconnected)
    await ws_exchange.wait_until(
        lambda: ws_exchange.connects == 4 and ws_exchange.subscribed() == set(wanted)
    )
    await ws_exchange.publish(trade_push("C01USDT", "2"))
    event = await next_of(stream, Trades)
    assert isinstance(event, Trades)
    assert event.trades[0].price == 2


async def test_refused_channel_is_reported(ws_exchange: WsExchange, stream: MarketStream) -> None:
    ws_exchange.blocked.add(channels.trades("DEADUSDT"))
    await stream.subscribe(channels.trades("DEADUSDT"))
    refused = await next_of(stream, SubscriptionRefused)
    assert isinstance(refused, SubscriptionRefused)
    assert refused.channels == (channels.trades("DEADUSDT"),)
    assert refused.reason == "Blocked"


async def test_keepalive_pings_and_a_missing_pong_reconnects(ws_exchange: WsExchange) -> None:
    config = fast_config(ws_exchange, ping_interval_s=0.05, pong_timeout_s=0.2)
    async with MarketStream(config, rng=random.Random(2)) as stream:
        await stream.subscribe(channels.trades("BTCUSDT"))
        await ws_exchange.wait_until(lambda: sum(p.pings for p in ws_exchange.peers) >= 3)
        assert ws_exchange.connects == 1  # answered PINGs keep the connection
        ws_exchange.answer_pings = False
        disconnected = await next_of(stream, StreamDisconnected)
        assert isinstance(disconnected, StreamDisconnected)
        assert "no PONG" in disconnected.reason
        await ws_exchange.wait_until(lambda: ws_exchange.connects >= 2)


async def test_connection_rotates_before_its_lifetime(ws_exchange: WsExchange) -> None:
    config = fast_config(ws_exchange, max_lifetime_s=0.3)
    async with MarketStream(config, rng=random.Random(3)) as stream:
        await stream.subscribe(channels.book_ticker("BTCUSDT"))
        await next_of(stream, StreamConnected)
        disconnected = await next_of(stream, StreamDisconnected)
        assert isinstance(disconnected, StreamDisconnected)
        assert disconnected.reason == "rotation"
        connected = await next_of(stream, StreamConnected)
        assert isinstance(connected, StreamConnected)
        assert connected.channels == (channels.book_ticker("BTCUSDT"),)
        await ws_exchange.wait_until(
            lambda: channels.book_ticker("BTCUSDT") in ws_exchange.subscribed()
        )


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    config = StreamConfig(reconnect_initial_s=0.5, reconnect_max_s=8.0, reconnect_jitter=0.25)
    rng = random.Random(4)
    delays = [config.reconnect_delay(n, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        base = min(8.0, 0.5 * 2 ** (n - 1))
        assert 0.75 * base <= delay <= 1.25 * base
    assert len(set(delays)) == len(delays)
    with pytest.raises(ValueError, match="max_subscriptions"):
        StreamConfig(max_subscriptions=31)


async def test_an_unreadable_binary_frame_reconnects(
    ws_exchange: WsExchange, stream: MarketStream
) -> None:
    await stream.subscribe(channels.trades("BTCUSDT"))
    await ws_exchange.wait_until(lambda: channels.trades("BTCUSDT") in ws_exchange.subscribed())
    await ws_exchange.live_peers()[0].ws.send_bytes(b"\x0a\xff\xff\xff")
    disconnected = await next_of(stream, StreamDisconnected)
    assert isinstance(disconnected, StreamDisconnected)
    assert "unreadable frame" in disconnected.reason
    await ws_exchange.wait_until(
        lambda: ws_exchange.connects == 2 and channels.trades("BTCUSDT") in ws_exchange.subscribed()
    )
