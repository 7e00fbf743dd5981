"""``GET /api/v1/ws``: the bot's live API, one websocket session per client.

The protocol (JSON text messages; every server message is ``{type, topic, seq, ts, data}``):

- Authenticate (``live_auth``) with the REST API's tokens, by ``Authorization: Bearer <token>``
  on the upgrade request or, for browsers that cannot set headers, a first message
  ``{"type":"auth","token":"mxb_..."}`` within ``api_ws_auth_timeout`` seconds. Never in the URL:
  a URL lands in proxy and browser logs, so a query that carries a token is refused. A refusal is
  an ``error`` message, then close 4401 (authentication), 4403 (role) or 4429 (rate limits,
  failed authentications per address counted with the HTTP routes').
- ``{"type":"subscribe","topics":[...]}`` (``live_topics``) answers ``subscribed``, then a
  ``snapshot`` per new topic, then ``update`` messages. ``"since": <seq>`` on a subscribe, or a
  later ``{"type":"resume","since":<seq>}``, replays the missed updates from the feed's buffer
  instead; when they are no longer buffered every subscribed topic gets a ``snapshot`` with
  ``"reset": true``. ``seq`` is global (`LiveFeed`); a snapshot's ``seq`` is the feed's position
  when it was taken. Updates carry whole objects, so applying one the snapshot already included is
  harmless.
- The server sends ``{"type":"ping"}`` every ``api_ws_heartbeat`` seconds (its ``seq`` is the
  feed's latest) and answers a client's ``{"type":"ping"}`` with ``pong``.
- A client with more than ``api_ws_queue_limit`` messages waiting is closed with 4408 ("too
  slow"): the engine's bus callbacks only enqueue (`offer`), they never wait for a client.

A revoked token is noticed at the next heartbeat (4401).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any, Final

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from mexcbot.api.auth import Principal
from mexcbot.api.context import ApiContext
from mexcbot.api.errors import ApiProblem
from mexcbot.api.live_auth import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
    Refusal,
    authenticate,
    receive_request,
)
from mexcbot.api.live_feed import LiveMessage, envelope
from mexcbot.api.live_snapshots import snapshot_data
from mexcbot.api.live_topics import (
    UnknownTopic,
    covers,
    needed_role,
    parse_topic,
    readable_topics,
    ticker_symbol,
)
from mexcbot.domain.tokens import role_allows
from mexcbot.engine.errors import UnknownSymbol
from mexcbot.engine.ports import ExchangePortError

router = APIRouter()

MAX_TOPICS: Final = 100
_CLOSE_GRACE_S: Final = 5.0


@router.websocket("/api/v1/ws")
async def live_updates(websocket: WebSocket) -> None:
    """Orders, fills, balances, tickers, stream and reconciliation status as they happen (the
    module docstring is the protocol; the app description in OpenAPI points here)."""
    ctx: ApiContext = websocket.app.state.ctx
    await LiveSession(websocket, ctx).run()


class LiveSession:
    """One client: its subscriptions, its bounded outbox, and the tasks that serve it."""

    def __init__(self, websocket: WebSocket, ctx: ApiContext) -> None:
        self._ws = websocket
        self._ctx = ctx
        self._feed = ctx.live
        self._queue_limit = ctx.settings.api_ws_queue_limit
        self._outbox: deque[LiveMessage] = deque()
        self._wake = asyncio.Event()
        self._too_slow = asyncio.Event()
        self._send_lock = asyncio.Lock()  # one writer at a time; held across a snapshot
        self._topics: set[str] = set()
        self._last_update = 0  # the last update sent: what a replay already sent is skipped
        self._token = ""

    async def run(self) -> None:
        await self._ws.accept()
        tasks: list[asyncio.Task[None]] = []
        try:
            principal, self._token = await authenticate(self._ws, self._ctx)
            await self._reply(
                "authenticated",
                {
                    "name": principal.name,
                    "role": principal.role.value,
                    "topics": readable_topics(principal.role),
                },
            )
            self._feed.add(self)
            tasks = [
                asyncio.create_task(self._read(principal)),
                asyncio.create_task(self._write()),
                asyncio.create_task(self._heartbeat()),
                asyncio.create_task(self._watch_speed()),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error
        except Refusal as refusal:
            await self._refuse(refusal)
        except WebSocketDisconnect:
            pass
        finally:
            self._feed.remove(self)
            for task in tasks:
                task.cancel()

    def offer(self, message: LiveMessage) -> None:
        """Called by the feed on the engine's task: enqueue or give up on this client."""
        if not covers(self._topics, message.topic):
            return
        if len(self._outbox) >= self._queue_limit:
            self._feed.remove(self)
            self._outbox.clear()
            self._too_slow.set()
            return
        self._outbox.append(message)
        self._wake.set()

    # --- the client's messages ------------------------------------------------------------------

    async def _read(self, principal: Principal) -> None:
        while True:
            try:
                request = await receive_request(self._ws)
            except ValueError as exc:
                await self._error("invalid_message", str(exc))
                continue
            kind = request.get("type")
            if kind == "ping":
                await self._reply("pong", {})
            elif kind == "pong":
                pass
            elif kind == "subscribe":
                await self._subscribe(principal, request)
            elif kind == "unsubscribe":
                await self._unsubscribe(request)
            elif kind == "resume":
                await self._resume(request)
            elif kind == "auth":
                await self._error("already_authenticated", "This connection is authenticated")
            else:
                await self._error(
                    "unknown_type",
                    f"Unknown message type {kind!r}; the types are "
                    "subscribe, unsubscribe, resume, ping and pong",
                    field="type",
                )

    async def _subscribe(self, principal: Principal, request: dict[str, Any]) -> None:
        topics = await self._valid_topics(request.get("topics"))
        since = request.get("since")
        if topics is None or not await self._valid_since(since, required=False):
            return
        for topic in topics:
            if not role_allows(principal.role, needed_role(topic)):
                raise Refusal(
                    CLOSE_FORBIDDEN,
                    "forbidden",
                    f"The token {principal.name!r} has role {principal.role}; topic {topic!r} "
                    f"needs role {needed_role(topic)}",
                )
        async with self._send_lock:
            new = [topic for topic in topics if topic not in self._topics]
            self._topics.update(topics)
            await self._send({"type": "subscribed", "data": {"topics": sorted(self._topics)}})
            if since is None:
                for topic in new:
                    await self._send_snapshot(topic, reset=False)
            else:
                await self._replay(since)

    async def _unsubscribe(self, request: dict[str, Any]) -> None:
        topics = await self._valid_topics(request.get("topics"))
        if topics is not None:
            self._topics.difference_update(topics)
            await self._reply("unsubscribed", {"topics": sorted(self._topics)})

    async def _resume(self, request: dict[str, Any]) -> None:
        since = request.get("since")
        if not await self._valid_since(since, required=True) or not isinstance(since, int):
            return
        if not self._topics:
            await self._error(
                "not_subscribed",
                "Subscribe before resuming (or send 'since' with the subscribe message)",
                field="since",
            )
            return
        async with self._send_lock:
            await self._replay(since)

    async def _valid_topics(self, raw: object) -> list[str] | None:
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_TOPICS:
            await self._error(
                "invalid_topics",
                f"'topics' must be a list of 1 to {MAX_TOPICS} topic names",
                field="topics",
            )
            return None
        try:
            topics = [parse_topic(topic) for topic in raw]
        except UnknownTopic as exc:
            await self._error("unknown_topic", str(exc), field="topics")
            return None
        for topic in topics:
            symbol = ticker_symbol(topic)
            if symbol is None:
                continue
            try:
                await self._ctx.market.symbol(symbol)
            except UnknownSymbol:
                await self._error(
                    "unknown_symbol", f"The exchange does not list {symbol!r}", field="topics"
                )
                return None
            except ExchangePortError:
                pass  # the symbol list is out of reach: subscribe anyway
        return topics

    async def _valid_since(self, since: object, *, required: bool) -> bool:
        if since is None and not required:
            return True
        if isinstance(since, int) and not isinstance(since, bool) and since >= 0:
            return True
        await self._error(
            "invalid_since",
            "'since' must be the seq of the last message seen (a whole number)",
            field="since",
        )
        return False

    # --- what the server sends ------------------------------------------------------------------

    async def _replay(self, since: int) -> None:
        """The updates after ``since`` of the subscribed topics, or (no longer buffered) a reset
        snapshot of each. Call with the send lock held."""
        position = self._feed.seq
        missed = self._feed.since(since)
        if missed is None:
            for topic in sorted(self._topics):
                await self._send_snapshot(topic, reset=True)
            return
        for message in missed:
            if covers(self._topics, message.topic):
                await self._ws.send_text(message.text)
        self._last_update = max(self._last_update, position)

    async def _send_snapshot(self, topic: str, *, reset: bool) -> None:
        position = self._feed.seq
        data = await snapshot_data(self._ctx, topic)
        if data is not None:
            await self._ws.send_text(envelope("snapshot", topic, position, data, reset=reset))

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            async with self._send_lock:
                while self._outbox:
                    message = self._outbox.popleft()
                    if message.seq <= self._last_update:
                        continue
                    self._last_update = message.seq
                    await self._ws.send_text(message.text)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ctx.settings.api_ws_heartbeat)
            try:
                await self._ctx.authority.authenticate(self._token)
            except ApiProblem as problem:
                if problem.status == 401:
                    raise Refusal(CLOSE_UNAUTHENTICATED, problem.code, problem.detail) from None
            await self._reply("ping", {})

    async def _watch_speed(self) -> None:
        await self._too_slow.wait()
        raise Refusal(
            CLOSE_TOO_SLOW,
            "too_slow",
            f"More than {self._queue_limit} messages were waiting for this client: it reads "
            "too slowly. Reconnect and resume with 'since'",
        )

    async def _reply(self, kind: str, data: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._send({"type": kind, "data": data})

    async def _error(self, code: str, message: str, *, field: str | None = None) -> None:
        await self._reply("error", {"code": code, "message": message, "field": field})

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send_text(envelope(message["type"], None, self._feed.seq, message["data"]))

    async def _refuse(self, refusal: Refusal) -> None:
        """The error message, then the close; bounded in time, since a client too slow to read
        may never make room for either."""
        data = {"code": refusal.code, "message": refusal.detail, "field": None}
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_GRACE_S):
                await self._ws.send_text(envelope("error", None, self._feed.seq, data))
                await self._ws.close(refusal.close_code, refusal.code)
