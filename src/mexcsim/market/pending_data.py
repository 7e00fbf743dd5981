"""Public market data of a listed symbol before its API opens (reference §7.5), in valid MEXC
shapes: an empty book, zero tickers, no trades and no candles.

Why answers and not -1121: MEXC knows the symbol (it is in exchangeInfo with status "2"), and the
common "poll until live" snipers read exactly these (``ticker/price`` until the price is above 0,
``depth?limit=1`` until bids appear). Parameters are still checked as for an open market, so a
malformed request fails the same way before and after the open.
"""

from __future__ import annotations

from mexcsim.errors import illegal_param
from mexcsim.market.tape import DAY_MS, INTERVALS
from mexcsim.request_fields import checked_limit

ZERO_TEXT = "0"


def depth(limit: int | None, now: int) -> dict[str, object]:
    """An empty book at version 0 (the market's book starts counting at its open)."""
    checked_limit(limit, "limit", 100, 5000)
    return {"lastUpdateId": 0, "bids": [], "asks": [], "timestamp": now}


def trades(limit: int | None) -> list[dict[str, object]]:
    checked_limit(limit, "limit", 500, 1000)
    return []


def klines(interval: str, limit: int | None) -> list[list[object]]:
    if interval not in INTERVALS:
        raise illegal_param("interval", f"legal values are {', '.join(INTERVALS)}")
    checked_limit(limit, "limit", 500, 1000)
    return []


def avg_price() -> dict[str, object]:
    return {"mins": 5, "price": ZERO_TEXT}


def ticker_price(symbol: str) -> dict[str, object]:
    return {"symbol": symbol, "price": ZERO_TEXT}


def book_ticker(symbol: str) -> dict[str, object]:
    return {
        "symbol": symbol,
        "bidPrice": ZERO_TEXT,
        "bidQty": ZERO_TEXT,
        "askPrice": ZERO_TEXT,
        "askQty": ZERO_TEXT,
    }


def ticker_24hr(symbol: str, now: int) -> dict[str, object]:
    zeros = dict.fromkeys(
        (
            "priceChange",
            "priceChangePercent",
            "prevClosePrice",
            "lastPrice",
            "bidPrice",
            "bidQty",
            "askPrice",
            "askQty",
            "openPrice",
            "highPrice",
            "lowPrice",
            "volume",
            "quoteVolume",
        ),
        ZERO_TEXT,
    )
    return {"symbol": symbol, **zeros, "openTime": now - DAY_MS, "closeTime": now, "count": 0}
