"""Frames off a MEXC websocket -> events: binary pushes (protobuf) and JSON control replies.

``decode_push`` parses one binary ``PushDataV3ApiWrapper`` and picks the event type by its body;
``decode_control`` reads the text frames (acks, PONG, refusals, ``Invalid listen key``).

Why the events convert lazily, measured with ``benchmarks/stream_decode.py`` (2 shared cores,
protobuf 7.36 upb, 20,000 frames, mean 302 bytes: 40 % aggre depth, 30 % aggre deals, 20 % book
ticker, 5 % kline, 5 % private), frames per second relative to a bare ``FromString``:

* converting every field of every event (Decimals, level and trade tuples): 0.05. A Decimal from
  a string costs about as much as parsing a whole small frame, so eager conversion would make the
  decoder the bottleneck for fields most consumers never read;
* parse + ``WhichOneof`` dispatch + one tuple-backed event that converts on read: 0.62-0.63
  (goal 0.8, not reached). Per frame the parse is ~810 ns; ``WhichOneof`` adds ~190 ns and the
  event object ~150 ns. Tried and dropped: dispatch on the channel string (reading ``channel``
  costs as much as ``WhichOneof``), a slotted class instead of a tuple (slower), ``HasField``
  chains (slower). Closing the rest would mean not parsing the frame or returning the mutable
  protobuf message itself, both worse trades than the 0.2 left.
* re-measured (perf-fills, box under load 1.3-5): the bare parse ~650 ns; parse +
  ``WhichOneof`` alone is 0.74-0.82 of it (the benchmark prints that line too), so no decoder
  that asks which body a frame carries reliably reaches 0.8; the client is 0.60-0.65 of the
  bare parse (0.61-0.63 before the change below, same runs) and 0.75-0.88 of parse + dispatch.
  Dispatch by subscript of a dict holding every oneof name (instead of ``dict.get`` with a
  default) took ~20-40 ns a frame off. ``object.__new__`` plus a slot assignment is ~25 ns
  cheaper than the tuple here, not worth a mutable event.
* re-measured (perfstream, CPU time per frame with ``time.thread_time``, best of 15 rounds, so
  the other helpers' load on the box drops out): bare parse ~630 ns; the call of
  ``decode_push`` ~45 ns; ``WhichOneof`` ~158 ns (upb builds a new ``str`` on every call);
  the subscript with that fresh string ~74 ns (its hash is computed anew each time); the tuple
  event ~150 ns (allocating and freeing a heap-type tuple). 0.8 of the bare parse leaves ~157 ns
  for everything but the parse, which ``WhichOneof`` alone takes: the floor of an exact decoder
  here is the call + parse + ``WhichOneof`` + subscript, ~0.69 of the bare parse before any
  event exists, and the client is 0.60-0.63 (``benchmarks/stream_decode.py``). Priced and not
  kept: the body's tag bytes (upb and mexcsim write the header fields 1, 3-6 first and the body,
  301-315, last; reaching its tag means walking the header's length and varint bytes in Python,
  ~20-30 ns per step and ~8 steps, no cheaper than ``WhichOneof``, and exact only with that
  walk); a header-only message (the body must still be parsed to reject a corrupt frame, so it
  only adds a parse); ``HasField`` on the most frequent body first (~100 ns per miss, on 60 % of
  the frames).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError

from mexcbot.mexc.streams.account_events import BalanceUpdate, FillUpdate, OrderUpdate
from mexcbot.mexc.streams.events import (
    BookTickerBatch,
    BookTickerUpdate,
    DepthSnapshot,
    DepthUpdate,
    KlineUpdate,
    MiniTickerBatch,
    MiniTickerUpdate,
    PushEvent,
    Trades,
    UnknownPush,
)
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

__all__ = [
    "ControlFrame",
    "ControlRefused",
    "FrameError",
    "InvalidListenKey",
    "Pong",
    "SubscriptionAck",
    "SubscriptionRefused",
    "UnknownControl",
    "decode_control",
    "decode_push",
]

_KNOWN_BODIES: Final[dict[str, type[PushEvent]]] = {
    "publicDeals": Trades,
    "publicAggreDeals": Trades,
    "publicIncreaseDepths": DepthUpdate,
    "publicAggreDepths": DepthUpdate,
    "publicLimitDepths": DepthSnapshot,
    "publicBookTicker": BookTickerUpdate,
    "publicAggreBookTicker": BookTickerUpdate,
    "publicBookTickerBatch": BookTickerBatch,
    "publicSpotKline": KlineUpdate,
    "publicMiniTicker": MiniTickerUpdate,
    "publicMiniTickers": MiniTickerBatch,
    "privateOrders": OrderUpdate,
    "privateDeals": FillUpdate,
    "privateAccount": BalanceUpdate,
}
#: Every value ``WhichOneof("body")`` can return (each field of the generated oneof, and None),
#: so dispatch is one subscript: ``dict.get`` with a default cost ~20-40 ns more per frame.
_EVENT_BY_BODY: Final[dict[str | None, type[PushEvent]]] = {
    None: UnknownPush,
    **{
        field.name: _KNOWN_BODIES.get(field.name, UnknownPush)
        for field in PushDataV3ApiWrapper.DESCRIPTOR.oneofs_by_name["body"].fields
    },
}
_PARSE: Final = PushDataV3ApiWrapper.FromString
_WHICH: Final = PushDataV3ApiWrapper.WhichOneof


class FrameError(ValueError):
    """A frame that is not a MEXC push: the connection is treated as broken, never skipped."""


def decode_push(frame: bytes) -> PushEvent:
    """One binary frame as its event (``UnknownPush`` for a body this client does not know)."""
    try:
        push = _PARSE(frame)
    except DecodeError as exc:
        raise FrameError(f"not a PushDataV3ApiWrapper ({exc}): {frame[:32]!r}") from None
    return _EVENT_BY_BODY[_WHICH(push, "body")]((push,))


# --- control frames (JSON text) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionAck:
    """The server accepted ``channels`` (an UNSUBSCRIPTION is acknowledged the same way)."""

    request_id: int
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionRefused:
    """MEXC refused ``channels`` (still with code 0), e.g. ``reason="Blocked"``."""

    request_id: int
    channels: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Pong:
    """The reply to a PING."""


@dataclass(frozen=True, slots=True)
class InvalidListenKey:
    """The plain text ``Invalid listen key``: the key expired or never existed."""


@dataclass(frozen=True, slots=True)
class ControlRefused:
    """A JSON reply with a non-zero ``code``."""

    request_id: int
    code: int
    msg: str


@dataclass(frozen=True, slots=True)
class UnknownControl:
    """A text frame of no known shape; kept so it can be logged, never acted on."""

    text: str


ControlFrame = (
    SubscriptionAck
    | SubscriptionRefused
    | Pong
    | InvalidListenKey
    | ControlRefused
    | UnknownControl
)

_REFUSAL: Final = re.compile(
    r"Not Subscribed successfully!\s*\[(?P<channels>[^\]]*)\]\.?\s*"
    r"Reason\s*[:：]\s*(?P<reason>.*?)!?\s*$"
)


def decode_control(text: str) -> ControlFrame:
    """One text frame. MEXC's forms (reference §6): ``{"id":7,"code":0,"msg":"ch1,ch2"}`` (ack),
    ``{"id":0,"code":0,"msg":"PONG"}``, ``{"id":7,"code":0,"msg":"Not Subscribed successfully!
    [ch].  Reason： Blocked!"}`` and the bare text ``Invalid listen key``."""
    stripped = text.strip()
    if stripped == "Invalid listen key":
        return InvalidListenKey()
    try:
        payload = json.loads(stripped)
    except ValueError:
        return UnknownControl(text)
    if not isinstance(payload, dict) or not isinstance(payload.get("msg", ""), str):
        return UnknownControl(text)
    msg: str = payload.get("msg") or ""
    request_id = payload.get("id") or 0
    code = payload.get("code") or 0
    if not isinstance(request_id, int) or not isinstance(code, int):
        return UnknownControl(text)
    if code != 0:
        return ControlRefused(request_id, code, msg)
    if msg.upper() == "PONG":
        return Pong()
    if msg == "Invalid listen key":
        return InvalidListenKey()
    refusal = _REFUSAL.match(msg)
    if refusal is not None:
        channels = tuple(c.strip() for c in refusal["channels"].split(",") if c.strip())
        return SubscriptionRefused(request_id, channels, refusal["reason"].strip())
    return SubscriptionAck(request_id, tuple(c for c in msg.split(",") if c))
