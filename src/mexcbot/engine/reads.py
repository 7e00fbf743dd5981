"""Reads served from what the bot already knows: shared exchange calls, short caches, live books.

Many users looking at the same thing must cost the exchange one request, not one each: MEXC caps
``GET /api/v3/account`` at 2 per second, so a dashboard in two tabs and a polling script once turned
balances into minutes-long waits. `SharedRead` makes concurrent identical reads share one exchange
call (single flight) and serves its answer for a time bounded by the nature of the data. Every
answer is `Fresh`: the value with the time it describes, so a caller can say how old it is.

`BalanceBook` keeps the account's last balances with their time. The REST snapshot fills it; the
user stream (``BalanceChanged`` events, ``StreamStatusChanged("user")``) keeps it current, and while
the stream is connected the book answers without any exchange call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from mexcbot.domain.market import Balance
from mexcbot.engine.events import BalanceChanged, StreamStatusChanged
from mexcbot.engine.freshness import Fresh, WallClock, utc_now

__all__ = ["BalanceBook", "Fresh", "ReadLifetimes", "SharedRead", "utc_now"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ReadLifetimes:
    """How long a fetched answer is served before the exchange is asked again, per kind of data.

    Bounded by how fast the data changes and how much staleness a reader can act on: a book moves
    within milliseconds, a balance only when an order fills (which also invalidates it).
    """

    balances_s: float = 1.0
    tickers_s: float = 1.0
    depth_s: float = 0.25
    candles_s: float = 1.0


class SharedRead(Generic[K, V]):
    """Single flight plus a short cache for one kind of read, keyed by its arguments.

    A failure is shared by the callers that waited on the same flight but never cached. A caller
    that is cancelled (its client went away) does not cancel the flight the others wait on.
    """

    def __init__(
        self, lifetime_s: float, *, clock: Monotonic = time.monotonic, wall: WallClock = utc_now
    ) -> None:
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._wall = wall
        self._cached: dict[K, tuple[float, Fresh[V]]] = {}
        self._flights: dict[K, asyncio.Task[Fresh[V]]] = {}
        self.exchange_calls = 0

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> Fresh[V]:
        hit = self._cached.get(key)
        if hit is not None and self._clock() - hit[0] < self._lifetime_s:
            return hit[1]
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._fly(key, fetch))
            self._flights[key] = flight
        return await asyncio.shield(flight)

    async def _fly(self, key: K, fetch: Callable[[], Awaitable[V]]) -> Fresh[V]:
        self.exchange_calls += 1
        try:
            value = await fetch()
        finally:
            mine = self._flights.get(key) is asyncio.current_task()
            if mine:
                del self._flights[key]
        fresh = Fresh(value, self._wall())
        if mine:  # not invalidated while in flight: the answer may be served to later readers
            self._cached[key] = (self._clock(), fresh)
        return fresh

    def invalidate(self) -> None:
        """Forget every cached answer and detach flights already under way, so the next read
        asks the exchange again (after a fill, the balances fetched before it are stale)."""
        self._cached.clear()
        self._flights.clear()


class BalanceBook:
    """The account's balances as last known, with the time they describe.

    ``live`` says the user stream is connected and every change since the snapshot has been
    applied: only then is the book an answer by itself. A stream loss may hide changes, so the
    book stops being live until the stream is back (and the next REST snapshot refills it).
    """

    def __init__(self) -> None:
        self._balances: dict[str, Balance] = {}
        self._as_of: datetime | None = None
        self._stream_connected = False
        self._live = False
        self._current: Fresh[list[Balance]] | None = None

    def current(self) -> Fresh[list[Balance]] | None:
        """The book's balances when it is live; None when the exchange must be asked. The same
        answer object until the book changes, so the API can share its encoded body."""
        if not self._live or self._as_of is None:
            return None
        if self._current is None:
            ordered = sorted(self._balances.values(), key=lambda b: b.asset)
            self._current = Fresh(ordered, self._as_of)
        return self._current

    def replace(self, snapshot: Fresh[list[Balance]]) -> None:
        """A REST snapshot: the whole account, as of its time."""
        if self._as_of is not None and snapshot.as_of < self._as_of and self._live:
            return  # the stream already brought newer state than this snapshot
        self._current = None
        self._balances = {b.asset: b for b in snapshot.value}
        self._as_of = snapshot.as_of
        self._live = self._stream_connected

    def apply(self, event: BalanceChanged) -> None:
        """One asset's balance as the stream (or a REST snapshot) reported it."""
        self._current = None
        known = self._balances.get(event.asset)
        changed = Balance(event.asset, event.free, event.locked)
        self._balances[event.asset] = (
            changed if known is None else replace(known, free=event.free, locked=event.locked)
        )
        if self._as_of is None or event.at > self._as_of:
            self._as_of = event.at

    def on_stream(self, event: StreamStatusChanged) -> None:
        if event.stream != "user":
            return
        self._stream_connected = event.connected
        if not event.connected:
            self._live = False
