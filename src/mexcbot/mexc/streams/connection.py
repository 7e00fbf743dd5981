"""One MEXC websocket, kept alive: connect, subscribe, PING, rotate, reconnect with backoff.

``StreamConnection`` owns at most ``max_subscriptions`` channels (MEXC's cap is 30 per
connection) and hands every decoded frame to a sink. It never gives up: a dropped socket, a missing
PONG, an unreadable frame or the planned rotation before MEXC's 24 h lifetime all end in a
reconnect that re-subscribes every channel it owns. Each reconnect after a failure waits an
exponentially growing, jittered delay; a rotation reconnects at once.

Between a ``StreamDisconnected`` and the next ``StreamConnected`` frames may have been missed:
depth books notice by version (``book.py``), everything else must treat the pair as a gap (the
engine closes it with REST reconciliation).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

import aiohttp

from mexcbot.mexc.constants import DEFAULT_WS_URL
from mexcbot.mexc.streams.codec import (
    ControlRefused,
    FrameError,
    InvalidListenKey,
    Pong,
    SubscriptionAck,
    SubscriptionRefused,
    decode_control,
    decode_push,
)
from mexcbot.mexc.streams.events import PushEvent

_log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS: Final = 30


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """Immutable websocket settings; the defaults follow MEXC's documented limits (reference §6).

    ``max_lifetime_s`` rotates a connection before MEXC's 24 h cut; ``ping_interval_s`` must stay
    well under the 60 s idle close; a PING unanswered for ``pong_timeout_s`` counts as a dead
    connection. Reconnect delays grow from ``reconnect_initial_s`` by 2x up to
    ``reconnect_max_s``, each scaled by a random factor in ``1 ± reconnect_jitter``.
    """

    url: str = DEFAULT_WS_URL
    max_subscriptions: int = MAX_SUBSCRIPTIONS
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 10.0
    max_lifetime_s: float = 23 * 3600.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    reconnect_jitter: float = 0.25
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.max_subscriptions <= MAX_SUBSCRIPTIONS:
            raise ValueError(
                f"max_subscriptions must be in 1..{MAX_SUBSCRIPTIONS}, got {self.max_subscriptions}"
            )
        for name in ("ping_interval_s", "pong_timeout_s", "max_lifetime_s", "connect_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.reconnect_initial_s <= self.reconnect_max_s:
            raise ValueError("reconnect delays need 0 < reconnect_initial_s <= reconnect_max_s")
        if not 0 <= self.reconnect_jitter < 1:
            raise ValueError(f"reconnect_jitter must be in [0, 1), got {self.reconnect_jitter}")

    def reconnect_delay(self, failures: int, rng: random.Random) -> float:
        """The wait before reconnect number ``failures`` (1 = the first after a failure)."""
        base = min(self.reconnect_max_s, self.reconnect_initial_s * 2 ** max(0, failures - 1))
        return float(base * (1 + self.reconnect_jitter * (2 * rng.random() - 1)))


@dataclass(frozen=True, slots=True)
class StreamConnected:
    """Connection ``connection`` is (re)connected and has sent SUBSCRIPTION for ``channels``."""

    connection: int
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StreamDisconnected:
    """Connection ``connection`` lost its socket (``reason``); it reconnects by itself."""

    connection: int
    reason: str


#: What a stream yields: decoded pushes, connection changes, and refusals worth acting on.
StreamItem = (
    PushEvent
    | StreamConnected
    | StreamDisconnected
    | SubscriptionRefused
    | ControlRefused
    | InvalidListenKey
)
Sink = Callable[[StreamItem], None]
#: Returns the URL to connect to now (the user stream builds it from its current listen key).
UrlSource = Callable[[], Awaitable[str]]


class StreamConnection:
    """One websocket and the channels it carries; ``start()`` runs it until ``close()``."""

    def __init__(
        self,
        connection_id: int,
        session: aiohttp.ClientSession,
        config: StreamConfig,
        sink: Sink,
        *,
        url_source: UrlSource | None = None,
        channels: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.connection_id = connection_id
        self._session = session
        self._config = config
        self._sink = sink
        self._url_source = url_source
        self._rng = rng or random.Random()
        self._channels: list[str] = list(dict.fromkeys(channels))[: config.max_subscriptions]
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_id = 1
        self._last_pong = 0.0
        self._restart_reason: str | None = None
        self._close_reason: str | None = None
        self.pings_sent = 0
        self.connects = 0

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._channels)

    @property
    def free_slots(self) -> int:
        return self._config.max_subscriptions - len(self._channels)

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def start(self) -> None:
        if self._task is None:
            name = f"mexc-ws-{self.connection_id}"
            self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = [c for c in channels if c not in self._channels]
        if len(new) > self.free_slots:
            raise ValueError(f"connection {self.connection_id} has {self.free_slots} free slots")
        self._channels.extend(new)
        if new and self.connected:
            await self._send_request("SUBSCRIPTION", new)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = [c for c in channels if c in self._channels]
        self._channels = [c for c in self._channels if c not in gone]
        if gone and self.connected:
            await self._send_request("UNSUBSCRIPTION", gone)

    async def restart(self, reason: str) -> None:
        """Drop the socket now; the run loop reconnects at once (e.g. a replaced listen key)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            self._restart_reason = reason
            await ws.close()

    # --- the run loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            self._restart_reason = self._close_reason = None
            reason, planned = await self._one_session()
            self._sink(StreamDisconnected(self.connection_id, reason))
            if planned:
                failures = 0
                continue
            failures += 1
            delay = self._config.reconnect_delay(failures, self._rng)
            _log.info("mexc ws %d: %s; reconnecting in %.2fs", self.connection_id, reason, delay)
            await asyncio.sleep(delay)

    async def _one_session(self) -> tuple[str, bool]:
        """Connect, subscribe and read until the socket ends: (why it ended, was it planned)."""
        config = self._config
        try:
            url = await self._url_source() if self._url_source else config.url
            async with asyncio.timeout(config.connect_timeout_s):
                ws = await self._session.ws_connect(
                    url,
                    timeout=aiohttp.ClientWSTimeout(
                        ws_receive=None, ws_close=config.pong_timeout_s
                    ),
                    autoping=True,
                    heartbeat=None,
                )
        except Exception as exc:  # refused, timed out, or the listen key request failed
            return f"connect failed: {type(exc).__name__}: {exc}", False
        self._ws = ws
        self.connects += 1
        self._last_pong = time.monotonic()
        keepalive = asyncio.get_running_loop().create_task(self._keepalive(ws))
        try:
            if self._channels:
                await self._send_request("SUBSCRIPTION", list(self._channels))
            self._sink(StreamConnected(self.connection_id, tuple(self._channels)))
            reason = await self._read(ws)
        except (aiohttp.ClientError, ConnectionError) as exc:
            reason = f"socket error: {type(exc).__name__}: {exc}"
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            self._ws = None
            await ws.close()
        if self._restart_reason is not None:
            return self._restart_reason, True
        return reason, reason == "rotation"

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        sink = self._sink
        async for message in ws:
            if message.type is aiohttp.WSMsgType.BINARY:
                try:
                    sink(decode_push(message.data))
                except FrameError as exc:
                    return f"unreadable frame: {exc}"
            elif message.type is aiohttp.WSMsgType.TEXT:
                control = decode_control(message.data)
                if isinstance(control, Pong):
                    self._last_pong = time.monotonic()
                elif isinstance(control, InvalidListenKey):
                    sink(control)
                    return "invalid listen key"
                elif isinstance(control, SubscriptionRefused | ControlRefused):
                    _log.warning("mexc ws %d: %s", self.connection_id, control)
                    sink(control)
                elif not isinstance(control, SubscriptionAck):
                    _log.info("mexc ws %d: unknown text frame %r", self.connection_id, control)
            elif message.type is aiohttp.WSMsgType.ERROR:
                return f"socket error: {ws.exception()}"
        return self._close_reason or f"closed by server ({ws.close_code})"

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """PING every ``ping_interval_s``; close on a missing PONG or at the rotation deadline."""
        config = self._config
        now = time.monotonic()
        deadline = now + config.max_lifetime_s
        next_ping = now + config.ping_interval_s
        ping_sent: float | None = None
        while not ws.closed:
            wake = min(next_ping, deadline)
            if ping_sent is not None:
                wake = min(wake, ping_sent + config.pong_timeout_s)
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            now = time.monotonic()
            if now >= deadline:
                self._close_reason = "rotation"
                break
            if ping_sent is not None and self._last_pong >= ping_sent:
                ping_sent = None
            if ping_sent is not None and now >= ping_sent + config.pong_timeout_s:
                self._close_reason = f"no PONG within {config.pong_timeout_s}s"
                break
            if now >= next_ping:
                await ws.send_str('{"method":"PING"}')
                self.pings_sent += 1
                ping_sent = ping_sent or now
                next_ping = now + config.ping_interval_s
        await ws.close()

    async def _send_request(self, method: str, channels: list[str]) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return
        step = self._config.max_subscriptions
        for start in range(0, len(channels), step):
            batch = channels[start : start + step]
            request: dict[str, object] = {"method": method, "params": batch, "id": self._next_id}
            self._next_id += 1
            await ws.send_str(json.dumps(request, separators=(",", ":")))
