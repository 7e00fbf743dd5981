"""Public market pushes: what changed in a book or on the tape, as MEXC's protobuf frames.

The exchange publishes nothing by itself; `BookDiffs` compares a watched book with what was last
published and yields the changed levels with the version range they cover. The versions are the
book's own counter, the one REST ``/api/v3/depth`` answers as ``lastUpdateId``, so a client can
sync a book exactly as MEXC's docs describe (reference §6). Quantities are absolute; "0" removes a
level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from mexcsim.decimals import ZERO, fmt
from mexcsim.market.book import BUY
from mexcsim.market.matching import Trade
from mexcsim.market.tape import DAY_MS, Tape, bucket_open
from mexcsim.market.trading_pair import TradingPair

Levels = dict[Decimal, Decimal]

#: Websocket kline interval -> (REST interval used for bucketing, or None, fixed length in ms).
KLINE_INTERVALS: dict[str, tuple[str | None, int]] = {
    "Min1": ("1m", 60_000),
    "Min5": ("5m", 300_000),
    "Min15": ("15m", 900_000),
    "Min30": ("30m", 1_800_000),
    "Min60": ("60m", 3_600_000),
    "Hour4": ("4h", 14_400_000),
    "Hour8": (None, 28_800_000),
    "Day1": ("1d", DAY_MS),
    "Week1": ("1W", 7 * DAY_MS),
    "Month1": ("1M", 31 * DAY_MS),
}
LIMIT_DEPTHS = (5, 10, 20)


@dataclass(slots=True)
class DepthChange:
    """The levels that changed over versions ``from_version..to_version`` (inclusive)."""

    from_version: int
    to_version: int
    bids: Levels = field(default_factory=dict)
    asks: Levels = field(default_factory=dict)

    def merge(self, later: DepthChange) -> None:
        """Fold a later change into this one (a 100 ms batch is one push)."""
        self.to_version = later.to_version
        self.bids.update(later.bids)
        self.asks.update(later.asks)


def _levels(pair: TradingPair, side: str) -> Levels:
    book_side = pair.engine.book.side_of(side)
    return dict(book_side.depth(len(book_side)))


def _diff(old: Levels, new: Levels) -> Levels:
    changed = {p: q for p, q in new.items() if old.get(p) != q}
    changed.update({p: ZERO for p in old if p not in new})
    return changed


@dataclass(slots=True)
class _Published:
    version: int
    bids: Levels
    asks: Levels


class BookDiffs:
    """Per watched symbol, the book as last published; `changes` answers what moved since."""

    def __init__(self) -> None:
        self._published: dict[str, _Published] = {}

    def watch(self, pair: TradingPair) -> None:
        if pair.spec.symbol not in self._published:
            self._published[pair.spec.symbol] = self._now_of(pair)

    def unwatch(self, symbol: str) -> None:
        self._published.pop(symbol, None)

    @staticmethod
    def _now_of(pair: TradingPair) -> _Published:
        return _Published(pair.engine.book.version, _levels(pair, BUY), _levels(pair, "SELL"))

    def changes(self, pair: TradingPair) -> DepthChange | None:
        last = self._published.get(pair.spec.symbol)
        if last is None or pair.engine.book.version == last.version:
            return None
        now = self._published[pair.spec.symbol] = self._now_of(pair)
        if now.version < last.version:  # a restored world: its book starts a new history
            return None
        return DepthChange(
            last.version + 1, now.version, _diff(last.bids, now.bids), _diff(last.asks, now.asks)
        )


def _wrapper(channel: str, symbol: str, now: int) -> PushDataV3ApiWrapper:
    return PushDataV3ApiWrapper(channel=channel, symbol=symbol, sendTime=now)


def _event_type(channel: str) -> str:
    return channel.rsplit("@", 1)[0]


def aggre_depth_frame(channel: str, symbol: str, change: DepthChange, now: int) -> bytes:
    push = _wrapper(channel, symbol, now)
    body = push.publicAggreDepths
    body.eventType = _event_type(channel)
    body.fromVersion, body.toVersion = str(change.from_version), str(change.to_version)
    for price in sorted(change.bids, reverse=True):
        body.bids.add(price=fmt(price), quantity=fmt(change.bids[price]))
    for price in sorted(change.asks):
        body.asks.add(price=fmt(price), quantity=fmt(change.asks[price]))
    return push.SerializeToString()


def aggre_deals_frame(channel: str, symbol: str, trades: list[Trade], now: int) -> bytes:
    push = _wrapper(channel, symbol, now)
    body = push.publicAggreDeals
    body.eventType = _event_type(channel)
    for trade in trades:
        body.deals.add(
            price=fmt(trade.price),
            quantity=fmt(trade.qty),
            tradeType=1 if trade.taker_side == BUY else 2,
            time=trade.time,
            tradeId=str(trade.trade_id),
        )
    return push.SerializeToString()


def limit_depth_frame(channel: str, pair: TradingPair, levels: int, now: int) -> bytes:
    """The top ``levels`` of both sides (channel ``...@SYM@5``: the event type keeps the symbol)."""
    push = _wrapper(channel, pair.spec.symbol, now)
    body = push.publicLimitDepths
    body.eventType = channel.rsplit("@", 1)[0].rsplit("@", 1)[0]
    body.version = str(pair.engine.book.version)
    book = pair.engine.book
    for price, qty in book.bids.depth(levels):
        body.bids.add(price=fmt(price), quantity=fmt(qty))
    for price, qty in book.asks.depth(levels):
        body.asks.add(price=fmt(price), quantity=fmt(qty))
    return push.SerializeToString()


def _best(pair: TradingPair) -> tuple[str, str, str, str]:
    """(bid price, bid qty, ask price, ask qty); an empty side is ``""`` as on MEXC."""
    book = pair.engine.book
    bid, ask = book.bids.depth(1), book.asks.depth(1)
    bid_p, bid_q = (fmt(bid[0][0]), fmt(bid[0][1])) if bid else ("", "")
    ask_p, ask_q = (fmt(ask[0][0]), fmt(ask[0][1])) if ask else ("", "")
    return bid_p, bid_q, ask_p, ask_q


def book_ticker_frame(channel: str, pair: TradingPair, now: int) -> bytes:
    push = _wrapper(channel, pair.spec.symbol, now)
    body = push.publicAggreBookTicker
    body.bidPrice, body.bidQuantity, body.askPrice, body.askQuantity = _best(pair)
    body.version = str(pair.engine.book.version)
    return push.SerializeToString()


def book_ticker_batch_frame(channel: str, pair: TradingPair, now: int) -> bytes:
    push = _wrapper(channel, pair.spec.symbol, now)
    body = push.publicBookTickerBatch
    bid_p, bid_q, ask_p, ask_q = _best(pair)
    body.items.add(bidPrice=bid_p, bidQuantity=bid_q, askPrice=ask_p, askQuantity=ask_q)
    body.version = str(pair.engine.book.version)
    return push.SerializeToString()


def _window_start(interval: str, now: int) -> int:
    rest_name, length = KLINE_INTERVALS[interval]
    return bucket_open(rest_name, now) if rest_name is not None else now - now % length


def kline_frame(channel: str, pair: TradingPair, interval: str, now: int) -> bytes:
    """The candle of ``interval`` that contains ``now``, folded from the tape's 1m candles."""
    start = _window_start(interval, now)
    push = _wrapper(channel, pair.spec.symbol, now)
    push.symbolId = pair.spec.symbol
    push.createTime = now
    body = push.publicSpotKline
    body.interval = interval
    body.windowStart = start // 1000
    body.windowEnd = (start + KLINE_INTERVALS[interval][1]) // 1000
    opened, high, low, close, volume, amount = _fold(pair.tape, start)
    body.openingPrice, body.closingPrice = fmt(opened), fmt(close)
    body.highestPrice, body.lowestPrice = fmt(high), fmt(low)
    body.volume, body.amount = fmt(volume), fmt(amount)
    return push.SerializeToString()


def _fold(tape: Tape, start: int) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, Decimal]:
    last = tape.last_price if tape.last_price is not None else ZERO
    minutes = []
    for candle in reversed(tape.candles):
        if candle.open_time < start:
            break
        minutes.append(candle)
    if not minutes:
        return last, last, last, last, ZERO, ZERO
    minutes.reverse()
    return (
        minutes[0].open,
        max(c.high for c in minutes),
        min(c.low for c in minutes),
        minutes[-1].close,
        sum((c.volume for c in minutes), ZERO),
        sum((c.quote_volume for c in minutes), ZERO),
    )
