"""What a MEXC websocket push means, in trading terms: one immutable event per binary frame.

Public market events live here with the base; the account's own events in ``account_events``.

Every event wraps the frame's parsed ``PushDataV3ApiWrapper`` and converts a field only when it is
read (see ``mexcbot.mexc.streams.codec`` for the measurement that made conversion lazy). So:

* events are tuples underneath: immutable, hashable by identity of content, equal when their frames
  are equal; do not index or iterate them, read the named properties;
* every property converts on each read (``Decimal(...)`` from MEXC's decimal strings, tuples
  of frozen ``Trade`` / ``PriceLevel`` / ``BookQuote``): read a property once and keep the value;
* proto3 leaves default values out of a frame, so an absent figure reads as ``Decimal(0)`` for
  amounts and as ``None`` where "not given" differs from zero (prices of an empty book side, an
  order's average price before any fill).

Times are exchange milliseconds except kline windows, which MEXC sends in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from mexcbot.domain.orders import OrderSide
from mexcbot.mexc.models import PriceLevel
from mexcproto.PublicAggreDepthsV3Api_pb2 import PublicAggreDepthsV3Api
from mexcproto.PublicIncreaseDepthsV3Api_pb2 import PublicIncreaseDepthsV3Api
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

_ZERO: Final = Decimal(0)
_SIDES: Final = {1: OrderSide.BUY, 2: OrderSide.SELL}


def amount(text: str) -> Decimal:
    """A figure where absent means zero (proto3 leaves zero out)."""
    return Decimal(text) if text else _ZERO


def optional_figure(text: str) -> Decimal | None:
    """A figure where absent means "not given" (an empty book side, a market order's price)."""
    return Decimal(text) if text else None


def _version(text: str) -> int:
    """A depth version; a frame without one is malformed (``ValueError``), never version 0."""
    return int(text)


def side_of(trade_type: int) -> OrderSide | None:
    return _SIDES.get(trade_type)


@dataclass(frozen=True, slots=True)
class Trade:
    """One public (aggregated) trade. ``side`` is the taker's; ``trade_id`` came in 2026-06."""

    price: Decimal
    qty: Decimal
    side: OrderSide | None
    time: int
    trade_id: str | None


@dataclass(frozen=True, slots=True)
class BookQuote:
    """Best bid and ask; a side is ``None`` when the book is empty there (MEXC sends "")."""

    bid_price: Decimal | None
    bid_qty: Decimal | None
    ask_price: Decimal | None
    ask_qty: Decimal | None


class _Level(Protocol):
    @property
    def price(self) -> str: ...
    @property
    def quantity(self) -> str: ...


class _Quote(Protocol):
    @property
    def bidPrice(self) -> str: ...
    @property
    def bidQuantity(self) -> str: ...
    @property
    def askPrice(self) -> str: ...
    @property
    def askQuantity(self) -> str: ...


class PushEvent(tuple[PushDataV3ApiWrapper]):
    """Base of every decoded binary frame: the channel it came on and the wrapper's times.

    Built as ``EventType((wrapper,))`` by the codec only.
    """

    __slots__ = ()

    @property
    def _push(self) -> PushDataV3ApiWrapper:
        return self[0]

    @property
    def channel(self) -> str:
        return self[0].channel

    @property
    def symbol(self) -> str:
        """The symbol of a public or order/deal frame; "" on account frames (MEXC sends none)."""
        return self[0].symbol

    @property
    def send_time(self) -> int:
        return self[0].sendTime

    @property
    def create_time(self) -> int:
        return self[0].createTime

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in event_fields(type(self)))
        return f"{type(self).__name__}({fields})"


def event_fields(cls: type) -> list[str]:
    """The names of an event type's public properties, base first (repr, benchmarks, logging)."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, property) and not name.startswith("_") and name not in names:
                names.append(name)
    return names


class Trades(PushEvent):
    """Public trades of one symbol (aggre.deals, or the legacy deals channel)."""

    __slots__ = ()

    @property
    def trades(self) -> tuple[Trade, ...]:
        push = self._push
        if push.HasField("publicDeals"):
            return tuple(
                Trade(Decimal(d.price), Decimal(d.quantity), side_of(d.tradeType), d.time, None)
                for d in push.publicDeals.deals
            )
        return tuple(
            Trade(
                Decimal(d.price),
                Decimal(d.quantity),
                side_of(d.tradeType),
                d.time,
                d.tradeId or None,
            )
            for d in push.publicAggreDeals.deals
        )


class DepthUpdate(PushEvent):
    """A depth diff: absolute quantities at changed levels, ``qty == 0`` removes the level.

    It covers versions ``from_version..to_version``; the next diff must start at
    ``to_version + 1`` (``mexcbot.mexc.streams.book`` resyncs otherwise). A legacy
    increase.depth frame has one version, so both ends are equal.
    """

    __slots__ = ()

    @property
    def from_version(self) -> int:
        push = self._push
        if push.HasField("publicIncreaseDepths"):
            return _version(push.publicIncreaseDepths.version)
        return _version(push.publicAggreDepths.fromVersion)

    @property
    def to_version(self) -> int:
        push = self._push
        if push.HasField("publicIncreaseDepths"):
            return _version(push.publicIncreaseDepths.version)
        return _version(push.publicAggreDepths.toVersion)

    @property
    def bids(self) -> tuple[PriceLevel, ...]:
        return _levels(self._depth_body().bids)

    @property
    def asks(self) -> tuple[PriceLevel, ...]:
        return _levels(self._depth_body().asks)

    @property
    def last_order_create_time(self) -> int:
        """When the newest order behind this diff was created (2026-06; 0 when not sent)."""
        return self._push.publicAggreDepths.lastOrderCreateTime

    def _depth_body(self) -> PublicIncreaseDepthsV3Api | PublicAggreDepthsV3Api:
        push = self._push
        if push.HasField("publicIncreaseDepths"):
            return push.publicIncreaseDepths
        return push.publicAggreDepths


class DepthSnapshot(PushEvent):
    """The top N levels of a book (limit.depth), complete: replaces whatever was shown before."""

    __slots__ = ()

    @property
    def version(self) -> int:
        return _version(self._push.publicLimitDepths.version)

    @property
    def bids(self) -> tuple[PriceLevel, ...]:
        return _levels(self._push.publicLimitDepths.bids)

    @property
    def asks(self) -> tuple[PriceLevel, ...]:
        return _levels(self._push.publicLimitDepths.asks)

    @property
    def last_order_create_time(self) -> int:
        return self._push.publicLimitDepths.lastOrderCreateTime


def _levels(items: Iterable[_Level]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(Decimal(item.price), Decimal(item.quantity)) for item in items)


class BookTickerUpdate(PushEvent):
    """Best bid and ask of one symbol (aggre.bookTicker, or the legacy bookTicker body)."""

    __slots__ = ()

    @property
    def quote(self) -> BookQuote:
        push = self._push
        if push.HasField("publicAggreBookTicker"):
            return _quote(push.publicAggreBookTicker)
        return _quote(push.publicBookTicker)

    @property
    def version(self) -> int | None:
        """The book version of the quote (2026-06); ``None`` when the frame has none."""
        text = self._push.publicAggreBookTicker.version
        return int(text) if text else None


class BookTickerBatch(PushEvent):
    """Consecutive best bid/ask quotes of one symbol, oldest first (bookTicker.batch)."""

    __slots__ = ()

    @property
    def quotes(self) -> tuple[BookQuote, ...]:
        return tuple(_quote(item) for item in self._push.publicBookTickerBatch.items)

    @property
    def version(self) -> int | None:
        text = self._push.publicBookTickerBatch.version
        return int(text) if text else None


def _quote(body: _Quote) -> BookQuote:
    return BookQuote(
        optional_figure(body.bidPrice),
        optional_figure(body.bidQuantity),
        optional_figure(body.askPrice),
        optional_figure(body.askQuantity),
    )


class KlineUpdate(PushEvent):
    """The current candle of one interval (pushed about once a second while it is open).

    ``interval`` is MEXC's stream name (``Min1`` ... ``Month1``); the window is in SECONDS.
    """

    __slots__ = ()

    @property
    def interval(self) -> str:
        return self._push.publicSpotKline.interval

    @property
    def window_start_s(self) -> int:
        return self._push.publicSpotKline.windowStart

    @property
    def window_end_s(self) -> int:
        return self._push.publicSpotKline.windowEnd

    @property
    def open(self) -> Decimal:
        return amount(self._push.publicSpotKline.openingPrice)

    @property
    def high(self) -> Decimal:
        return amount(self._push.publicSpotKline.highestPrice)

    @property
    def low(self) -> Decimal:
        return amount(self._push.publicSpotKline.lowestPrice)

    @property
    def close(self) -> Decimal:
        return amount(self._push.publicSpotKline.closingPrice)

    @property
    def volume(self) -> Decimal:
        """Base asset traded in the window."""
        return amount(self._push.publicSpotKline.volume)

    @property
    def quote_volume(self) -> Decimal:
        return amount(self._push.publicSpotKline.amount)


class MiniTickerUpdate(PushEvent):
    """24 h statistics of one symbol (legacy miniTicker channel; ``rate`` is since 00:00 UTC+8)."""

    __slots__ = ()

    @property
    def last_price(self) -> Decimal:
        return amount(self._push.publicMiniTicker.price)

    @property
    def change_rate(self) -> Decimal:
        return amount(self._push.publicMiniTicker.rate)

    @property
    def high(self) -> Decimal:
        return amount(self._push.publicMiniTicker.high)

    @property
    def low(self) -> Decimal:
        return amount(self._push.publicMiniTicker.low)

    @property
    def quote_volume(self) -> Decimal:
        return amount(self._push.publicMiniTicker.volume)

    @property
    def volume(self) -> Decimal:
        return amount(self._push.publicMiniTicker.quantity)


class MiniTickerBatch(PushEvent):
    """24 h last prices of every symbol (legacy miniTickers channel): symbol -> last price."""

    __slots__ = ()

    @property
    def last_prices(self) -> dict[str, Decimal]:
        return {item.symbol: amount(item.price) for item in self._push.publicMiniTickers.items}


class UnknownPush(PushEvent):
    """A frame whose body this client does not decode (a new MEXC body): kept, not dropped."""

    __slots__ = ()

    @property
    def body(self) -> str | None:
        body: str | None = self._push.WhichOneof("body")
        return body
