"""WalCheckpointer: SQLite's WAL checkpoints in a thread of their own, not in a commit on the loop.

In WAL mode every commit appends its pages to the -wal file, and the commit that takes the WAL
past ``wal_autocheckpoint`` pages (1000 by default) copies them all back into the database file
and syncs it before it returns. The order journal, the audit writer and the fill writer commit on
the event loop (store/loop_sqlite.py), so that commit stopped the loop: measured with 5,000
intents and acks back to back, 40 commits of 10,000 took over 1 ms (4 ms each, 159 ms in all,
against ~240 ms for all the writes themselves), one in every ~125 orders, which is where the
orders' p99 of benchmarks/place_order.py and benchmarks/many_clients.py sat.

So this task runs a PASSIVE checkpoint when one is due (`CHECKPOINT_AFTER_WRITES` transactions on
the loop since the last, or `CHECKPOINT_AT_LEAST_EVERY_S`; it looks every `CHECK_INTERVAL_S`) and
something was committed since the last one, on its own connection in its own thread (the sqlite3
module lets go of the GIL while SQLite works), and the loop's commits find the WAL short of SQLite's
threshold. PASSIVE never waits for and never blocks a reader or a writer: a commit on the loop goes
on appending while it copies (an earlier attempt with RESTART checkpoints, which block writers, sent
0.5 % of the writes down the busy fallback); once a checkpoint has copied everything, the WAL starts
from its beginning again (below). At the rates MEXC allows (50 orders a second) every checkpoint
catches up. A burst far beyond them (benchmarks/place_order.py places ~1,000 a second, rate limits
off) outruns it, and the loop's commits checkpoint at SQLite's 1000 pages as before: raising that
threshold to 4000 pages measured worse (a WAL that long made each write ~5 us slower between network
waits, place_order p50 ratio 1.59-1.62 against 1.49-1.57).

And the WAL starts again from its beginning in this thread too. The first frame a connection
writes after a checkpoint copied everything restarts the WAL, and with synchronous=NORMAL SQLite
syncs the WAL's new header right then, inside that commit (so that no frame of the new
generation can reach the disk before it): left to the loop's next commit, that was an
``fdatasync`` on the event loop after nearly every checkpoint. Measured with strace on the bot
of benchmarks/many_clients.py (50 readers, one trader, ext4 on the test box's virtual disk): 360
of them on the loop in 25 s, 0.5 ms typically and 10-45 ms when the disk was busy, 285 ms of a
frozen loop in all; the slowest placements (95-140 ms) were those. So after a checkpoint that
copied everything this connection commits a one-page write that changes nothing
(`_restart_wal`): the restart and its sync are the thread's, with the GIL let go, and the loop's
commits only append. While that sync runs this connection holds the write lock, so a commit on
the loop that comes at that moment takes the busy fallback (store/loop_sqlite.py) and waits off
the loop instead of freezing it. Same benchmark, 40 s: the loop's SQLite calls over 1 ms went
from 56 (562 ms in all) to 4 (6 ms), its placement steps over 2 ms from 65-152 to 5. Each
checkpoint restarts the WAL, so they are paced by the writes instead of made at every look with
something new: looking every 50 ms, ~15 restarts a second sent 138 of ~7,000 writes down the
busy fallback in 70 s.

Nothing about durability changes: the same pages are copied and synced by the same SQLite, only in
another thread, and a commit is as durable as before the moment it returns (synchronous=NORMAL
in WAL mode: a crash of the process loses nothing; a power cut may lose the last commits, as
before).

Built by app.py for a SQLite database file (nothing for PostgreSQL or :memory:).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.store.database import apply_sqlite_pragmas
from mexcbot.store.loop_sqlite import LoopSqliteWriter, is_busy, sqlite_file

#: Seconds between two looks at the WAL (a checkpoint only when something was committed; a look
#: without one is a ``PRAGMA data_version`` in the thread): often enough that the WAL stays short.
CHECK_INTERVAL_S = 0.05
#: A checkpoint is due after this many write transactions on the loop (~4-5 WAL pages each: well
#: short of SQLite's own 1000 pages)...
CHECKPOINT_AFTER_WRITES = 100
#: ...or this long after the last one, when anything was committed (by any connection).
CHECKPOINT_AT_LEAST_EVERY_S = 1.0
#: Passes of one look while commits keep appending: the WAL starts again from its beginning only
#: after a checkpoint that copied all of it, and each pass copies what came during the last.
CATCH_UP_PASSES = 5
#: How long a checkpoint waits for a lock: never (PASSIVE takes none a writer needs).
_BUSY_TIMEOUT_MS = 0


class WalCheckpointer:
    """`run()` until cancelled, then `close()`; `checkpoint_now()` is one look (in any thread,
    one at a time). `checkpoints`, `pages_copied` and `restarts` count what it did."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval_s: float = CHECK_INTERVAL_S,
        after_writes: int = CHECKPOINT_AFTER_WRITES,
        at_least_every_s: float = CHECKPOINT_AT_LEAST_EVERY_S,
    ) -> None:
        self._path = sqlite_file(engine)
        self._interval = interval_s
        self._after_writes = after_writes
        self._at_least_every = at_least_every_s
        self._connection: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mexcbot-wal")
        self.checkpoints = 0
        self.pages_copied = 0
        self.restarts = 0

    @property
    def enabled(self) -> bool:
        """There is a database file to checkpoint."""
        return self._path is not None

    async def run(self) -> None:
        if self._path is None:
            return
        loop = asyncio.get_running_loop()
        writes, since = LoopSqliteWriter.transactions, loop.time()
        while True:
            await asyncio.sleep(self._interval)
            if (
                LoopSqliteWriter.transactions - writes < self._after_writes
                and loop.time() - since < self._at_least_every
            ):
                continue  # not due: each checkpoint restarts the WAL (see the module docstring)
            writes, since = LoopSqliteWriter.transactions, loop.time()
            await loop.run_in_executor(self._executor, self.checkpoint_now)

    def checkpoint_now(self) -> int:
        """Copy what the WAL holds back into the database file if anything was committed since
        the last look; the pages copied (0 when there was nothing new)."""
        connection = self._connect()
        if connection is None:
            return 0
        # fetchall: a statement left unfinished would hold a read snapshot of this connection,
        # which no checkpoint may copy past
        ((data_version,),) = connection.execute("PRAGMA data_version").fetchall()
        if data_version == self._data_version:
            return 0  # no other connection committed since the last look
        self._data_version = data_version
        copied = 0
        for _ in range(CATCH_UP_PASSES):
            ((_busy, in_wal, done),) = connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchall()
            copied = max(copied, done)
            if done >= in_wal:  # all of it: the WAL may start from its beginning again
                if in_wal > 0:
                    self._restart_wal(connection)
                break
        if copied > 0:
            self.checkpoints += 1
            self.pages_copied += copied
        return int(copied)

    def _restart_wal(self, connection: sqlite3.Connection) -> None:
        """Start the WAL from its beginning again with a commit of this thread's: rewriting the
        database header's user version with its own value is a one-page write that changes
        nothing, and the first frame written after a full checkpoint is the one that restarts
        the WAL and syncs its new header (see the module docstring)."""
        try:
            ((version,),) = connection.execute("PRAGMA user_version").fetchall()
            connection.execute(f"PRAGMA user_version = {int(version)}")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            return  # a writer holds the lock: its commit restarts the WAL this time
        self.restarts += 1

    async def close(self) -> None:
        """Close the connection after any checkpoint still running (its thread finishes it)."""
        if self._connection is None:
            self._executor.shutdown(wait=False)  # never used (no file, or nothing ran yet)
            return
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):  # the executor was shut down already
            await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=False)

    def _connect(self) -> sqlite3.Connection | None:
        if self._connection is None and self._path is not None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                apply_sqlite_pragmas(connection, busy_timeout_ms=_BUSY_TIMEOUT_MS)
            except sqlite3.OperationalError:
                connection.close()
                return None  # locked while checking the WAL mode: the next look tries again
            self._connection = connection
        return self._connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
