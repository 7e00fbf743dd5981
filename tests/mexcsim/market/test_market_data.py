"""The living market and public market data, derived from what actually traded."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from mexcsim import SimExchange
from mexcsim.errors import SimError
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from mexcsim.market.tape import PublicTrade, Tape
from tests.fixtures.sim_core import ManualClock

D = Decimal
TICKS_PER_MINUTE = 240  # one advance every 250 ms


def run(ex: SimExchange, clock: ManualClock, ticks: int) -> None:
    for _ in range(ticks):
        clock.advance(250)
        ex.advance()


def test_same_seed_same_market_other_seed_other_market() -> None:
    def history(seed: int) -> list[object]:
        clock = ManualClock()
        ex = SimExchange(seed=seed, now_ms=clock)
        run(ex, clock, 50)
        return [ex.depth("ETHUSDT", 20), ex.trades("ETHUSDT", 100)]

    assert history(3) == history(3)
    assert history(3) != history(4)


def test_book_has_levels_and_a_narrow_spread(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    run(live_exchange, clock, 20)
    for spec in DEFAULT_SYMBOLS:
        book = live_exchange.depth(spec.symbol, None)
        bids, asks = book["bids"], book["asks"]
        assert len(bids) >= 5  # type: ignore[arg-type]
        assert len(asks) >= 5  # type: ignore[arg-type]
        best_bid, best_ask = D(bids[0][0]), D(asks[0][0])  # type: ignore[index]
        tick = D(1).scaleb(-spec.quote_asset_precision)
        assert 0 < (best_ask - best_bid) / tick <= 6, spec.symbol
        prices = [D(p) for p, _ in bids]  # type: ignore[union-attr]
        assert prices == sorted(prices, reverse=True)
        notional = D(bids[0][1]) * best_bid  # type: ignore[index]
        assert D(1) <= notional <= D(10_000), spec.symbol


def test_living_market_conserves_every_asset(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    assets = {a for s in DEFAULT_SYMBOLS for a in (s.base_asset, s.quote_asset)}
    before = {a: live_exchange.total_supply(a) for a in assets}
    live_exchange.place_order(
        "alice", {"symbol": "PEPEUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "500"}
    )
    run(live_exchange, clock, 100)
    assert {a: live_exchange.total_supply(a) for a in assets} == before
    assert live_exchange.fees_collected()["USDT"] > 0


def test_depth_version_increases_and_limit_is_checked(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    first = live_exchange.depth("BTCUSDT", 5)["lastUpdateId"]
    run(live_exchange, clock, 1)
    assert live_exchange.depth("BTCUSDT", 5)["lastUpdateId"] > first  # type: ignore[operator]
    with pytest.raises(SimError):
        live_exchange.depth("BTCUSDT", 5001)
    with pytest.raises(SimError) as err:
        live_exchange.depth("NOPE", 5)
    assert err.value.body() == {"code": -1121, "msg": "Invalid symbol."}


def test_price_walks_and_trades_happen(live_exchange: SimExchange, clock: ManualClock) -> None:
    run(live_exchange, clock, 400)
    ticker = live_exchange.ticker_24hr("BTCUSDT")
    assert isinstance(ticker, dict)
    assert ticker["count"] > 50  # type: ignore[operator]
    assert D(str(ticker["highPrice"])) > D(str(ticker["lowPrice"]))
    assert set(ticker) == {
        "symbol", "priceChange", "priceChangePercent", "prevClosePrice", "lastPrice", "bidPrice",
        "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume",
        "quoteVolume", "openTime", "closeTime", "count",
    }  # fmt: skip
    assert D(str(ticker["lastPrice"])) - D(str(ticker["openPrice"])) == D(
        str(ticker["priceChange"])
    )
    trades = live_exchange.trades("BTCUSDT", 10)
    assert len(trades) == 10
    for row in trades:
        assert row["tradeType"] == ("ASK" if row["isBuyerMaker"] else "BID")
        assert D(str(row["quoteQty"])) == D(str(row["price"])) * D(str(row["qty"]))
    assert ticker["lastPrice"] == trades[-1]["price"]
    assert live_exchange.ticker_price("BTCUSDT") == {
        "symbol": "BTCUSDT",
        "price": ticker["lastPrice"],
    }
    everything = live_exchange.ticker_24hr(None)
    assert isinstance(everything, list)
    assert len(everything) == len(DEFAULT_SYMBOLS)


def test_klines_agree_with_trades(live_exchange: SimExchange, clock: ManualClock) -> None:
    run(live_exchange, clock, 3 * TICKS_PER_MINUTE)
    minutes = live_exchange.klines("ETHUSDT", "1m", None, None, 1000)
    assert len(minutes) >= 3
    for row in minutes:
        open_time, o, h, low, c, _volume, close_time, _quote_volume = row
        assert close_time == open_time + 59_999  # type: ignore[operator]
        assert D(str(low)) <= min(D(str(o)), D(str(c))) <= max(D(str(o)), D(str(c))) <= D(str(h))
    fives = live_exchange.klines("ETHUSDT", "5m", None, None, None)
    # the 1000 minutes do not reach back over the whole seeded day: compare whole 5m buckets
    since = -(-int(str(minutes[0][0])) // 300_000) * 300_000
    assert sum(D(str(r[5])) for r in fives if int(str(r[0])) >= since) == sum(
        D(str(r[5])) for r in minutes if int(str(r[0])) >= since
    )
    assert fives[0][0] % 300_000 == 0  # type: ignore[operator]
    for interval in ("15m", "30m", "60m", "4h", "1d", "1W", "1M"):
        rows = live_exchange.klines("ETHUSDT", interval, None, None, 2)
        assert rows[-1][4] == minutes[-1][4]
        assert rows[-1][6] > rows[-1][0]  # type: ignore[operator]
    assert live_exchange.klines("ETHUSDT", "1m", None, None, 2) == minutes[-2:]
    since = live_exchange.klines("ETHUSDT", "1m", int(str(minutes[1][0])), None, 1)
    assert since == [minutes[1]]
    with pytest.raises(SimError) as err:
        live_exchange.klines("ETHUSDT", "1h", None, None, None)
    assert "interval" in err.value.msg


def test_avg_price_and_book_ticker(live_exchange: SimExchange, clock: ManualClock) -> None:
    run(live_exchange, clock, 100)
    avg = live_exchange.avg_price("MXUSDT")
    assert avg["mins"] == 5
    low = D(str(live_exchange.ticker_24hr("MXUSDT")["lowPrice"]))  # type: ignore[call-overload]
    assert D(str(avg["price"])) >= low
    ticker = live_exchange.book_ticker("MXUSDT")
    book = live_exchange.depth("MXUSDT", 1)
    assert ticker == {
        "symbol": "MXUSDT",
        "bidPrice": book["bids"][0][0],  # type: ignore[index]
        "bidQty": book["bids"][0][1],  # type: ignore[index]
        "askPrice": book["asks"][0][0],  # type: ignore[index]
        "askQty": book["asks"][0][1],  # type: ignore[index]
    }
    agg = live_exchange.agg_trades("MXUSDT", 5, None, None)
    assert len(agg) == 5
    assert set(agg[0]) == {"a", "f", "l", "p", "q", "T", "m", "M"}


def test_set_price_recenters_and_fills_resting_user_orders(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    ack = live_exchange.place_order(
        "alice",
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "LIMIT",
            "quantity": "0.01",
            "price": "66000",
        },
    )
    live_exchange.set_price("BTCUSDT", D(67000))
    assert live_exchange.ticker_price("BTCUSDT") == {"symbol": "BTCUSDT", "price": "67000"}
    view = live_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert view["status"] == "FILLED"
    assert view["cummulativeQuoteQty"] == "660"  # filled at the user's (maker) price
    rows = live_exchange.my_trades("alice", {"symbol": "BTCUSDT"})
    assert rows[0]["isMaker"] is True
    best_bid = D(live_exchange.depth("BTCUSDT", 1)["bids"][0][0])  # type: ignore[index]
    assert abs(best_bid - D(67000)) < D(50)


def test_trade_history_and_candles_are_bounded() -> None:
    tape = Tape(trade_cap=5, candle_cap=3)
    for n in range(10):
        tape.record(PublicTrade(n, D(n + 1), D(1), D(n + 1), n * 60_000, "BUY"))
    assert [t.trade_id for t in tape.recent_trades(100)] == [5, 6, 7, 8, 9]
    assert [c.open_time for c in tape.candles] == [420_000, 480_000, 540_000]
    assert tape.last_price == D(10)


def test_advance_is_cheap(live_exchange: SimExchange, clock: ManualClock) -> None:
    """Measured: mean wall time of one advance over all default symbols (printed with -s)."""
    run(live_exchange, clock, 20)
    started = time.perf_counter()
    run(live_exchange, clock, 200)
    mean_ms = (time.perf_counter() - started) / 200 * 1000
    print(f"advance(): {mean_ms:.2f} ms per tick over {len(DEFAULT_SYMBOLS)} symbols")
    assert mean_ms < 25  # a tick is 250 ms; allow for a loaded 2-core machine
