"""A SQLite connection used directly on the event loop, for single-statement hot-path writes.

Through aiosqlite every statement is several hops to a driver thread (~0.2 ms each on the 2-core
test box); a stdlib `sqlite3` write in autocommit mode on the loop costs ~0.05-0.1 ms. The risk
of the loop is SQLite's busy handler: if another connection of this process (aiosqlite, in its
thread) holds the write lock across an await, waiting for it on the loop would freeze the holder
too. So the busy timeout is 0: a locked database answers at once, `execute` returns None, and
the caller runs the same statement through its pooled engine connection, which waits off the
loop. Used by the order journal (store/journal.py), the audit writer (store/audit_writer.py) and
the fill writer (store/fill_writer.py). The WAL's checkpoints are a thread's (store/checkpoint.py)
long before a commit here reaches SQLite's own threshold (1000 pages), which stopped the loop for
~4 ms every ~125 orders.
"""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.store.database import apply_sqlite_pragmas

#: Never wait for a lock on the event loop (see the module docstring).
BUSY_TIMEOUT_MS = 0


class LoopSqliteWriter:
    """Autocommit single-statement writes to the engine's SQLite file, on the event loop.

    Opens its connection on first use; `execute` returns the row count, or None when the
    database was locked (or there is no file to share, e.g. PostgreSQL or :memory:): the caller
    then writes through the engine. `busy_fallbacks` counts the locked cases.
    """

    transactions: ClassVar[int] = 0
    """Write transactions started on the loop by every writer of this process: what the WAL's
    checkpointer paces its checkpoints by (store/checkpoint.py)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._path = sqlite_file(engine)
        self._connection: sqlite3.Connection | None = None
        self.busy_fallbacks = 0

    def execute(self, sql: str, parameters: tuple[Any, ...]) -> int | None:
        connection = self._connect()
        if connection is None:
            return None
        try:
            written: int = connection.execute(sql, parameters).rowcount
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self.busy_fallbacks += 1
            return None
        LoopSqliteWriter.transactions += 1
        return written

    def begin_immediate(self) -> sqlite3.Connection | None:
        """Start a write transaction (the write lock is taken now); the connection, to run its
        statements and then ``commit()`` or ``rollback()`` without awaiting in between. None
        when the database is locked (or there is no file), like `execute`."""
        connection = self._connect()
        if connection is None:
            return None
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self.busy_fallbacks += 1
            return None
        LoopSqliteWriter.transactions += 1
        return connection

    def connection(self) -> sqlite3.Connection | None:
        """The connection for a read on the loop (autocommit: a WAL reader takes no lock);
        None when there is no file to share."""
        return self._connect()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._connection is None and self._path is not None:
            connection = sqlite3.connect(self._path, isolation_level=None)
            try:
                apply_sqlite_pragmas(connection, busy_timeout_ms=BUSY_TIMEOUT_MS)
            except sqlite3.OperationalError as exc:
                connection.close()
                if not is_busy(exc):
                    raise
                self.busy_fallbacks += 1
                return None  # locked while checking the WAL mode: the engine writes this time
            self._connection = connection
        return self._connection


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The SQLite database file the engine opens; None for other databases and :memory:."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    args, _options = engine.dialect.create_connect_args(engine.url)
    return str(args[0])


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """The error says the database was locked (SQLITE_BUSY)."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
