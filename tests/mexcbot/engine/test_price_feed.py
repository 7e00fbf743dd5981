"""PriceFeed against mexcsim's market stream: the PriceBook follows pushed trades, PriceChanged is
throttled per symbol, and every (re)connect reloads the book over REST."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import PriceChanged, StreamStatusChanged
from mexcbot.engine.ports import PriceTick
from mexcbot.engine.price_feed import PriceFeed
from mexcbot.engine.prices import PriceBook
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.mexc.streams import StreamConfig
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan
from tests.fixtures.engine_timing import client_config

SYMBOL = "BTCUSDT"


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
    while True:
        if condition():
            return
        await asyncio.sleep(0.02)


async def test_prices_follow_the_stream_and_a_reconnect_reloads_them(
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
        prices = PriceBook(exchange)
        feed = PriceFeed(exchange, prices, events, [SYMBOL], publish_interval_s=0.5)
        async with following(feed), asyncio.timeout(10):
            await until(lambda: feed.health.connected and any(c.last for c in changes))
            assert "GET /api/v3/ticker/price" in requests  # the connect's REST reload
            sim.exchange.set_price(SYMBOL, Decimal(12345))
            await until(lambda: _near(prices.last(SYMBOL), Decimal(12345)))  # it moves on

            requests.clear()
            sim.faults.set(FaultPlan(ws_drop_connections=True))
            await until(lambda: feed.health.reconnects == 1 and feed.health.connected)
            await until(lambda: "GET /api/v3/ticker/price" in requests)
    assert [(s.connected, s.gaps) for s in statuses][:3] == [(True, 0), (False, 1), (True, 1)]
    assert all(c.symbol == SYMBOL for c in changes)
    times = [c.at for c in changes]
    assert times == sorted(times)
    assert feed.health.messages > len(changes)  # throttled: fewer events than pushes


async def test_price_changed_is_throttled_per_symbol_and_carries_the_newest_values() -> None:
    events = EventBus()
    changes: list[PriceChanged] = []
    events.subscribe(PriceChanged, changes.append)
    now = [0.0]
    feed = PriceFeed(
        _NoExchange(),  # type: ignore[arg-type]
        PriceBook(_NoExchange(), clock=lambda: now[0]),  # type: ignore[arg-type]
        events,
        [SYMBOL, "ETHUSDT"],
        publish_interval_s=1.0,
        clock=lambda: now[0],
    )
    at = _utc(0)
    d = Decimal
    await feed.handle(PriceTick(SYMBOL, d(100), None, None, at))
    await feed.handle(PriceTick(SYMBOL, None, d(99), d(101), at))  # within the interval
    await feed.handle(PriceTick("ETHUSDT", d(5), None, None, at))  # another symbol
    now[0] = 1.5
    await feed.handle(PriceTick(SYMBOL, d(102), None, None, at))
    assert [(c.symbol, c.last, c.bid, c.ask) for c in changes] == [
        (SYMBOL, d(100), None, None),
        ("ETHUSDT", d(5), None, None),
        (SYMBOL, d(102), d(99), d(101)),  # the skipped quote is carried
    ]


def _near(price: Decimal | None, target: Decimal) -> bool:
    return price is not None and abs(price - target) < target * Decimal("0.05")


class _NoExchange:
    """PriceBook and PriceFeed without I/O (ticks are handed to `handle` directly)."""


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
