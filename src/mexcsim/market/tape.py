"""What happened on one market: recent public trades and 1-minute candles, with bounded memory.

Everything public that describes the past (trades, aggTrades, klines, 24h ticker, avgPrice) is
derived from here. Only the last `trade_cap` trades are kept; candles are kept for `candle_cap`
minutes and the longer intervals are aggregated from them on request.
"""

from __future__ import annotations

import calendar
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from mexcsim.decimals import ZERO

MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
MONDAY_OFFSET_MS = 4 * DAY_MS  # the epoch was a Thursday; weekly candles open on Monday 00:00 UTC
INTERVAL_MS = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "60m": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": DAY_MS,
    "1W": WEEK_MS,
}
INTERVALS = (*INTERVAL_MS, "1M")


@dataclass(frozen=True, slots=True)
class PublicTrade:
    trade_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    taker_side: str


@dataclass(slots=True)
class Candle:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    count: int


def bucket_open(interval: str, time_ms: int) -> int:
    """Open time of the `interval` candle containing `time_ms` (UTC calendar months for 1M)."""
    if interval == "1M":
        moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
        return calendar.timegm((moment.year, moment.month, 1, 0, 0, 0)) * 1000
    size = INTERVAL_MS[interval]
    offset = MONDAY_OFFSET_MS if interval == "1W" else 0
    return (time_ms - offset) // size * size + offset


def bucket_close(interval: str, open_ms: int) -> int:
    """Close time (inclusive, last millisecond) of the candle opening at `open_ms`."""
    if interval == "1M":
        moment = datetime.fromtimestamp(open_ms / 1000, tz=UTC)
        year, month = (
            (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        )
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000 - 1
    return open_ms + INTERVAL_MS[interval] - 1


class Tape:
    def __init__(self, trade_cap: int = 10_000, candle_cap: int = 10_080) -> None:
        self.trades: deque[PublicTrade] = deque(maxlen=trade_cap)
        self.candles: deque[Candle] = deque(maxlen=candle_cap)
        self.last_price: Decimal | None = None

    def record(self, trade: PublicTrade) -> None:
        self.trades.append(trade)
        self.last_price = trade.price
        minute = trade.time // MINUTE_MS * MINUTE_MS
        last = self.candles[-1] if self.candles else None
        if last is None or minute > last.open_time:
            self.candles.append(
                Candle(minute, trade.price, trade.price, trade.price, trade.price, ZERO, ZERO, 0)
            )
            last = self.candles[-1]
        last.high = max(last.high, trade.price)
        last.low = min(last.low, trade.price)
        last.close = trade.price
        last.volume += trade.qty
        last.quote_volume += trade.quote_qty
        last.count += 1

    def recent_trades(self, limit: int) -> list[PublicTrade]:
        """The last `limit` trades, oldest first."""
        count = min(limit, len(self.trades))
        return [self.trades[i] for i in range(len(self.trades) - count, len(self.trades))]

    def klines(
        self, interval: str, start_time: int | None, end_time: int | None, limit: int
    ) -> list[Candle]:
        """Candles of `interval` built from the 1m candles; from `start_time` forward if given,
        otherwise the most recent `limit` up to `end_time`.
        """
        merged: list[Candle] = []
        for minute in self.candles:
            opened = bucket_open(interval, minute.open_time)
            if start_time is not None and opened < bucket_open(interval, start_time):
                continue
            if end_time is not None and opened > end_time:
                break
            current = merged[-1] if merged else None
            if current is None or current.open_time != opened:
                merged.append(
                    Candle(
                        opened,
                        minute.open,
                        minute.high,
                        minute.low,
                        minute.close,
                        minute.volume,
                        minute.quote_volume,
                        minute.count,
                    )
                )
                continue
            current.high = max(current.high, minute.high)
            current.low = min(current.low, minute.low)
            current.close = minute.close
            current.volume += minute.volume
            current.quote_volume += minute.quote_volume
            current.count += minute.count
        return merged[:limit] if start_time is not None else merged[-limit:]

    def window(self, since_ms: int) -> tuple[Candle | None, Decimal | None]:
        """Aggregate of the 1m candles opened at or after `since_ms`, and the close just before."""
        inside: list[Candle] = []
        previous_close: Decimal | None = None
        for minute in reversed(self.candles):
            if minute.open_time < since_ms:
                previous_close = minute.close
                break
            inside.append(minute)
        if not inside:
            return None, previous_close
        first, last = inside[-1], inside[0]
        total = Candle(
            first.open_time,
            first.open,
            max(c.high for c in inside),
            min(c.low for c in inside),
            last.close,
            sum((c.volume for c in inside), ZERO),
            sum((c.quote_volume for c in inside), ZERO),
            sum(c.count for c in inside),
        )
        return total, previous_close
