"""A third-party MEXC websocket client (ccxt.pro's ``mexc``) streams from mexcsim's ``/ws``.

ccxt.pro was written against the real wbs-api.mexc.com: it subscribes to the protobuf channels,
decodes the binary frames with its own generated protobuf classes, keeps its order book from a REST
snapshot plus depth deltas, and gets a listen key over REST for the private channels. Only its spot
REST base URLs and ``urls['api']['ws']['spot']`` are pointed at the simulator. The market is quiet
(no synthetic liquidity), so every value ccxt reports can be checked exactly against the
simulator's state. Every watch is bounded by a timeout: ccxt ignores refused subscriptions, so a
channel the simulator got wrong shows up as a hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.pro as ccxtpro
import pytest

from mexcsim import SimConfig, SimServer
from mexcsim.exchange import SimExchange

T = TypeVar("T")

KEY, SECRET = "pro-key", "pro-secret"
OTHER = "pro-other"
BTC = "BTC/USDT"
WATCH_S = 3.0
"""The longest any single watch may take (order book sync needs 25 deltas: ~1 s at 10 ms)."""

ORDERS = "spot@private.orders.v3.api.pb"
DEALS = "spot@private.deals.v3.api.pb"
ACCOUNT = "spot@private.account.v3.api.pb"


class SpotOnlyMexcPro(ccxtpro.mexc):  # type: ignore[misc]
    """ccxt.pro's mexc restricted to spot markets (see ``SpotOnlyMexc`` in test_third_party_ccxt:
    ccxt's fetch_markets always also asks the futures API, which mexcsim does not serve)."""

    async def fetch_markets(self, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        markets: list[dict[str, Any]] = await self.fetch_spot_markets(params or {})
        return markets


@pytest.fixture
async def quiet() -> AsyncIterator[SimServer]:
    """A market without synthetic liquidity whose klines are pushed five times a second."""
    config = SimConfig(
        api_key=KEY,
        api_secret=SECRET,
        rate_limits=False,
        tick_interval=0.05,
        ws_kline_interval=0.2,
    )
    async with SimServer(config, SimExchange(provide_liquidity=False, history=False)) as server:
        server.exchange.create_account(OTHER, "other-secret", {"BTC": Decimal(10)})
        yield server


@pytest.fixture
async def pro(quiet: SimServer) -> AsyncIterator[Any]:
    client = SpotOnlyMexcPro({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    client.urls["api"]["spot"] = {"public": quiet.url, "private": quiet.url}
    client.urls["api"]["ws"]["spot"] = quiet.url.replace("http://", "ws://") + "/ws"
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


def limit(side: str, price: str, qty: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "price": price, "quantity": qty}


async def subscribed(sim: SimServer, *channels: str) -> None:
    """Wait until a connection holds each channel (pushes before that are not meant for it)."""
    for _ in range(int(WATCH_S / 0.01)):
        if all(sim.streams.subscribers(c) for c in channels):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"ccxt never subscribed to {channels}")


async def watch_while(
    watch: Callable[[], Coroutine[Any, Any, T]], poke: Callable[[], object] | None = None
) -> T:
    """Run one ccxt watch to its result within WATCH_S, poking the market every 20 ms meanwhile."""
    task = asyncio.ensure_future(asyncio.wait_for(watch(), WATCH_S))
    while poke is not None and not task.done():
        poke()
        await asyncio.wait({task}, timeout=0.02)
    return await task


async def until(watch: Callable[[], Awaitable[T]], holds: Callable[[T], bool], what: str) -> T:
    """Watch repeatedly until ccxt's answer satisfies ``holds`` (within WATCH_S in all)."""

    async def loop() -> T:
        while True:
            answer = await watch()
            if holds(answer):
                return answer

    try:
        return await asyncio.wait_for(loop(), WATCH_S)
    except TimeoutError:
        pytest.fail(f"ccxt never saw {what}")


def levels(rows: object) -> list[list[float]]:
    assert isinstance(rows, list)
    return [[float(p), float(q)] for p, q in rows]


async def test_ticker_and_trades_follow_the_book(pro: Any, quiet: SimServer) -> None:
    exchange = quiet.exchange
    exchange.place_order(OTHER, limit("SELL", "105", "1"))
    exchange.place_order(KEY, limit("BUY", "100", "2"))
    deep = iter(range(1, 1000))

    def deep_bid() -> None:  # moves the book, not its top
        exchange.place_order(KEY, limit("BUY", f"{90 - next(deep) / 100}", "0.02"))

    ticker = await watch_while(lambda: pro.watch_ticker(BTC), deep_bid)
    assert ticker["symbol"] == BTC
    assert (ticker["bid"], ticker["bidVolume"]) == (100.0, 2.0)
    assert (ticker["ask"], ticker["askVolume"]) == (105.0, 1.0)

    def sell_into_the_bid() -> None:
        exchange.place_order(OTHER, limit("SELL", "100", "0.02"))

    before = quiet.now_ms()
    trades = await watch_while(lambda: pro.watch_trades(BTC), sell_into_the_bid)
    assert trades
    for trade in trades:
        assert trade["symbol"] == BTC
        assert (trade["price"], trade["amount"], trade["side"]) == (100.0, 0.02, "sell")
        assert before <= trade["timestamp"] <= quiet.now_ms()

    # ticker pushes go on while the top moves: the new best bid reaches ccxt
    exchange.place_order(KEY, limit("BUY", "101.5", "0.3"))
    ticker = await until(
        lambda: pro.watch_ticker(BTC), lambda t: t["bid"] == 101.5, "the new best bid"
    )
    assert (ticker["bidVolume"], ticker["ask"]) == (0.3, 105.0)


async def test_ohlcv_is_the_simulated_kline(pro: Any, quiet: SimServer) -> None:
    exchange = quiet.exchange
    exchange.place_order(KEY, limit("BUY", "100", "1"))
    for price, qty in (("100", "0.1"), ("100", "0.2")):
        exchange.place_order(OTHER, limit("SELL", price, qty))
    exchange.place_order(OTHER, limit("SELL", "103", "1"))
    exchange.place_order(KEY, limit("BUY", "103", "0.4"))

    for timeframe, interval in (("1m", "1m"), ("1h", "60m")):
        candles = await watch_while(lambda timeframe=timeframe: pro.watch_ohlcv(BTC, timeframe))
        rows = exchange.klines("BTCUSDT", interval, None, None, 1)
        assert isinstance(rows, list)
        assert rows, interval
        expected = [int(str(rows[-1][0])), *(float(str(v)) for v in rows[-1][1:6])]
        assert candles[-1] == expected, timeframe
    assert candles[-1][1:6] == [100.0, 103.0, 100.0, 103.0, 0.7]


async def test_order_book_synced_from_snapshot_and_deltas_equals_rest(
    pro: Any, quiet: SimServer
) -> None:
    exchange = quiet.exchange
    exchange.place_order(OTHER, limit("SELL", "110", "1"))
    prices = iter(range(1, 1000))

    def new_bid() -> None:  # every command is one depth version, so ccxt gets its 25 deltas
        exchange.place_order(KEY, limit("BUY", f"{100 - next(prices) / 100}", "0.02"))

    await watch_while(lambda: pro.watch_order_book(BTC, params={"frequency": "10ms"}), new_bid)

    # once synced, ccxt applies every delta: a fill, a removed level and new levels
    exchange.place_order(OTHER, limit("SELL", "99.99", "0.02"))  # takes the best bid whole
    exchange.place_order(OTHER, limit("SELL", "99.98", "0.012"))  # part of the next one
    exchange.place_order(OTHER, limit("SELL", "108", "0.5"))
    exchange.place_order(KEY, limit("BUY", "101", "0.25"))
    rest = exchange.depth("BTCUSDT", 1000)

    def same_as_rest(book: Any) -> bool:
        return bool(book["bids"] == levels(rest["bids"]) and book["asks"] == levels(rest["asks"]))

    book = await until(
        lambda: pro.watch_order_book(BTC, params={"frequency": "10ms"}),
        same_as_rest,
        "the simulator's book",
    )
    assert book["bids"][:2] == [[101.0, 0.25], [99.98, 0.008]]
    assert book["asks"] == [[108.0, 0.5], [110.0, 1.0]]
    assert book["symbol"] == BTC


async def test_private_orders_trades_and_balance_over_a_listen_key(
    pro: Any, quiet: SimServer
) -> None:
    exchange = quiet.exchange
    usdt_free = exchange.balances(KEY)["USDT"][0]
    # one shared private connection; ccxt creates the listen key over REST first
    orders = asyncio.ensure_future(asyncio.wait_for(pro.watch_orders(BTC), WATCH_S))
    balance = asyncio.ensure_future(asyncio.wait_for(pro.watch_balance(), WATCH_S))
    mine = asyncio.ensure_future(asyncio.wait_for(pro.watch_my_trades(BTC), WATCH_S))
    await subscribed(quiet, ORDERS, ACCOUNT, DEALS)
    assert exchange.listen_keys(KEY)["listenKey"] == [pro.options["listenKey"]]

    placed = await pro.create_order(BTC, "limit", "buy", 0.5, 100, {"clientOrderId": "pro-1"})
    [new] = await orders
    assert (new["id"], new["clientOrderId"], new["symbol"]) == (placed["id"], "pro-1", BTC)
    assert (new["status"], new["type"], new["side"]) == ("open", "limit", "buy")
    assert (new["price"], new["amount"], new["filled"], new["remaining"]) == (100, 0.5, 0, 0.5)
    placing = await balance
    assert placing["USDT"] == {
        "free": float(usdt_free - 50),
        "used": 50.0,
        "total": float(usdt_free),
    }
    assert placing["info"]["type"] == "ENTRUST_PLACE"
    assert not mine.done()  # no fill yet

    orders = asyncio.ensure_future(asyncio.wait_for(pro.watch_orders(BTC), WATCH_S))
    balance = asyncio.ensure_future(asyncio.wait_for(pro.watch_balance(), WATCH_S))
    exchange.place_order(OTHER, limit("SELL", "100", "0.5"))
    [trade] = await mine
    [sim_trade] = exchange.my_trades(KEY, {"symbol": "BTCUSDT"})
    assert (trade["id"], trade["order"], trade["symbol"]) == (
        str(sim_trade["id"]),
        placed["id"],
        BTC,
    )
    assert (trade["side"], trade["price"], trade["amount"], trade["cost"]) == (
        "buy",
        100.0,
        0.5,
        50.0,
    )
    assert trade["fee"] == {
        "currency": str(sim_trade["commissionAsset"]),
        "cost": float(str(sim_trade["commission"])),
    }
    filled = (await orders)[-1]
    assert (filled["id"], filled["status"], filled["filled"], filled["remaining"]) == (
        placed["id"],
        "closed",
        0.5,
        0,
    )
    assert filled["average"] == 100.0

    # the fill's account frames (one per asset): the USDT spent and the BTC received. ccxt keeps
    # them in ``pro.balance``, which its next watch_balance answers with
    assert (await balance)["info"]["type"] == "ENTRUST"
    sim = exchange.balances(KEY)
    expected = {
        a: {"free": float(f), "used": float(u), "total": float(f + u)} for a, (f, u) in sim.items()
    }
    for _ in range(int(WATCH_S / 0.01)):
        if all(pro.balance["spot"].get(a) == expected[a] for a in ("USDT", "BTC")):
            break
        await asyncio.sleep(0.01)
    assert {a: pro.balance["spot"].get(a) for a in ("USDT", "BTC")} == {
        a: expected[a] for a in ("USDT", "BTC")
    }
    assert expected["USDT"]["free"] == float(usdt_free - 50)


async def test_keepalive_pings_are_answered_with_pong(pro: Any, quiet: SimServer) -> None:
    # ccxt pings ({"method":"ping"}) every keepAlive ms and raises RequestTimeout once two go
    # unanswered; 8 s in production, 100 ms here so a second of streaming covers ten pings
    pro.streaming["keepAlive"] = 100
    exchange = quiet.exchange
    exchange.place_order(KEY, limit("BUY", "100", "1"))
    exchange.place_order(OTHER, limit("SELL", "100", "0.1"))
    start = quiet.now_ms()
    while quiet.now_ms() - start < 1200:
        await watch_while(lambda: pro.watch_ohlcv(BTC, "1m"))
    client = pro.clients[pro.urls["api"]["ws"]["spot"]]
    assert client.lastPong is not None
    assert pro.milliseconds() - client.lastPong < 300


async def test_an_unknown_listen_key_is_an_authentication_error(pro: Any) -> None:
    pro.options["listenKey"] = "0" * 64  # ccxt reuses a cached key without asking REST
    with pytest.raises(ccxtpro.AuthenticationError, match="invalid listen key"):
        await asyncio.wait_for(pro.watch_orders(BTC), WATCH_S)


async def test_unwatch_unsubscribes_on_the_simulator(pro: Any, quiet: SimServer) -> None:
    channel = "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT"
    exchange = quiet.exchange
    exchange.place_order(KEY, limit("BUY", "100", "1"))
    bids = iter(range(1, 1000))
    ticker = await watch_while(
        lambda: pro.watch_ticker(BTC),
        lambda: exchange.place_order(KEY, limit("BUY", f"{90 - next(bids) / 100}", "0.02")),
    )
    assert ticker["bid"] == 100.0
    assert quiet.streams.subscribers(channel) == 1
    await pro.un_watch_ticker(BTC)
    for _ in range(int(WATCH_S / 0.01)):
        if not quiet.streams.subscribers(channel):
            break
        await asyncio.sleep(0.01)
    assert quiet.streams.subscribers(channel) == 0
