"""MexcLiveMarket: the `LiveMarket` port on ONE shared `MarketStream` (so channels pack 30 to a
connection): per watched symbol a local order book, a ring of its newest public trades and its
best bid/ask, each answered only while it is provably the exchange's.

What "provably" means here:

* the book: synced by version (``streams/book.py``) and, when its REST snapshot filled the
  snapshot limit, only down to the snapshot's deepest level (levels beyond it were never seen);
* the trades: seeded by one ``GET /api/v3/trades`` after the subscription is known to be active
  (the symbol's first push on the deals channel's connection), merged with the pushes buffered
  since subscribing, and kept complete by every push after; a disconnect makes the list
  incomplete until the reconnect's reseed;
* every read: its connection is up and delivered a push within ``stale_after_s``. A stalled
  gateway (socket open, pushes held back) therefore stops the answers after ``stale_after_s``
  instead of serving a frozen book. A quiet symbol alone on its connection goes stale the same
  way and is read over REST meanwhile, which is safe, only dearer.

``as_of`` of an answer is the time the last push reached the bot on that connection: the state
was the exchange's then (nothing on the connection was pending behind it). A reconnect makes
every book on the connection fetch a fresh snapshot (changes during the outage may never be
pushed again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta

from mexcbot.domain.market import OrderBook, PublicTrade
from mexcbot.engine.freshness import Fresh
from mexcbot.engine.ports import (
    LiveConnection,
    LiveMarketStatus,
    PriceQuote,
    PriceUpdate,
    StreamGap,
    StreamResumed,
)
from mexcbot.mexc.live_state import (
    TRADE_RING,
    SymbolState,
    complete_side,
    merge_seed,
    public_trades,
)
from mexcbot.mexc.ratelimit import Priority
from mexcbot.mexc.rest import MexcClient
from mexcbot.mexc.stream_adapter import price_updates_of
from mexcbot.mexc.streams import (
    BookTickerUpdate,
    DepthUpdate,
    LocalOrderBook,
    MarketStream,
    StreamConfig,
    StreamConnected,
    StreamDisconnected,
    StreamItem,
    SubscriptionRefused,
    Trades,
)

log = logging.getLogger(__name__)

#: The REST depth snapshot a book starts from (MEXC's procedure, reference §6).
SNAPSHOT_LIMIT = 1000
#: An unchanged book's answer object is reused while its as_of is this close to the newest push,
#: so the API's shared body (api/read_bodies.py) is encoded once per state, not once per read.
_REUSE_S = 0.25
_RETRY_S = 1.0
#: A refused channel (a listing not open to the API yet) is asked for again after this long.
_RESUBSCRIBE_S = 5.0


class MexcLiveMarket:
    """Watched symbols' state on one `MarketStream`; `close()` ends it (the owner's stack)."""

    def __init__(
        self,
        client: MexcClient,
        config: StreamConfig,
        *,
        stale_after_s: float = 3.0,
        resync_delay_s: float = 0.5,
    ) -> None:
        self._client = client
        self._stream = MarketStream(config)
        self._stale_after_s = stale_after_s
        self._resync_delay_s = resync_delay_s
        self._watches: dict[str, SymbolState] = {}
        self._channel_conn: dict[str, int] = {}
        self._up: set[int] = set()
        self._seen: set[int] = set()
        self._last_push: dict[int, float] = {}
        self._consumer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: set[asyncio.Queue[PriceUpdate]] = set()
        self._in_gap = False
        self._resyncs_gone = 0
        self._snapshots_gone = 0

    # --- watching --------------------------------------------------------------------------------

    def watch(self, symbol: str) -> None:
        if symbol in self._watches:
            return
        watch = SymbolState(
            symbol, LocalOrderBook(symbol, self._snapshot, resync_delay_s=self._resync_delay_s)
        )
        self._watches[symbol] = watch
        if self._consumer is None:
            self._consumer = asyncio.get_running_loop().create_task(
                self._consume(), name="mexc-live-market"
            )
        self._spawn(self._stream.subscribe(*watch.channels))

    def unwatch(self, symbol: str) -> None:
        watch = self._watches.pop(symbol, None)
        if watch is None:
            return
        self._resyncs_gone += watch.book.resyncs
        self._snapshots_gone += watch.book.snapshots
        if watch.seeding is not None:
            watch.seeding.cancel()
        self._spawn(watch.book.close())
        self._spawn(self._unsubscribe(watch.channels))
        self._channel_conn.clear()  # rebuilt on demand from the connections' channels

    def watched(self) -> frozenset[str]:
        return frozenset(self._watches)

    # --- reading ---------------------------------------------------------------------------------

    def book(self, symbol: str, limit: int) -> Fresh[OrderBook] | None:
        watch = self._watches.get(symbol)
        if watch is None or limit > SNAPSHOT_LIMIT or not watch.book.synced:
            return None
        at = self._current(watch.channels[1])
        if at is None:
            return None
        version = watch.book.version
        hit = watch.books.get(limit)
        if (
            hit is not None
            and hit[0] == version
            and at - hit[1].as_of < timedelta(seconds=_REUSE_S)
        ):
            return hit[1]
        bids, asks = watch.book.top(limit)
        if not (
            complete_side(bids, limit, watch.bid_floor, lambda p, edge: p >= edge)
            and complete_side(asks, limit, watch.ask_ceiling, lambda p, edge: p <= edge)
        ):
            return None
        ms = int(at.timestamp() * 1000)
        fresh = Fresh(OrderBook(version, bids, asks, ms), at)
        watch.books[limit] = (version, fresh)
        return fresh

    def trades(self, symbol: str, limit: int) -> Fresh[list[PublicTrade]] | None:
        watch = self._watches.get(symbol)
        if watch is None or watch.pending is not None or limit > TRADE_RING:
            return None
        at = self._current(watch.channels[0])
        if at is None:
            return None
        hit = watch.trade_answers.get(limit)
        if (
            hit is not None
            and hit[0] == watch.trades_seq
            and at - hit[1].as_of < timedelta(seconds=_REUSE_S)
        ):
            return hit[1]
        ring = watch.trades
        newest = [ring[i] for i in range(max(0, len(ring) - limit), len(ring))]
        fresh = Fresh(newest, at)
        watch.trade_answers[limit] = (watch.trades_seq, fresh)
        return fresh

    def quote(self, symbol: str) -> Fresh[PriceQuote] | None:
        watch = self._watches.get(symbol)
        if watch is None or not watch.quoted:
            return None
        at = self._current(watch.channels[2])
        if at is None:
            return None
        return Fresh(PriceQuote(symbol, watch.bid, watch.ask, watch.last), at)

    def status(self) -> LiveMarketStatus:
        now = time.monotonic()
        connections = tuple(
            LiveConnection(
                connection=c.connection_id,
                connected=c.connection_id in self._up,
                subscriptions=len(c.channels),
                last_push_age_s=(
                    now - self._last_push[c.connection_id]
                    if c.connection_id in self._last_push
                    else None
                ),
            )
            for c in self._stream.connections
        )
        books = [w.book for w in self._watches.values()]
        return LiveMarketStatus(
            watched=tuple(sorted(self._watches)),
            connections=connections,
            books_synced=sum(book.synced for book in books),
            book_resyncs=self._resyncs_gone + sum(book.resyncs for book in books),
            book_snapshots=self._snapshots_gone + sum(book.snapshots for book in books),
            stale_after_s=self._stale_after_s,
        )

    def _current(self, channel: str) -> datetime | None:
        """When the last push reached the bot on `channel`'s connection, if it is up and that
        push is at most ``stale_after_s`` old; None otherwise."""
        conn = self._channel_conn.get(channel)
        if conn is None or conn not in self._up:
            return None
        last = self._last_push.get(conn)
        if last is None:
            return None
        age = time.monotonic() - last
        if age > self._stale_after_s:
            return None
        return datetime.now(UTC) - timedelta(seconds=age)

    # --- the stream ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            item = await self._stream.next()
            try:
                self._on_item(item)
            except Exception:  # one bad push must not end the live market
                log.exception("live market: push not applied: %r", item)

    async def price_updates(self) -> AsyncIterator[PriceUpdate]:
        queue: asyncio.Queue[PriceUpdate] = asyncio.Queue()  # unbounded: never drop a tick
        self._listeners.add(queue)
        try:
            if self._up and not self._in_gap:
                queue.put_nowait(StreamResumed(datetime.now(UTC)))
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)

    def _tell(self, update: PriceUpdate) -> None:
        for queue in self._listeners:
            queue.put_nowait(update)

    def _on_item(self, item: StreamItem) -> None:
        if self._listeners and isinstance(item, Trades | BookTickerUpdate):
            for update in price_updates_of(item):
                self._tell(update)
        match item:
            case DepthUpdate() | Trades() | BookTickerUpdate():
                channel = item.channel
                conn = self._conn_of(channel)
                if conn is not None:
                    self._last_push[conn] = time.monotonic()
                watch = self._watches.get(item.symbol)
                if watch is None:
                    return
                if (
                    watch.seed_wanted
                    and conn is not None
                    and conn == self._conn_of(watch.channels[0])
                ):
                    self._start_seed(watch)
                if isinstance(item, DepthUpdate):
                    watch.book.apply(item)
                elif isinstance(item, Trades):
                    self._on_trades(watch, public_trades(item))
                else:
                    quote = item.quote
                    watch.bid, watch.ask, watch.quoted = quote.bid_price, quote.ask_price, True
            case SubscriptionRefused():
                # e.g. a listing whose API has not opened yet ("Blocked"): MEXC keeps nothing,
                # so ask again later while the symbol is still watched
                self._spawn(self._resubscribe(item.channels))
            case StreamConnected():
                self._channel_conn.clear()  # rebuilt on demand: a connection may have been added
                first = not self._up
                self._up.add(item.connection)
                if item.connection in self._seen:
                    self._reconnected(item.connection)
                self._seen.add(item.connection)
                self._resumed(first)
            case StreamDisconnected():
                self._up.discard(item.connection)
                self._last_push.pop(item.connection, None)
                if not self._in_gap:
                    self._in_gap = True
                    self._tell(StreamGap(item.reason, datetime.now(UTC)))
                for watch in self._watches.values():
                    if self._conn_of(watch.channels[0]) == item.connection:
                        self._trades_incomplete(watch)
                    if self._conn_of(watch.channels[2]) == item.connection:
                        watch.quoted = False  # until the next best-price push

    def _resumed(self, first: bool) -> None:
        """The price iteration's markers describe the whole stream: a gap from the first lost
        connection until every connection is back; a connection opened for new symbols while
        the others are up is no resume (nothing was missed)."""
        every = all(c.connection_id in self._up for c in self._stream.connections)
        if (self._in_gap and every) or (first and not self._in_gap):
            self._in_gap = False
            self._tell(StreamResumed(datetime.now(UTC)))

    def _on_trades(self, watch: SymbolState, trades: list[PublicTrade]) -> None:
        if not trades:
            return
        watch.last = trades[-1].price  # pushed in order; trades of one ms share their time
        if watch.pending is not None:
            watch.pending.extend(trades)
        else:
            watch.trades.extend(trades)
            watch.trades_seq += 1

    def _reconnected(self, conn: int) -> None:
        for watch in self._watches.values():
            if self._conn_of(watch.channels[1]) == conn:
                watch.book.invalidate("its market stream connection reconnected")
            if self._conn_of(watch.channels[0]) == conn:
                self._trades_incomplete(watch)

    def _trades_incomplete(self, watch: SymbolState) -> None:
        if watch.seeding is not None:
            watch.seeding.cancel()
            watch.seeding = None
        watch.pending = []
        watch.seed_wanted = True

    def _conn_of(self, channel: str) -> int | None:
        conn = self._channel_conn.get(channel)
        if conn is None:
            for connection in self._stream.connections:
                for name in connection.channels:
                    self._channel_conn[name] = connection.connection_id
            conn = self._channel_conn.get(channel)
        return conn

    # --- REST: the book's snapshot and the trades' seed ----------------------------------------

    async def _snapshot(self, symbol: str) -> OrderBook:
        book = await self._client.depth(symbol, SNAPSHOT_LIMIT, priority=Priority.READ)
        watch = self._watches.get(symbol)
        if watch is not None:
            full = len(book.bids) >= SNAPSHOT_LIMIT, len(book.asks) >= SNAPSHOT_LIMIT
            watch.bid_floor = book.bids[-1].price if full[0] else None
            watch.ask_ceiling = book.asks[-1].price if full[1] else None
        return book

    def _start_seed(self, watch: SymbolState) -> None:
        watch.seed_wanted = False
        task = asyncio.get_running_loop().create_task(
            self._seed(watch), name=f"trades-seed-{watch.symbol}"
        )
        watch.seeding = task

    async def _seed(self, watch: SymbolState) -> None:
        while True:
            try:
                seed = await self._client.recent_trades(
                    watch.symbol, TRADE_RING, priority=Priority.READ
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retried while watched; reads fall back to REST meanwhile
                log.warning("%s recent trades seed failed: %s", watch.symbol, exc)
                await asyncio.sleep(_RETRY_S)
        pushed = watch.pending or []
        watch.trades.clear()
        watch.trades.extend(merge_seed(seed, pushed))
        if watch.trades and watch.last is None:
            watch.last = watch.trades[-1].price
        watch.pending = None
        watch.trades_seq += 1
        watch.seeding = None

    async def _resubscribe(self, names: tuple[str, ...]) -> None:
        await asyncio.sleep(_RESUBSCRIBE_S)
        wanted = {c for watch in self._watches.values() for c in watch.channels}
        again = [name for name in names if name in wanted]
        if again:
            await self._stream.unsubscribe(*again)
            await self._stream.subscribe(*again)
            self._channel_conn.clear()

    async def _unsubscribe(self, names: tuple[str, ...]) -> None:
        await self._stream.unsubscribe(*names)
        # a connection left without channels was closed (without a StreamDisconnected): forget
        # it, as its number may be given to a new connection later
        open_ids = {c.connection_id for c in self._stream.connections}
        for conn in set(self._up) | set(self._last_push) | self._seen:
            if conn not in open_ids:
                self._up.discard(conn)
                self._last_push.pop(conn, None)
                self._seen.discard(conn)
        self._channel_conn.clear()

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("live market subscription change failed: %s", task.exception())

    async def close(self) -> None:
        tasks = [t for t in (self._consumer, *self._tasks) if t is not None]
        tasks += [w.seeding for w in self._watches.values() if w.seeding is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for watch in self._watches.values():
            await watch.book.close()
        await self._stream.close()
