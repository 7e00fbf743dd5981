"""MexcLiveMarket against mexcsim over loopback: books equal to the exchange's REST depth after
trades move them (one snapshot, no depth call per read), trade lists equal to REST recentTrades,
more than 30 channels spread over two connections, and a stalled or dropped stream making the
reads refuse (so callers fall back to REST) instead of serving a frozen book."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from mexcbot.domain.market import PublicTrade
from mexcbot.mexc import live_market
from mexcbot.mexc.live_market import MexcLiveMarket
from mexcbot.mexc.live_state import merge_seed
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.mexc.streams import StreamConfig, channels
from mexcsim import SimConfig, SimServer
from mexcsim.exchange import SimExchange
from mexcsim.http.faults import FaultPlan
from mexcsim.market.symbols import DEFAULT_SYMBOLS

D = Decimal
KEY, SECRET = "live-key", "live-secret"
SYMBOL = "BTCUSDT"


@dataclasses.dataclass
class Rig:
    sim: SimServer
    live: MexcLiveMarket
    requests: Counter[str]


def _rig(liquid: bool, stale_after_s: float) -> Callable[[], AsyncIterator[Rig]]:
    async def build() -> AsyncIterator[Rig]:
        config = SimConfig(api_key=KEY, api_secret=SECRET, rate_limits=False, tick_interval=0.05)
        exchange = SimExchange(provide_liquidity=liquid, history=liquid)
        async with SimServer(config, exchange) as sim:
            sim.exchange.fund(KEY, "BTC", D(50))
            sim.exchange.fund(KEY, "USDT", D(10_000_000))
            requests: Counter[str] = Counter()
            client_config = MexcClientConfig(
                api_key=KEY, api_secret=SECRET, base_url=sim.url, rate_limit=False, timeout_s=5.0
            )
            async with MexcClient(
                client_config, on_request=lambda endpoint, _: requests.update([endpoint])
            ) as client:
                stream = StreamConfig(
                    url=sim.url.replace("http://", "ws://") + "/ws",
                    reconnect_initial_s=0.05,
                    reconnect_max_s=0.2,
                )
                live = MexcLiveMarket(client, stream, stale_after_s=stale_after_s)
                try:
                    yield Rig(sim, live, requests)
                finally:
                    await live.close()

    return build


@pytest.fixture
async def quiet() -> AsyncIterator[Rig]:
    """A market that moves only when the test trades (no liquidity bots, no history)."""
    async for rig in _rig(liquid=False, stale_after_s=30.0)():
        yield rig


@pytest.fixture
async def busy() -> AsyncIterator[Rig]:
    """A market that ticks every 50 ms (its pushes keep the connection fresh)."""
    async for rig in _rig(liquid=True, stale_after_s=0.5)():
        yield rig


def order(side: str, price: str, qty: str, symbol: str = SYMBOL) -> dict[str, str]:
    return {"symbol": symbol, "side": side, "type": "LIMIT", "price": price, "quantity": qty}


async def until(check: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Poll `check` until it holds; TimeoutError after `limit_s`."""
    async with asyncio.timeout(limit_s):
        while not check():  # noqa: ASYNC110 (the state is the live market's and the sim's)
            await asyncio.sleep(0.02)


async def eventually(read: Callable[[], Awaitable[bool]], limit_s: float = 5.0) -> None:
    async with asyncio.timeout(limit_s):
        while not await read():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def requests_of(rig: Rig, path: str) -> int:
    return sum(count for endpoint, count in rig.requests.items() if path in endpoint)


def rest_book(rig: Rig, limit: int) -> tuple[int, list[tuple[D, D]], list[tuple[D, D]]]:
    depth: dict[str, Any] = rig.sim.exchange.depth(SYMBOL, limit)
    bids = [(D(p), D(q)) for p, q in depth["bids"]]
    asks = [(D(p), D(q)) for p, q in depth["asks"]]
    return int(depth["lastUpdateId"]), bids, asks


def rest_trades(rig: Rig) -> list[tuple[D, D, D, int, bool]]:
    rows = rig.sim.exchange.trades(SYMBOL, 1000)
    return [
        (
            D(str(r["price"])),
            D(str(r["qty"])),
            D(str(r["quoteQty"])),
            int(str(r["time"])),
            r["isBuyerMaker"] is True,
        )
        for r in rows
    ]


def fields(trades: list[PublicTrade]) -> list[tuple[D, D, D, int, bool]]:
    return [(t.price, t.qty, t.quote_qty, t.time, t.is_buyer_maker) for t in trades]


async def test_the_book_follows_trades_and_equals_the_rest_depth(quiet: Rig) -> None:
    ex = quiet.sim.exchange
    for price in ("100", "99", "98"):
        ex.place_order(KEY, order("BUY", price, "1"))
    for price in ("101", "102", "103"):
        ex.place_order(KEY, order("SELL", price, "2"))
    quiet.live.watch(SYMBOL)
    channel = channels.depth(SYMBOL)
    await until(lambda: quiet.sim.streams.subscribers(channel) == 1)
    ex.place_order(KEY, order("BUY", "97", "1"))  # a push: the book syncs on it
    await until(lambda: quiet.live.book(SYMBOL, 100) is not None)

    ex.place_order(KEY, order("BUY", "101", "1.5"))  # takes 101 x 1.5: the book moves
    ex.place_order(KEY, order("SELL", "99", "1.5"))  # takes 100 x 1 and 99 x 0.5
    version, bids, asks = rest_book(quiet, 100)

    def caught_up() -> bool:
        fresh = quiet.live.book(SYMBOL, 100)
        return fresh is not None and fresh.value.last_update_id == version

    await until(caught_up)
    fresh = quiet.live.book(SYMBOL, 100)
    assert fresh is not None
    assert [(level.price, level.qty) for level in fresh.value.bids] == bids
    assert [(level.price, level.qty) for level in fresh.value.asks] == asks
    assert bids[0] == (D(99), D("0.5"))
    assert asks[0] == (D(101), D("0.5"))
    top = quiet.live.book(SYMBOL, 1)
    assert top is not None
    assert top.value.bids == fresh.value.bids[:1]
    snapshots = requests_of(quiet, "/api/v3/depth")
    for _ in range(200):
        assert quiet.live.book(SYMBOL, 100) is not None
    assert requests_of(quiet, "/api/v3/depth") == snapshots == 1
    quote = quiet.live.quote(SYMBOL)
    assert quote is not None
    assert (quote.value.bid, quote.value.ask) == (D(99), D(101))
    assert quiet.live.status().books_synced == 1


async def test_recent_trades_from_the_stream_equal_rest_after_new_trades(quiet: Rig) -> None:
    ex = quiet.sim.exchange
    ex.place_order(KEY, order("SELL", "100", "10"))
    for qty in ("0.1", "0.2", "0.3"):  # three trades before watching: the REST seed holds them
        ex.place_order(KEY, order("BUY", "100", qty))
    quiet.live.watch(SYMBOL)
    await until(lambda: quiet.sim.streams.subscribers(channels.trades(SYMBOL)) == 1)
    assert quiet.live.trades(SYMBOL, 10) is None  # not seeded yet: callers use REST
    for qty in ("0.4", "0.5"):
        ex.place_order(KEY, order("BUY", "100", qty))
    ex.place_order(KEY, order("BUY", "99", "1"))
    ex.place_order(KEY, order("SELL", "99", "0.25"))  # a sell taker: the buyer was the maker

    def complete() -> bool:
        fresh = quiet.live.trades(SYMBOL, 1000)
        return fresh is not None and len(fresh.value) == len(rest_trades(quiet))

    await until(complete)
    fresh = quiet.live.trades(SYMBOL, 1000)
    assert fresh is not None
    assert fields(fresh.value) == rest_trades(quiet)
    assert len(fresh.value) == 6
    assert fresh.value[-1].is_buyer_maker
    assert not fresh.value[0].is_buyer_maker
    newest = quiet.live.trades(SYMBOL, 2)
    assert newest is not None
    assert fields(newest.value) == rest_trades(quiet)[-2:]
    assert requests_of(quiet, "/api/v3/trades") == 1
    quote = quiet.live.quote(SYMBOL)
    assert quote is not None
    assert quote.value.last == D(99)


def test_the_seed_merge_drops_the_pushes_it_holds_and_keeps_the_newer() -> None:
    def trade(time_ms: int, qty: str) -> PublicTrade:
        return PublicTrade(D(1), D(qty), D(qty), time_ms, False, None)

    seed = [trade(3, "2"), trade(1, "1"), trade(3, "3")]  # any order: sorted by time
    pushed = [trade(3, "3"), trade(3, "4"), trade(4, "5"), trade(2, "9")]
    merged = merge_seed(seed, pushed)
    assert [(t.time, t.qty) for t in merged] == [
        (1, D(1)),
        (3, D(2)),
        (3, D(3)),
        (3, D(4)),
        (4, D(5)),
    ]
    assert merge_seed([], pushed) == pushed


async def test_more_than_30_channels_spread_over_two_connections(quiet: Rig) -> None:
    ex = quiet.sim.exchange
    now_ms = int(time.time() * 1000)
    symbols = list(ex.market_symbols())
    for n in range(11 - len(symbols)):
        name = f"NEW{n}"
        spec = dataclasses.replace(
            DEFAULT_SYMBOLS[0], symbol=f"{name}USDT", base_asset=name, initial_price=D(1)
        )
        ex.schedule_listing(spec, now_ms - 1000, D(1), book_ramp_ms=0)
        symbols.append(spec.symbol)
    assert len(symbols) == 11  # 33 channels
    for symbol in symbols:
        quiet.live.watch(symbol)
        quiet.live.watch(symbol)  # idempotent
    every = [c for s in symbols for c in (channels.trades(s), channels.depth(s))]
    await until(lambda: all(quiet.sim.streams.subscribers(c) == 1 for c in every))
    await until(lambda: all(c.connected for c in quiet.live.status().connections))
    status = quiet.live.status()
    assert sorted(c.subscriptions for c in status.connections) == [3, 30]
    assert quiet.sim.streams.connections == 2
    assert set(status.watched) == set(symbols)

    for symbol in symbols[:4]:
        quiet.live.unwatch(symbol)
    gone = channels.depth(symbols[0])
    await until(lambda: quiet.sim.streams.subscribers(gone) == 0)
    await until(lambda: sum(c.subscriptions for c in quiet.live.status().connections) == 21)
    assert set(quiet.live.watched()) == set(symbols[4:])


async def test_a_stalled_stream_stops_the_answers_until_pushes_flow_again(busy: Rig) -> None:
    busy.live.watch(SYMBOL)
    await until(lambda: busy.live.book(SYMBOL, 20) is not None)
    await until(lambda: busy.live.trades(SYMBOL, 20) is not None)
    busy.sim.faults.set(FaultPlan(ws_stall_ms=2500))  # socket open, PONGs answered, pushes held
    started = time.monotonic()
    await until(lambda: busy.live.book(SYMBOL, 20) is None, limit_s=2.0)
    assert time.monotonic() - started < 1.5
    assert busy.live.trades(SYMBOL, 20) is None
    assert busy.live.quote(SYMBOL) is None
    assert busy.live.status().connections[0].connected  # not a disconnect: a stall
    await until(lambda: busy.live.book(SYMBOL, 20) is not None, limit_s=5.0)


async def test_a_dropped_stream_refuses_then_resyncs_the_book_and_reseeds_trades(
    busy: Rig,
) -> None:
    busy.live.watch(SYMBOL)
    await until(lambda: busy.live.book(SYMBOL, 20) is not None)
    await until(lambda: busy.live.trades(SYMBOL, 20) is not None)
    snapshots, seeds = requests_of(busy, "/api/v3/depth"), requests_of(busy, "/api/v3/trades")
    busy.sim.faults.set(FaultPlan(ws_drop_connections=True, ws_stall_ms=300))
    await until(lambda: busy.live.book(SYMBOL, 20) is None, limit_s=2.0)
    assert busy.live.trades(SYMBOL, 20) is None
    await until(lambda: busy.live.book(SYMBOL, 20) is not None, limit_s=5.0)
    await until(lambda: busy.live.trades(SYMBOL, 20) is not None, limit_s=5.0)
    assert requests_of(busy, "/api/v3/depth") > snapshots  # a fresh snapshot after the outage
    assert requests_of(busy, "/api/v3/trades") == seeds + 1
    assert busy.live.status().book_resyncs >= 1

    async def a_run_of_rest() -> bool:
        """The reseeded list is a gapless, duplicate-free run of the exchange's tape (the
        market keeps trading, so REST may already hold newer trades)."""
        live = busy.live.trades(SYMBOL, 1000)
        if live is None:
            return False
        mine, tape = fields(live.value)[-50:], rest_trades(busy)
        return any(tape[i : i + len(mine)] == mine for i in range(len(tape) - len(mine) + 1))

    await eventually(a_run_of_rest)


async def test_a_symbol_refused_before_its_listing_opens_is_subscribed_after_it(
    busy: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_market, "_RESUBSCRIBE_S", 0.2)
    spec = dataclasses.replace(
        DEFAULT_SYMBOLS[0], symbol="SOONUSDT", base_asset="SOON", initial_price=D(1)
    )
    busy.sim.exchange.schedule_listing(spec, int(time.time() * 1000) + 800, D(1), book_ramp_ms=0)
    busy.live.watch("SOONUSDT")
    await asyncio.sleep(0.3)
    assert busy.sim.streams.subscribers(channels.depth("SOONUSDT")) == 0  # "Blocked"
    await until(lambda: busy.sim.streams.subscribers(channels.depth("SOONUSDT")) == 1)
    assert "SOONUSDT" in busy.live.watched()
