"""MEXC websocket streams: the push codec, market stream connections, local order books and the
user data stream. Callers import from this package, not from its modules."""

from mexcbot.mexc.streams.account_events import BalanceUpdate, FillUpdate, OrderUpdate
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

__all__ = [
    "BalanceUpdate",
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
    "MiniTickerBatch",
    "MiniTickerUpdate",
    "OrderUpdate",
    "Pong",
    "PushEvent",
    "SubscriptionAck",
    "SubscriptionRefused",
    "Trade",
    "Trades",
    "UnknownControl",
    "UnknownPush",
    "decode_control",
    "decode_push",
]
