"""A local order book kept from MEXC's depth diffs and the REST snapshot, by version.

MEXC's procedure (reference §6): buffer the aggre.depth pushes, take ``GET /api/v3/depth``
(``lastUpdateId`` is the snapshot's version V), drop pushes with ``toVersion <= V``, apply the
first push that covers ``V + 1``, then require every push to start at the previous
``toVersion + 1``. Anything else is a gap: the book stops answering (``BookNotSynced``) and
resyncs from a fresh snapshot while it keeps buffering. A snapshot older than the buffered
stream is fetched again after ``resync_delay_s``. So the book is either exactly the exchange's
at ``version`` or it refuses to answer: never silently wrong.

Quantities in a diff are absolute ("0" removes the level), which is why a push that overlaps
the current version may be applied whole. Feed it with ``apply(update)`` from the stream
consumer; call ``invalidate()`` on a ``StreamDisconnected`` of its connection if a book that is
merely stale must not answer either.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from mexcbot.mexc.models import OrderBook, PriceLevel
from mexcbot.mexc.streams.events import DepthUpdate

__all__ = ["BookNotSynced", "LocalOrderBook", "SnapshotSource"]

_log = logging.getLogger(__name__)

#: Fetches the REST snapshot of a symbol, e.g. ``lambda s: client.depth(s, limit=1000)``.
SnapshotSource = Callable[[str], Awaitable[OrderBook]]


class BookNotSynced(Exception):
    """The book is resyncing (or never synced): its levels are not the exchange's right now."""


@dataclass(frozen=True, slots=True)
class _Diff:
    from_version: int
    to_version: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]


class _Side:
    """One side's levels: price -> qty, with the prices kept sorted ascending."""

    def __init__(self) -> None:
        self.qty: dict[Decimal, Decimal] = {}
        self.prices: list[Decimal] = []

    def replace(self, levels: Iterable[PriceLevel]) -> None:
        self.qty = {level.price: level.qty for level in levels if level.qty}
        self.prices = sorted(self.qty)

    def update(self, levels: Iterable[PriceLevel]) -> None:
        for level in levels:
            known = level.price in self.qty
            if level.qty:
                self.qty[level.price] = level.qty
                if not known:
                    bisect.insort(self.prices, level.price)
            elif known:
                del self.qty[level.price]
                del self.prices[bisect.bisect_left(self.prices, level.price)]


class LocalOrderBook:
    """The book of ``symbol``. ``max_buffer`` bounds the diffs kept while resyncing (the oldest go
    first: a snapshot supersedes them anyway)."""

    def __init__(
        self,
        symbol: str,
        snapshot: SnapshotSource,
        *,
        max_buffer: int = 10_000,
        resync_delay_s: float = 0.25,
    ) -> None:
        self.symbol = symbol
        self._snapshot = snapshot
        self._resync_delay_s = resync_delay_s
        self._bids = _Side()
        self._asks = _Side()
        self._version: int | None = None
        self._buffer: deque[_Diff] = deque(maxlen=max_buffer)
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self.resyncs = 0
        self.snapshots = 0

    # --- reading ---------------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return self._version is not None

    @property
    def version(self) -> int:
        return self._checked_version()

    def best_bid(self) -> PriceLevel | None:
        self._checked_version()
        prices = self._bids.prices
        return PriceLevel(prices[-1], self._bids.qty[prices[-1]]) if prices else None

    def best_ask(self) -> PriceLevel | None:
        self._checked_version()
        prices = self._asks.prices
        return PriceLevel(prices[0], self._asks.qty[prices[0]]) if prices else None

    def top(self, n: int) -> tuple[tuple[PriceLevel, ...], tuple[PriceLevel, ...]]:
        """The best ``n`` bids (highest first) and asks (lowest first)."""
        self._checked_version()
        bids = tuple(PriceLevel(p, self._bids.qty[p]) for p in reversed(self._bids.prices[-n:]))
        asks = tuple(PriceLevel(p, self._asks.qty[p]) for p in self._asks.prices[:n])
        return bids, asks

    async def wait_synced(self) -> None:
        """Return once the book answers (wrap in ``asyncio.timeout`` to bound the wait)."""
        await self._synced.wait()

    def _checked_version(self) -> int:
        if self._version is None:
            raise BookNotSynced(f"{self.symbol}: the local book is resyncing")
        return self._version

    # --- feeding ---------------------------------------------------------------------------------

    def apply(self, update: DepthUpdate) -> None:
        """Apply (or buffer) one depth push of this symbol."""
        try:
            diff = _Diff(update.from_version, update.to_version, update.bids, update.asks)
        except ValueError as exc:  # a push without readable versions cannot be placed in order
            self._resync(f"unreadable depth push: {exc}")
            return
        if self._version is None:
            self._buffer.append(diff)
            self._ensure_snapshot()
        elif not self._extend(diff):
            self._resync(f"gap: at {self._version}, push {diff.from_version}..{diff.to_version}")
            self._buffer.append(diff)
            self._ensure_snapshot()

    def invalidate(self, reason: str) -> None:
        """Stop answering until resynced (e.g. the stream lost its connection)."""
        if self._version is not None:
            self._resync(reason)
            self._ensure_snapshot()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _extend(self, diff: _Diff) -> bool:
        """Apply ``diff`` if it continues the book; False on a gap. Stale diffs are no-ops."""
        assert self._version is not None
        if diff.to_version <= self._version:
            return True
        if diff.from_version > self._version + 1:
            return False
        self._bids.update(diff.bids)
        self._asks.update(diff.asks)
        self._version = diff.to_version
        return True

    def _resync(self, reason: str) -> None:
        _log.info("%s book resync: %s", self.symbol, reason)
        self.resyncs += 1
        self._version = None
        self._synced.clear()
        self._buffer.clear()

    def _ensure_snapshot(self) -> None:
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._sync(), name=f"book-sync-{self.symbol}")

    async def _sync(self) -> None:
        """Fetch snapshots until one joins the buffered diffs, then go live."""
        while self._version is None:
            try:
                book = await self._snapshot(self.symbol)
            except Exception as exc:  # REST failures are retried; the book keeps refusing meanwhile
                _log.warning("%s book snapshot failed: %s", self.symbol, exc)
                await asyncio.sleep(self._resync_delay_s)
                continue
            self.snapshots += 1
            if self._join(book):
                self._synced.set()
                return
            await asyncio.sleep(self._resync_delay_s)

    def _join(self, book: OrderBook) -> bool:
        """Start from ``book`` and replay the buffer; False when the snapshot is too old."""
        buffered = [d for d in self._buffer if d.to_version > book.last_update_id]
        if buffered and buffered[0].from_version > book.last_update_id + 1:
            return False
        self._bids.replace(book.bids)
        self._asks.replace(book.asks)
        self._version = book.last_update_id
        self._buffer.clear()
        for diff in buffered:
            if not self._extend(diff):
                self._version = None
                self._buffer.extend(buffered)
                return False
        return True
