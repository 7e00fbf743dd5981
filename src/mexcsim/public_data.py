"""Public market data (depth, trades, klines, tickers) built from a venue's book and tape."""

from __future__ import annotations

from decimal import Decimal

from mexcsim.decimals import ZERO, fmt, round_half_up
from mexcsim.errors import illegal_param
from mexcsim.params import checked_limit
from mexcsim.shapes import agg_trade_row, public_trade_row
from mexcsim.tape import DAY_MS, INTERVALS, MINUTE_MS, bucket_close
from mexcsim.venue import Venue


def depth(venue: Venue, limit: int | None, now: int) -> dict[str, object]:
    count = checked_limit(limit, "limit", 100, 5000)
    book = venue.engine.book
    return {
        "lastUpdateId": book.version,
        "bids": [[fmt(p), fmt(q)] for p, q in book.bids.depth(count)],
        "asks": [[fmt(p), fmt(q)] for p, q in book.asks.depth(count)],
        "timestamp": now,
    }


def trades(venue: Venue, limit: int | None) -> list[dict[str, object]]:
    count = checked_limit(limit, "limit", 500, 1000)
    return [public_trade_row(t) for t in venue.tape.recent_trades(count)]


def agg_trades(
    venue: Venue, limit: int | None, start_time: int | None, end_time: int | None
) -> list[dict[str, object]]:
    count = checked_limit(limit, "limit", 500, 1000)
    rows = [
        t
        for t in venue.tape.trades
        if (start_time is None or t.time >= start_time) and (end_time is None or t.time <= end_time)
    ]
    chosen = rows[:count] if start_time is not None else rows[-count:]
    return [agg_trade_row(t) for t in chosen]


def klines(
    venue: Venue, interval: str, start: int | None, end: int | None, limit: int | None
) -> list[list[object]]:
    if interval not in INTERVALS:
        raise illegal_param("interval", f"legal values are {', '.join(INTERVALS)}")
    count = checked_limit(limit, "limit", 500, 1000)
    return [
        [
            c.open_time,
            fmt(c.open),
            fmt(c.high),
            fmt(c.low),
            fmt(c.close),
            fmt(c.volume),
            bucket_close(interval, c.open_time),
            fmt(c.quote_volume),
        ]
        for c in venue.tape.klines(interval, start, end, count)
    ]


def last_price(venue: Venue) -> Decimal:
    price = venue.tape.last_price
    return price if price is not None else venue.living.mid_price


def avg_price(venue: Venue, now: int) -> dict[str, object]:
    """Volume-weighted price of the last 5 minutes (the last price when nothing traded)."""
    total, _ = venue.tape.window(now - 5 * MINUTE_MS)
    price = last_price(venue)
    if total is not None and total.volume > ZERO:
        price = round_half_up(
            total.quote_volume / total.volume, venue.spec.quote_asset_precision + 4
        )
    return {"mins": 5, "price": fmt(price)}


def book_ticker(venue: Venue) -> dict[str, object]:
    book = venue.engine.book
    bids, asks = book.bids.depth(1), book.asks.depth(1)
    return {
        "symbol": venue.spec.symbol,
        "bidPrice": fmt(bids[0][0]) if bids else None,
        "bidQty": fmt(bids[0][1]) if bids else None,
        "askPrice": fmt(asks[0][0]) if asks else None,
        "askQty": fmt(asks[0][1]) if asks else None,
    }


def ticker_price(venue: Venue) -> dict[str, object]:
    return {"symbol": venue.spec.symbol, "price": fmt(last_price(venue))}


def ticker_24hr(venue: Venue, now: int) -> dict[str, object]:
    """Rolling 24 h statistics from the 1m candles.

    priceChangePercent is a fraction (0.0123 means 1.23%), as MEXC sends it.
    """
    since = now - DAY_MS
    total, previous_close = venue.tape.window(since)
    last = last_price(venue)
    open_price = total.open if total is not None else last
    change = last - open_price
    percent = round_half_up(change / open_price, 4) if open_price else ZERO
    book = book_ticker(venue)
    return {
        "symbol": venue.spec.symbol,
        "priceChange": fmt(change),
        "priceChangePercent": fmt(percent),
        "prevClosePrice": fmt(previous_close if previous_close is not None else open_price),
        "lastPrice": fmt(last),
        "bidPrice": book["bidPrice"],
        "bidQty": book["bidQty"],
        "askPrice": book["askPrice"],
        "askQty": book["askQty"],
        "openPrice": fmt(open_price),
        "highPrice": fmt(total.high if total is not None else last),
        "lowPrice": fmt(total.low if total is not None else last),
        "volume": fmt(total.volume if total is not None else ZERO),
        "quoteVolume": fmt(total.quote_volume if total is not None else ZERO),
        "openTime": since,
        "closeTime": now,
        "count": total.count if total is not None else 0,
    }
