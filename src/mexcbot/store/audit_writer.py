"""AuditWriter: the API's audit entry of a request, one single-statement transaction each.

Every mutating API request is audited. Through a `UnitOfWork` that entry cost ~2 ms of the bot's
event loop per request on SQLite (connection checkout, BEGIN IMMEDIATE, the INSERT and the
COMMIT, each a hop to aiosqlite's thread, plus SQLAlchemy's statement building), more than the
rest of the request's API handling. The writer does the same INSERT as `AuditLog.append` with
SQL compiled once from `tables.audit_log` and values encoded by the dialect's own bind processors
(store/prepared.py), so the row is the row `AuditLog` writes; `AuditLog.recent` reads both.

SQLite (a database file): a dedicated stdlib `sqlite3` connection in autocommit mode, used on
the event loop (~0.05-0.1 ms a write), with the pragmas of every other connection. As for the
order journal (store/journal.py, which explains why), its busy timeout is 0: when another
connection holds the write lock the entry goes through a pooled engine connection instead, which
waits for the lock in aiosqlite's thread without blocking the loop (`busy_fallbacks` counts them).
Nothing is queued or batched: when `append` returns, the entry is committed, so a crash loses no
entry that was reported written. PostgreSQL and :memory: SQLite write through the engine (one
transaction, a cached compiled statement).

Audit entries that belong to a change in the same transaction (token creation, revocation) keep
using `uow.audit` in that transaction; this writer is for the request-level entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.store import tables
from mexcbot.store.database import apply_sqlite_pragmas
from mexcbot.store.prepared import PreparedStatements
from mexcbot.store.uow import utc_now

#: The writer's SQLite connection never waits for a lock on the event loop (see above).
AUDIT_BUSY_TIMEOUT_MS = 0


class AuditWriter:
    """Appends audit entries, each committed on its own; build one per engine (app.py) and
    `close()` it at exit. Connections open on first use."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._statement = insert(tables.audit_log)
        self._prepared = PreparedStatements(self._statement, engine.dialect)
        self._sqlite_path = _sqlite_file(engine)
        self._sqlite: sqlite3.Connection | None = None
        #: Entries that found SQLite locked by another connection and went through the engine.
        self.busy_fallbacks = 0

    async def append(
        self,
        *,
        actor: str,
        action: str,
        result: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record and commit one entry; same fields and meaning as `AuditLog.append`."""
        values: dict[str, Any] = {
            "time": self._clock(),
            "actor": actor,
            "action": action,
            "target": target,
            "result": result,
            "detail": detail,
        }
        connection = self._sqlite_connection()
        if connection is not None:
            prepared = self._prepared(values)
            try:
                connection.execute(prepared.sql, prepared.parameters(values))
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                self.busy_fallbacks += 1
        async with self._engine.begin() as engine_connection:
            await engine_connection.execute(self._statement, values)

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    def _sqlite_connection(self) -> sqlite3.Connection | None:
        if self._sqlite is None and self._sqlite_path is not None:
            connection = sqlite3.connect(self._sqlite_path, isolation_level=None)
            try:
                apply_sqlite_pragmas(connection, busy_timeout_ms=AUDIT_BUSY_TIMEOUT_MS)
            except sqlite3.OperationalError as exc:
                connection.close()
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                return None  # locked while checking the WAL mode: the engine writes this time
            self._sqlite = connection
        return self._sqlite


def _sqlite_file(engine: AsyncEngine) -> str | None:
    """The SQLite database file the engine opens; None for PostgreSQL and :memory:."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    args, _options = engine.dialect.create_connect_args(engine.url)
    return str(args[0])
