"""Market data over as many MEXC websockets as the subscriptions need (at most 30 per socket).

Use::

    async with MarketStream(StreamConfig()) as stream:
        await stream.subscribe(channels.trades("BTCUSDT"), channels.depth("BTCUSDT"))
        async for item in stream:
            match item:
                case Trades(): ...
                case DepthUpdate(): book.apply(item)
                case StreamDisconnected(): ...  # a gap: frames may have been missed

Every connection delivers into one queue, in arrival order per connection. The queue is unbounded
on purpose: a slow consumer costs memory, never a silently dropped frame; ``backlog`` tells how far
behind the consumer is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import aiohttp

from mexcbot.mexc.streams.connection import StreamConfig, StreamConnection, StreamItem

__all__ = ["MarketStream"]


class MarketStream:
    """Subscriptions spread over connections of at most ``config.max_subscriptions`` channels.

    ``session`` is borrowed when given (closed by its owner), otherwise created and closed here.
    ``rng`` seeds the reconnect jitter (tests pass a fixed one).
    """

    def __init__(
        self,
        config: StreamConfig | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config or StreamConfig()
        self._own_session = session is None
        self._session = session
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[StreamItem] = asyncio.Queue()
        self._connections: list[StreamConnection] = []
        self._lock = asyncio.Lock()
        self._closed = False

    async def __aenter__(self) -> MarketStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connections(self) -> tuple[StreamConnection, ...]:
        return tuple(self._connections)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for connection in self._connections for c in connection.channels)

    @property
    def backlog(self) -> int:
        """Items received and not yet consumed."""
        return self._queue.qsize()

    async def subscribe(self, *channels: str) -> None:
        """Add channels, filling open connections first and opening new ones as needed."""
        async with self._lock:
            if self._closed:
                raise RuntimeError("the market stream is closed")
            known = set(self.channels)
            pending = [c for c in dict.fromkeys(channels) if c not in known]
            for connection in self._connections:
                if not pending:
                    break
                take, pending = pending[: connection.free_slots], pending[connection.free_slots :]
                await connection.subscribe(take)
            while pending:
                connection = self._open_connection()
                take = pending[: connection.free_slots]
                pending = pending[connection.free_slots :]
                await connection.subscribe(take)
                connection.start()

    async def unsubscribe(self, *channels: str) -> None:
        """Remove channels; a connection left with none is closed."""
        async with self._lock:
            gone = set(channels)
            for connection in list(self._connections):
                await connection.unsubscribe(c for c in connection.channels if c in gone)
                if not connection.channels:
                    self._connections.remove(connection)
                    await connection.close()

    async def next(self) -> StreamItem:
        """The next item from any connection."""
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self._items()

    async def _items(self) -> AsyncIterator[StreamItem]:
        while True:
            yield await self._queue.get()

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            await connection.close()
        if self._own_session and self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None

    def _open_connection(self) -> StreamConnection:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        number = max((c.connection_id for c in self._connections), default=0) + 1
        connection = StreamConnection(
            number, self._session, self._config, self._queue.put_nowait, rng=self._rng
        )
        self._connections.append(connection)
        return connection
