"""LocalOrderBook fed from the loopback exchange's depth pushes, snapshot over REST with the real
client: it syncs, drops stale diffs, resyncs on a gap and ends equal to the exchange's book."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mexcbot.mexc.models import OrderBook, PriceLevel
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.mexc.streams import (
    BookNotSynced,
    DepthUpdate,
    LocalOrderBook,
    MarketStream,
    StreamConfig,
    channels,
    decode_push,
)
from tests.fixtures.ws_exchange import ExchangeBook, WsExchange

D = Decimal
SYMBOL = "BTCUSDT"


@pytest.fixture
async def rest(ws_exchange: WsExchange) -> AsyncIterator[MexcClient]:
    config = MexcClientConfig(base_url=ws_exchange.url, rate_limit=False, timeout_s=5.0)
    async with MexcClient(config) as client:
        yield client


def levels(side: dict[Decimal, Decimal], best_first_high: bool) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(p, side[p]) for p in sorted(side, reverse=best_first_high))


def assert_same_book(book: LocalOrderBook, exchange: ExchangeBook) -> None:
    bids, asks = book.top(1000)
    assert bids == levels(exchange.bids, True)
    assert asks == levels(exchange.asks, False)
    assert book.version == exchange.version


async def pump(stream: MarketStream, book: LocalOrderBook, until_version: int) -> None:
    """Feed depth pushes to the book until it is synced at ``until_version``."""
    async with asyncio.timeout(5):
        while not (book.synced and book.version >= until_version):
            try:
                item = await asyncio.wait_for(stream.next(), 0.05)
            except TimeoutError:
                continue
            if isinstance(item, DepthUpdate):
                book.apply(item)


async def test_gap_resyncs_from_the_rest_snapshot(
    ws_exchange: WsExchange, rest: MexcClient
) -> None:
    exchange = ws_exchange.book(SYMBOL)
    exchange.change(bids={"100": "1", "99": "2"}, asks={"101": "1", "102": "3"})
    config = StreamConfig(url=ws_exchange.ws_url, reconnect_initial_s=0.01, reconnect_max_s=0.05)
    book = LocalOrderBook(SYMBOL, lambda s: rest.depth(s, limit=1000), resync_delay_s=0.01)
    async with MarketStream(config, rng=random.Random(5)) as stream:
        await stream.subscribe(channels.depth(SYMBOL))
        await ws_exchange.wait_until(lambda: channels.depth(SYMBOL) in ws_exchange.subscribed())
        with pytest.raises(BookNotSynced):
            book.best_bid()

        await ws_exchange.publish(exchange.change(bids={"100": "1.5"}))
        await pump(stream, book, exchange.version)
        assert ws_exchange.depth_requests == 1
        assert book.best_bid() == PriceLevel(D(100), D("1.5"))
        assert book.best_ask() == PriceLevel(D(101), D(1))

        for change in ({"bids": {"99": "0"}}, {"asks": {"101.5": "4"}, "steps": 3}):
            await ws_exchange.publish(exchange.change(**change))  # type: ignore[arg-type]
        await pump(stream, book, exchange.version)
        assert_same_book(book, exchange)
        assert book.resyncs == 0

        exchange.change(bids={"100": "0", "98": "7"})  # never pushed: the stream has a gap
        await ws_exchange.publish(exchange.change(asks={"102": "0"}))
        await pump(stream, book, exchange.version)
        assert book.resyncs == 1
        assert ws_exchange.depth_requests == 2
        assert_same_book(book, exchange)
        assert book.best_bid() == PriceLevel(D(98), D(7))
        bids, asks = book.top(1)
        assert (bids, asks) == ((PriceLevel(D(98), D(7)),), (PriceLevel(D(101), D(1)),))
    await book.close()


def _push_of(exchange: ExchangeBook, **change: object) -> DepthUpdate:
    event = decode_push(exchange.change(**change).SerializeToString())  # type: ignore[arg-type]
    assert isinstance(event, DepthUpdate)
    return event


async def test_stale_and_overlapping_diffs_and_a_too_old_snapshot() -> None:
    exchange = ExchangeBook(SYMBOL, version=10)
    snapshots: list[OrderBook] = []
    early = _push_of(exchange, bids={"5": "1"})  # version 11
    stale_snapshot = OrderBook(9, (), (), None)  # older than the first buffered diff
    snapshots.append(stale_snapshot)
    first = _push_of(exchange, bids={"6": "1"}, steps=2)  # 12..13

    async def snapshot(_: str) -> OrderBook:
        if snapshots:
            return snapshots.pop(0)
        data = {"bids": exchange.bids, "asks": exchange.asks}
        bids = levels(data["bids"], True)
        return OrderBook(exchange.version, bids, levels(data["asks"], False), None)

    book = LocalOrderBook(SYMBOL, snapshot, resync_delay_s=0.01)
    book.apply(first)  # buffered: the first snapshot (9) is too old for 12.., the next one fits
    async with asyncio.timeout(2):
        await book.wait_synced()
    assert book.snapshots == 2
    assert book.version == 13
    book.apply(early)  # stale: ignored
    book.apply(first)  # duplicate: ignored
    assert_same_book(book, exchange)
    overlap = _push_of(exchange, asks={"7": "2"}, steps=2)  # 14..15
    book.apply(overlap)
    assert_same_book(book, exchange)
    book.apply(_push_of(exchange, bids={"5": "0"}))
    book.apply(early)  # stale again: re-applying it would bring back the removed level
    assert_same_book(book, exchange)
    assert book.resyncs == 0
    book.invalidate("stream disconnected")
    with pytest.raises(BookNotSynced):
        book.top(5)
    async with asyncio.timeout(2):
        await book.wait_synced()
    assert_same_book(book, exchange)
    await book.close()
