"""A fresh simulator has a past: a seeded day of klines and trades ending at the live price."""

from __future__ import annotations

from decimal import Decimal

from mexcsim import SimExchange
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from mexcsim.market.tape import DAY_MS, INTERVAL_MS
from tests.fixtures.sim_core import ManualClock

D = Decimal


def test_every_interval_covers_the_last_day_with_consistent_candles() -> None:
    clock = ManualClock()
    ex = SimExchange(seed=4, now_ms=clock)
    now = clock()
    for spec in DEFAULT_SYMBOLS:
        for interval in ("1m", "5m", "15m", "30m", "60m", "4h", "1d"):
            rows = ex.klines(spec.symbol, interval, now - DAY_MS, None, 1000)
            while int(str(rows[-1][6])) < now:  # page on, as a client does for 1m
                rows += ex.klines(spec.symbol, interval, int(str(rows[-1][6])) + 1, None, 1000)
            size = INTERVAL_MS[interval]
            assert int(str(rows[0][0])) <= now - DAY_MS + size, (spec.symbol, interval)
            assert int(str(rows[-1][6])) >= now, (spec.symbol, interval)
            if size < DAY_MS:
                assert len(rows) >= DAY_MS // size, (spec.symbol, interval)
            for row in rows:
                o, h, low, c, volume = (D(str(v)) for v in row[1:6])
                assert low <= min(o, c) <= max(o, c) <= h, (spec.symbol, interval, row)
                assert volume >= 0
                assert D(str(row[7])) >= 0
        trades = ex.trades(spec.symbol, 1000)
        assert len(trades) == 1000
        assert all(int(str(t["time"])) >= now - DAY_MS for t in trades)
        ticker = ex.ticker_24hr(spec.symbol)
        assert isinstance(ticker, dict)
        assert int(str(ticker["count"])) > 1000


def test_history_ends_at_the_initial_and_live_price() -> None:
    clock = ManualClock()
    ex = SimExchange(seed=4, now_ms=clock)
    for spec in DEFAULT_SYMBOLS:
        minutes = ex.klines(spec.symbol, "1m", None, None, 3)
        assert D(str(minutes[-2][4])) == spec.initial_price  # the last minute of the past
        assert minutes[-1][4] == ex.ticker_price(spec.symbol)["price"]  # type: ignore[call-overload]
    for _ in range(40):
        clock.advance(250)
        ex.advance()
    for spec in DEFAULT_SYMBOLS:
        last = ex.klines(spec.symbol, "1m", None, None, 1)[-1]
        assert last[4] == ex.ticker_price(spec.symbol)["price"]  # type: ignore[call-overload]


def test_same_seed_same_past_other_seed_other_past() -> None:
    def past(seed: int) -> list[object]:
        ex = SimExchange(seed=seed, now_ms=ManualClock())
        return [ex.klines("BTCUSDT", "1m", None, None, 1000), ex.trades("ETHUSDT", 1000)]

    assert past(8) == past(8)
    assert past(8) != past(9)
