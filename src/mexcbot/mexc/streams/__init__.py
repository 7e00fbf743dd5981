"""MEXC websocket streams: the push codec, market stream connections, local order books and the
user data stream. Callers import from this package, not from its modules."""

from mexcbot.mexc.streams import channels
from mexcbot.mexc.streams.account_events import BalanceUpdate, FillUpdate, OrderUpdate
from mexcbot.mexc.streams.book import BookNotSynced, LocalOrderBook, SnapshotSource
from mexcbot.mexc.streams.codec import (
    ControlFrame,
    ControlRefused,
    FrameError,
    InvalidListenKey,
    Pong,
    SubscriptionAck,
    SubscriptionRefused,
    UnknownControl,
    decode_control,
    decode_push,
)
from mexcbot.mexc.streams.connection import (
    StreamConfig,
    StreamConnected,
    StreamConnection,
    StreamDisconnected,
    StreamItem,
)
from mexcbot.mexc.streams.events import (
    BookQuote,
    BookTickerBatch,
    BookTickerUpdate,
    DepthSnapshot,
    DepthUpdate,
    KlineUpdate,
    MiniTickerBatch,
    MiniTickerUpdate,
    PushEvent,
    Trade,
    Trades,
    UnknownPush,
)
from mexcbot.mexc.streams.market import MarketStream
from mexcbot.mexc.streams.user import ListenKeys, UserDataStream

__all__ = [
    "BalanceUpdate",
    "BookNotSynced",
    "BookQuote",
    "BookTickerBatch",
    "BookTickerUpdate",
    "ControlFrame",
    "ControlRefused",
    "DepthSnapshot",
    "DepthUpdate",
    "FillUpdate",
    "FrameError",
    "InvalidListenKey",
    "KlineUpdate",
    "ListenKeys",
    "LocalOrderBook",
    "MarketStream",
    "MiniTickerBatch",
    "MiniTickerUpdate",
    "OrderUpdate",
    "Pong",
    "PushEvent",
    "SnapshotSource",
    "StreamConfig",
    "StreamConnected",
    "StreamConnection",
    "StreamDisconnected",
    "StreamItem",
    "SubscriptionAck",
    "SubscriptionRefused",
    "Trade",
    "Trades",
    "UnknownControl",
    "UnknownPush",
    "UserDataStream",
    "channels",
    "decode_control",
    "decode_push",
]
