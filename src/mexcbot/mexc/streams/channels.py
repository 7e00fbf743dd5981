"""MEXC websocket channel names (reference §6): the one place that spells them.

Symbols are upper-cased, since MEXC echoes the channel exactly and only knows upper-case symbols.
"""

from __future__ import annotations

from typing import Final, Literal

Speed = Literal["100ms", "10ms"]

PRIVATE_ORDERS: Final = "spot@private.orders.v3.api.pb"
PRIVATE_DEALS: Final = "spot@private.deals.v3.api.pb"
PRIVATE_ACCOUNT: Final = "spot@private.account.v3.api.pb"
PRIVATE_CHANNELS: Final = (PRIVATE_ORDERS, PRIVATE_DEALS, PRIVATE_ACCOUNT)

#: REST kline intervals (``constants.KLINE_INTERVALS``) -> the stream's names.
KLINE_STREAM_INTERVALS: Final = {
    "1m": "Min1",
    "5m": "Min5",
    "15m": "Min15",
    "30m": "Min30",
    "60m": "Min60",
    "4h": "Hour4",
    "8h": "Hour8",
    "1d": "Day1",
    "1W": "Week1",
    "1M": "Month1",
}
_LIMIT_DEPTH_LEVELS: Final = (5, 10, 20)


def trades(symbol: str, speed: Speed = "100ms") -> str:
    return f"spot@public.aggre.deals.v3.api.pb@{speed}@{symbol.upper()}"


def depth(symbol: str, speed: Speed = "100ms") -> str:
    """Depth diffs with versions: what a local order book (``book.py``) is kept from."""
    return f"spot@public.aggre.depth.v3.api.pb@{speed}@{symbol.upper()}"


def limit_depth(symbol: str, levels: int = 20) -> str:
    """Complete top-``levels`` snapshots (5, 10 or 20)."""
    if levels not in _LIMIT_DEPTH_LEVELS:
        raise ValueError(f"levels must be one of {_LIMIT_DEPTH_LEVELS}, got {levels}")
    return f"spot@public.limit.depth.v3.api.pb@{symbol.upper()}@{levels}"


def book_ticker(symbol: str, speed: Speed = "100ms") -> str:
    return f"spot@public.aggre.bookTicker.v3.api.pb@{speed}@{symbol.upper()}"


def book_ticker_batch(symbol: str) -> str:
    return f"spot@public.bookTicker.batch.v3.api.pb@{symbol.upper()}"


def klines(symbol: str, interval: str) -> str:
    """``interval`` in the REST form (``1m``, ``60m``, ``1d``...) or the stream's (``Min1``...)."""
    stream_interval = KLINE_STREAM_INTERVALS.get(interval, interval)
    if stream_interval not in KLINE_STREAM_INTERVALS.values():
        allowed = ", ".join(KLINE_STREAM_INTERVALS)
        raise ValueError(f"interval {interval!r} is not a MEXC kline interval: {allowed}")
    return f"spot@public.kline.v3.api.pb@{symbol.upper()}@{stream_interval}"
