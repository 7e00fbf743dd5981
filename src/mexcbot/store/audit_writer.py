"""AuditWriter: the API's audit entry of a request, one single-statement transaction each.

Every mutating API request is audited. Through a `UnitOfWork` that entry cost ~2 ms of the bot's
event loop per request on SQLite (connection checkout, BEGIN IMMEDIATE, the INSERT and the
COMMIT, each a hop to aiosqlite's thread, plus SQLAlchemy's statement building), more than the
rest of the request's API handling. The writer does the same INSERT as `AuditLog.append` with
SQL compiled once from `tables.audit_log` and values encoded by the dialect's own bind processors
(store/prepared.py), so the row is the row `AuditLog` writes; `AuditLog.recent` reads both.

SQLite (a database file): `LoopSqliteWriter` (store/loop_sqlite.py), an autocommit connection on
the event loop (~0.05-0.1 ms a write); when another connection holds the write lock the entry goes
through a pooled engine connection instead, which waits off the loop (`busy_fallbacks`).
app.py gives the writer the order journal's connection: SQLite drops a connection's page cache
whenever another connection wrote, so with two connections the intent, the ack and the audit entry
of every placement each re-read their pages first (benchmark of the three writes, 2x3000
interleaved: intent 110-118 -> 93-100 us, audit 38-40 -> 28-29 us, all three 198-212 -> 167-180
us).

Nothing is queued or batched: when `append` returns, the entry is committed, so a crash loses no
entry that was reported written. PostgreSQL and :memory: SQLite write through the engine (one
transaction, a cached compiled statement).

Audit entries that belong to a change in the same transaction (token creation, revocation) keep
using `uow.audit` in that transaction; this writer is for the request-level entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.store import tables
from mexcbot.store.audit import audit_values
from mexcbot.store.loop_sqlite import LoopSqliteWriter
from mexcbot.store.prepared import PreparedStatements
from mexcbot.store.uow import utc_now


class AuditWriter:
    """Appends audit entries, each committed on its own; build one per engine (app.py) and
    `close()` it at exit. Connections open on first use."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], datetime] = utc_now,
        *,
        on_loop: LoopSqliteWriter | None = None,
    ) -> None:
        """`on_loop`: a SQLite connection shared with the order journal (app.py, see the
        module docstring), which its creator closes; by default the writer has its own."""
        self._engine = engine
        self._clock = clock
        self._statement = insert(tables.audit_log)
        self._prepared = PreparedStatements(self._statement, engine.dialect)
        self._owns_on_loop = on_loop is None
        self._on_loop = LoopSqliteWriter(engine) if on_loop is None else on_loop

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
            **audit_values(actor, action, result, target, detail),
        }
        prepared = self._prepared(values)
        if self._on_loop.execute(prepared.sql, prepared.parameters(values)) is not None:
            return
        async with self._engine.begin() as engine_connection:
            await engine_connection.execute(self._statement, values)

    def close(self) -> None:
        if self._owns_on_loop:
            self._on_loop.close()

    @property
    def busy_fallbacks(self) -> int:
        """Entries that found SQLite locked by another connection and went through the engine."""
        return self._on_loop.busy_fallbacks
