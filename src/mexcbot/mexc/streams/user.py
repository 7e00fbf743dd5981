"""The user data stream: the account's order changes, fills and balance changes, kept flowing.

A listen key (``POST /api/v3/userDataStream``) opens ``<ws url>?listenKey=K``, which carries the
three private channels on one connection (as ccxt does). The key lives 60 minutes from its last
keepalive: it is PUT every ``keepalive_interval_s`` (MEXC advises 30 min). When MEXC answers
``Invalid listen key``, or a keepalive fails, the key is dropped and the connection reconnects with
a new one; every other disconnect reconnects with the same key. Closing deletes the key.

Use::

    async with UserDataStream(client) as stream:
        async for item in stream:
            match item:
                case OrderUpdate() | FillUpdate() | BalanceUpdate(): ...
                case StreamDisconnected(): ...  # a gap: reconcile orders over REST

After a reconnect, pushes sent while disconnected are gone: the engine's REST reconciliation
closes that gap (architecture: "after any reconnect or gap, REST reconciliation closes it").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
from yarl import URL

from mexcbot.mexc.streams.channels import PRIVATE_CHANNELS
from mexcbot.mexc.streams.codec import InvalidListenKey
from mexcbot.mexc.streams.connection import StreamConfig, StreamConnection, StreamItem

__all__ = ["ListenKeys", "UserDataStream"]

_log = logging.getLogger(__name__)


class ListenKeys(Protocol):
    """The REST calls the stream needs (``MexcClient`` has them)."""

    async def create_listen_key(self) -> str: ...

    async def keepalive_listen_key(self, listen_key: str) -> None: ...

    async def close_listen_key(self, listen_key: str) -> None: ...


class UserDataStream:
    """The account's private pushes over one connection authorised by a listen key.

    ``session`` is borrowed when given; ``config.url`` is the websocket base URL (the listen key is
    added as a query parameter).
    """

    def __init__(
        self,
        listen_keys: ListenKeys,
        config: StreamConfig | None = None,
        *,
        keepalive_interval_s: float = 30 * 60.0,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if keepalive_interval_s <= 0:
            raise ValueError(f"keepalive_interval_s must be > 0, got {keepalive_interval_s}")
        self._keys = listen_keys
        self._config = config or StreamConfig()
        self._keepalive_interval_s = keepalive_interval_s
        self._own_session = session is None
        self._session = session
        self._rng = rng
        self._queue: asyncio.Queue[StreamItem] = asyncio.Queue()
        self._listen_key: str | None = None
        self._key_lock = asyncio.Lock()
        self._connection: StreamConnection | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self.keys_created = 0
        self.keepalives = 0

    @property
    def listen_key(self) -> str | None:
        return self._listen_key

    @property
    def connection(self) -> StreamConnection | None:
        return self._connection

    async def __aenter__(self) -> UserDataStream:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._connection is not None:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._connection = StreamConnection(
            0,
            self._session,
            self._config,
            self._deliver,
            url_source=self._url,
            channels=PRIVATE_CHANNELS,
            rng=self._rng,
        )
        self._connection.start()
        self._keepalive_task = asyncio.get_running_loop().create_task(
            self._keepalive(), name="mexc-listen-key-keepalive"
        )

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self._items()

    async def next(self) -> StreamItem:
        return await self._queue.get()

    async def _items(self) -> AsyncIterator[StreamItem]:
        while True:
            yield await self._queue.get()

    async def close(self) -> None:
        task, self._keepalive_task = self._keepalive_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        key, self._listen_key = self._listen_key, None
        if key is not None:
            try:
                await self._keys.close_listen_key(key)
            except Exception as exc:  # it expires by itself within 60 minutes
                _log.info("could not delete the listen key: %s", exc)
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _url(self) -> str:
        async with self._key_lock:
            if self._listen_key is None:
                self._listen_key = await self._keys.create_listen_key()
                self.keys_created += 1
            key = self._listen_key
        return str(URL(self._config.url).update_query(listenKey=key))

    def _deliver(self, item: StreamItem) -> None:
        if isinstance(item, InvalidListenKey):
            self._listen_key = None  # the connection reconnects and _url() makes a new one
        self._queue.put_nowait(item)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_interval_s)
            key = self._listen_key
            if key is None:
                continue
            try:
                await self._keys.keepalive_listen_key(key)
                self.keepalives += 1
            except Exception as exc:  # an expired or deleted key: replace it
                _log.warning("listen key keepalive failed (%s); replacing the key", exc)
                if self._listen_key == key:
                    self._listen_key = None
                if self._connection is not None:
                    await self._connection.restart("listen key replaced")
