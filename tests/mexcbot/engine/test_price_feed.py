"""PriceFeed against mexcsim's market stream: the PriceBook follows pushed trades, PriceChanged is
throttled per symbol, and every (re)connect reloads the book over REST."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import PriceChanged
from mexcbot.engine.ports import PriceTick
from mexcbot.engine.price_feed import PriceFeed
from mexcbot.engine.prices import PriceBook
from mexcsim import SimServer
from tests.fixtures.price_stream import (
    PRICE_RELOAD,
    drop_the_stream_until_it_reloads,
    following,
    stream_rig,
    until,
)

SYMBOL = "BTCUSDT"


async def test_prices_follow_the_stream_and_a_reconnect_reloads_them(
    sim_no_limits: SimServer,
) -> None:
    sim = sim_no_limits
    async with stream_rig(sim) as rig:
        prices = PriceBook(rig.exchange)
        feed = PriceFeed(rig.exchange, prices, rig.events, [SYMBOL], publish_interval_s=0.5)
        async with following(feed), asyncio.timeout(10):
            await until(lambda: feed.health.connected and any(c.last for c in rig.changes))
            assert PRICE_RELOAD in rig.requests  # the connect's REST reload
            sim.exchange.set_price(SYMBOL, Decimal(12345))
            await until(lambda: _near(prices.last(SYMBOL), Decimal(12345)))  # it moves on

            await drop_the_stream_until_it_reloads(sim, feed, rig)
    assert [(s.connected, s.gaps) for s in rig.statuses][:3] == [(True, 0), (False, 1), (True, 1)]
    changes = rig.changes
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
