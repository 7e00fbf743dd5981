"""Public market data (depth, trades, klines, tickers) built from a pair's book and tape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from mexcsim.decimals import ZERO, fmt, round_half_up
from mexcsim.errors import illegal_param, invalid_symbol
from mexcsim.market.book import BUY
from mexcsim.market.tape import DAY_MS, INTERVALS, MINUTE_MS, PublicTrade, bucket_close
from mexcsim.market.trading_pair import TradingPair
from mexcsim.request_fields import checked_limit


def public_trade_row(trade: PublicTrade) -> dict[str, object]:
    return {
        "id": None,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.quote_qty),
        "time": trade.time,
        "isBuyerMaker": trade.taker_side != BUY,
        "isBestMatch": True,
        "tradeType": "BID" if trade.taker_side == BUY else "ASK",
    }


def agg_trade_row(trade: PublicTrade) -> dict[str, object]:
    return {
        "a": None,
        "f": None,
        "l": None,
        "p": fmt(trade.price),
        "q": fmt(trade.qty),
        "T": trade.time,
        "m": trade.taker_side != BUY,
        "M": True,
    }


def depth(pair: TradingPair, limit: int | None, now: int) -> dict[str, object]:
    count = checked_limit(limit, "limit", 100, 5000)
    book = pair.engine.book
    return {
        "lastUpdateId": book.version,
        "bids": [[fmt(p), fmt(q)] for p, q in book.bids.depth(count)],
        "asks": [[fmt(p), fmt(q)] for p, q in book.asks.depth(count)],
        "timestamp": now,
    }


def trades(pair: TradingPair, limit: int | None) -> list[dict[str, object]]:
    count = checked_limit(limit, "limit", 500, 1000)
    return [public_trade_row(t) for t in pair.tape.recent_trades(count)]


def agg_trades(
    pair: TradingPair, limit: int | None, start_time: int | None, end_time: int | None
) -> list[dict[str, object]]:
    count = checked_limit(limit, "limit", 500, 1000)
    rows = [
        t
        for t in pair.tape.trades
        if (start_time is None or t.time >= start_time) and (end_time is None or t.time <= end_time)
    ]
    chosen = rows[:count] if start_time is not None else rows[-count:]
    return [agg_trade_row(t) for t in chosen]


def klines(
    pair: TradingPair, interval: str, start: int | None, end: int | None, limit: int | None
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
        for c in pair.tape.klines(interval, start, end, count)
    ]


def last_price(pair: TradingPair) -> Decimal:
    price = pair.tape.last_price
    return price if price is not None else pair.living.mid_price


def avg_price(pair: TradingPair, now: int) -> dict[str, object]:
    """Volume-weighted price of the last 5 minutes (the last price when nothing traded)."""
    total, _ = pair.tape.window(now - 5 * MINUTE_MS)
    price = last_price(pair)
    if total is not None and total.volume > ZERO:
        price = round_half_up(
            total.quote_volume / total.volume, pair.spec.quote_asset_precision + 4
        )
    return {"mins": 5, "price": fmt(price)}


def book_ticker(pair: TradingPair) -> dict[str, object]:
    book = pair.engine.book
    bids, asks = book.bids.depth(1), book.asks.depth(1)
    return {
        "symbol": pair.spec.symbol,
        "bidPrice": fmt(bids[0][0]) if bids else None,
        "bidQty": fmt(bids[0][1]) if bids else None,
        "askPrice": fmt(asks[0][0]) if asks else None,
        "askQty": fmt(asks[0][1]) if asks else None,
    }


def ticker_price(pair: TradingPair) -> dict[str, object]:
    return {"symbol": pair.spec.symbol, "price": fmt(last_price(pair))}


def ticker_24hr(pair: TradingPair, now: int) -> dict[str, object]:
    """Rolling 24 h statistics from the 1m candles.

    priceChangePercent is a fraction (0.0123 means 1.23%), as MEXC sends it.
    """
    since = now - DAY_MS
    total, previous_close = pair.tape.window(since)
    last = last_price(pair)
    open_price = total.open if total is not None else last
    change = last - open_price
    percent = round_half_up(change / open_price, 4) if open_price else ZERO
    book = book_ticker(pair)
    return {
        "symbol": pair.spec.symbol,
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


def exchange_info(
    entries: Mapping[str, dict[str, object]], symbols: Sequence[str] | None, now: int
) -> dict[str, object]:
    """exchangeInfo for every entry, or for the named symbols (-1121 if one is unknown)."""
    if symbols:
        wanted = [s.upper() for s in symbols]
        if any(s not in entries for s in wanted):
            raise invalid_symbol()
        chosen = [entries[s] for s in wanted]
    else:
        chosen = list(entries.values())
    return {
        "timezone": "CST",
        "serverTime": now,
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": chosen,
    }
