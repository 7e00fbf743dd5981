"""One ``/ws`` connection: MEXC's JSON control protocol and its connection limits (reference §6).

Control frames are JSON text: SUBSCRIPTION / UNSUBSCRIPTION (``id`` optional, echoed or 0), PING
in any letter case. A channel the simulator does not serve, a public one of a listing whose API has
not opened yet, a private one without a listen key and one past the per-connection cap are refused
one by one with MEXC's exact "Blocked" text, still with code 0 (a refused channel is not kept: the
client subscribes again after the open). Data frames are queued by `StreamHub` and written by the
connection's own writer task, so a slow client never blocks the exchange. A subscription is not a
state change: nothing here is journaled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import WSMsgType, web

from mexcsim.config import SimConfig


class StreamHub(Protocol):
    """What a connection needs of the hub that feeds it (`mexcsim.http.stream_hub.StreamHub`)."""

    def connect(self, conn: StreamConnection) -> None: ...

    def disconnect(self, conn: StreamConnection) -> None: ...

    def serves(self, conn: StreamConnection, channel: str) -> bool: ...

    def subscribed(self, conn: StreamConnection, channel: str) -> None: ...


PONG = '{"id":0,"code":0,"msg":"PONG"}'
INVALID_LISTEN_KEY = "Invalid listen key"
MAX_QUEUED_FRAMES = 10_000
"""A client this far behind is cut off rather than let the simulator's memory grow."""


def refusal(request_id: int, channel: str) -> str:
    msg = f"Not Subscribed successfully! [{channel}].  Reason： Blocked!"
    return json.dumps({"id": request_id, "code": 0, "msg": msg}, ensure_ascii=False)


class StreamConnection:
    """A client's connection: its channels, its account (with a listen key) and its timers."""

    def __init__(
        self, ws: web.WebSocketResponse, owner: str | None, listen_key: str | None
    ) -> None:
        self.ws = ws
        self.owner = owner
        self.listen_key = listen_key
        self.channels: list[str] = []
        self.opened = time.monotonic()
        self.last_traffic = self.opened
        self.unsubscribed_since: float | None = self.opened
        self._queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED_FRAMES)
        self._closing: asyncio.Task[bool] | None = None

    def close_soon(self) -> None:
        """Close from synchronous code (a fault, a full queue); the close runs on the loop."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.ws.close())

    def push(self, frame: bytes, hold_s: float) -> None:
        """Queue a data frame, to be written no earlier than ``hold_s`` from now."""
        try:
            self._queue.put_nowait((time.monotonic() + hold_s, frame))
        except asyncio.QueueFull:
            self.close_soon()

    async def write_forever(self) -> None:
        while True:
            due, frame = await self._queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.ws.closed:
                return
            await self.ws.send_bytes(frame)


async def serve_connection(
    request: web.Request,
    hub: StreamHub,
    config: SimConfig,
    listen_key_owner: Callable[[str], str | None],
) -> web.WebSocketResponse:
    """Run one connection from handshake to close."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    key = request.query.get("listenKey")
    owner = None
    if key is not None:
        owner = listen_key_owner(key)
        if owner is None:
            await ws.send_str(INVALID_LISTEN_KEY)
            await ws.close()
            return ws
    conn = StreamConnection(ws, owner, key)
    hub.connect(conn)
    writer = asyncio.create_task(conn.write_forever())
    watchdog = asyncio.create_task(_watch(conn, config, listen_key_owner))
    try:
        async for message in ws:
            conn.last_traffic = time.monotonic()
            if message.type is WSMsgType.TEXT:
                await _control(conn, hub, config, message.data)
    finally:
        hub.disconnect(conn)
        for task in (writer, watchdog):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return ws


async def _watch(
    conn: StreamConnection, config: SimConfig, listen_key_owner: Callable[[str], str | None]
) -> None:
    """Close the connection when one of MEXC's limits runs out (or its listen key expires)."""
    step = min(1.0, config.ws_no_sub_timeout / 4, config.ws_idle_timeout / 4)
    while not conn.ws.closed:
        await asyncio.sleep(step)
        now = time.monotonic()
        unsubscribed = conn.unsubscribed_since
        expired = conn.listen_key is not None and listen_key_owner(conn.listen_key) is None
        if (
            now - conn.opened >= config.ws_max_lifetime
            or now - conn.last_traffic >= config.ws_idle_timeout
            or (unsubscribed is not None and now - unsubscribed >= config.ws_no_sub_timeout)
            or expired
        ):
            await conn.ws.close()
            return


async def _control(conn: StreamConnection, hub: StreamHub, config: SimConfig, text: str) -> None:
    try:
        request = json.loads(text)
    except ValueError:
        return
    if not isinstance(request, dict):
        return
    method = str(request.get("method", "")).upper()
    raw_id = request.get("id")
    request_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else 0
    if method == "PING":
        await conn.ws.send_str(PONG)
        return
    if method not in ("SUBSCRIPTION", "UNSUBSCRIPTION"):
        return
    params = request.get("params")
    channels = [str(c) for c in params] if isinstance(params, list) else []
    accepted: list[str] = []
    for channel in channels:
        if method == "UNSUBSCRIPTION":
            if channel in conn.channels:
                conn.channels.remove(channel)
            accepted.append(channel)
        elif channel in conn.channels:
            accepted.append(channel)
        elif len(conn.channels) < config.ws_max_subscriptions and hub.serves(conn, channel):
            conn.channels.append(channel)
            hub.subscribed(conn, channel)
            accepted.append(channel)
        else:
            await conn.ws.send_str(refusal(request_id, channel))
    conn.unsubscribed_since = (
        None if conn.channels else (conn.unsubscribed_since or time.monotonic())
    )
    if accepted:
        ack = {"id": request_id, "code": 0, "msg": ",".join(accepted)}
        await conn.ws.send_str(json.dumps(ack, ensure_ascii=False))
