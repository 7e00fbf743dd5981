"""OrderJournal: the two writes on the order placement hot path, one statement each.

`ExecutionService.place` records an order's intent (the PENDING_NEW row, committed before a byte
goes to the exchange) and then its acknowledgement. Through a `UnitOfWork` the two cost ~8 ms
on SQLite (aiosqlite hops to its thread 3-4 times per statement, ~0.2 ms each on the 2-core box;
SQLAlchemy builds and compiles every statement; its INSERT .. ON CONFLICT has no cache key at
all), several times the exchange round trip itself. The journal does the same writes with SQL
compiled once per dialect from `tables.orders` (store/prepared.py), with the column values of
`OrderRepository`'s own mapping functions encoded by the dialect's own bind processors, so the
row it writes is the row the repository writes (a test compares them raw, and reads them back
through `OrderRepository`). Each write is a single-statement transaction: no connection or lock
is held while an order is in flight. An acknowledgement that carries the API's audit entry
(`PlacementAudit`) is its UPDATE and the entry's INSERT in one transaction instead.

SQLite: `LoopSqliteWriter` (store/loop_sqlite.py), a stdlib `sqlite3` connection in autocommit
mode used directly on the event loop, with the pragmas of every other connection (WAL,
synchronous=NORMAL, foreign keys). Loop
time per write, measured (benchmarks/place_order.py box): intent ~0.07 ms and ack ~0.05 ms
back to back, ~0.15 ms and ~0.10 ms between network waits (cold caches; sqlite3 itself is
~0.08 and ~0.07 of it), against ~0.2 ms for ONE aiosqlite thread hop. The ack writes only
what the acknowledgement changed (see `record_ack`).

The danger of SQLite on the loop is its busy handler: if another connection of this process
(aiosqlite, in a thread) holds the write lock across an await, a waiting statement would block the
whole loop, and with it the coroutine that would release the lock. So the journal's connection has
busy_timeout=0: SQLITE_BUSY comes back at once and that one write falls back to the same statement
on a pooled engine connection, which waits for the lock in aiosqlite's thread (the engine's 10 s
busy timeout) without blocking the loop (`busy_fallbacks` counts them; tested by holding a write
transaction on another connection). The WAL's checkpoints run in a thread of their own
(store/checkpoint.py) before these commits reach SQLite's threshold: in a commit one stopped the
loop ~4 ms every ~125 orders.

PostgreSQL: a small asyncpg pool of the journal's own (no reset query on release; asyncpg's
prepared-statement cache), one round trip per write, no SQLAlchemy in between: ~0.75 ms per
write here, of which ~0.3 ms is the durable commit (WAL flush; 0.45 ms with
synchronous_commit=off, which the journal does NOT use) and ~0.22 ms a bare round trip.
SQLite databases without a file (:memory:) always use the pooled-engine path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from mexcbot.domain.orders import Order
from mexcbot.store import tables
from mexcbot.store.audit import PlacementAudit, audit_values
from mexcbot.store.loop_sqlite import LoopSqliteWriter
from mexcbot.store.orders import (
    ConcurrentOrderUpdate,
    DuplicateClientOrderId,
    exchange_columns,
    request_columns,
)
from mexcbot.store.prepared import PreparedStatements, PreparedWrite
from mexcbot.store.uow import utc_now

#: Connections of the journal's PostgreSQL pool (each write holds one for one round trip).
POSTGRES_POOL_SIZE = 4


def intent_statement(dialect: Dialect) -> Executable:
    """INSERT of a new order that does nothing if its client order id is already stored."""
    orders = tables.orders
    if dialect.name == "postgresql":
        return postgresql.insert(orders).on_conflict_do_nothing().returning(orders.c.id)
    # no RETURNING on SQLite: the row count says it, and the autocommit ends with the one step
    return sqlite.insert(orders).on_conflict_do_nothing()


def ack_statement() -> Executable:
    """UPDATE of an order's row if it is still at the version the writer last saw."""
    orders = tables.orders
    return (
        update(orders)
        .where(orders.c.client_order_id == bindparam("match_client_order_id"))
        .where(orders.c.version == bindparam("match_version"))
    )


class OrderJournal:
    """Records an order's intent and its acknowledgement; build one per engine (app.py).

    Versions follow `OrderRepository`: a recorded intent is version 1, every write adds one, and
    a write that finds another version raises `ConcurrentOrderUpdate` (someone merged an
    exchange report first: reload and merge). Connections open on first use; `close()` releases
    them.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], datetime] = utc_now,
        *,
        on_loop: LoopSqliteWriter | None = None,
    ) -> None:
        """`on_loop`: a SQLite connection shared with the audit writer (app.py), which its
        creator closes; by default the journal opens and closes its own."""
        dialect = engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - create_engine
            raise RuntimeError(f"unsupported dialect {dialect.name}")
        self._engine = engine
        self._clock = clock
        self._postgres = dialect.name == "postgresql"
        self._intent = PreparedStatements(intent_statement(dialect), dialect)
        self._ack = PreparedStatements(ack_statement(), dialect)
        self._audit = PreparedStatements(insert(tables.audit_log), dialect)
        self._owns_on_loop = on_loop is None
        self._on_loop = LoopSqliteWriter(engine) if on_loop is None else on_loop
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def record_intent(self, order: Order) -> int:
        """Insert the order (as it is: PENDING_NEW) and commit; its version (1).

        Raises `DuplicateClientOrderId` if its client order id is already stored.
        """
        values = {
            **request_columns(order),
            **exchange_columns(order),
            "version": 1,
            "updated_at": self._clock(),
        }
        if await self._write(self._intent(values), values, returns_id=self._postgres) != 1:
            raise DuplicateClientOrderId(order.client_order_id)
        return 1

    async def record_ack(
        self, order: Order, expected_version: int, audit: PlacementAudit | None = None
    ) -> int:
        """Write what `order.acknowledge` changed (status, exchange order id, exchange creation
        time) if the stored row is still at `expected_version`, and commit; the new version.
        With `audit`, its entry is inserted in the same transaction (only if the row was
        written) and `audit.recorded` set.

        Only those columns: the version check proves the row is the one recorded at
        `expected_version`, and an order acknowledged straight after its intent differs from
        that row in nothing else (a `ValueError` refuses one with executions, fees or a failure
        recorded: write such an order through a `UnitOfWork`). Encoding and binding the seven
        other exchange columns again cost ~15 us per order. Raises `ConcurrentOrderUpdate` when
        the row moved on (or is gone).
        """
        if (
            order.executed_qty
            or order.cumulative_quote_qty
            or order.fees
            or order.exchange_updated_at is not None
            or order.reject_code is not None
            or order.reject_message is not None
            or order.unknown_reason is not None
        ):
            raise ValueError(
                f"order {order.client_order_id} changed beyond its acknowledgement: "
                "record_ack writes only the acknowledgement; use a UnitOfWork"
            )
        values = {
            "exchange_order_id": order.exchange_order_id,
            "status": order.status.value,
            "exchange_created_at": order.exchange_created_at,
            "version": expected_version + 1,
            "updated_at": self._clock(),
            "match_client_order_id": order.client_order_id,
            "match_version": expected_version,
        }
        if audit is None:
            written = await self._write(self._ack(values), values)
        else:
            entry = {
                "time": values["updated_at"],
                **audit_values(audit.actor, audit.action, "ok", order.client_order_id, None),
            }
            written = await self._write_with_entry(self._ack(values), values, entry)
        if written != 1:
            raise ConcurrentOrderUpdate(order.client_order_id)
        if audit is not None:
            audit.recorded = True
        return expected_version + 1

    @property
    def busy_fallbacks(self) -> int:
        """Writes that found SQLite locked by another connection and went through the engine."""
        return self._on_loop.busy_fallbacks

    async def close(self) -> None:
        if self._owns_on_loop:
            self._on_loop.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _write(
        self, statement: PreparedWrite, values: Mapping[str, Any], *, returns_id: bool = False
    ) -> int:
        """Run one statement as its own transaction; the number of rows it wrote."""
        parameters = statement.parameters(values)
        if self._postgres:
            return await self._write_postgres(statement.sql, parameters, returns_id=returns_id)
        written = self._on_loop.execute(statement.sql, parameters)
        if written is not None:
            return written
        return await self._write_through_engine(statement.sql, parameters)

    async def _write_with_entry(
        self, statement: PreparedWrite, values: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> int:
        """`statement` and, if it wrote one row, the audit `entry`, in one transaction; the
        number of rows `statement` wrote."""
        first = (statement.sql, statement.parameters(values))
        audit = self._audit(entry)
        second = (audit.sql, audit.parameters(entry))
        if self._postgres:
            pool = self._pool or await self._open_pool()
            async with pool.acquire() as connection, connection.transaction():
                status: str = await connection.execute(first[0], *first[1])
                written = int(status.rsplit(" ", 1)[-1])
                if written == 1:
                    await connection.execute(second[0], *second[1])
            return written
        on_loop = self._on_loop.begin_immediate()
        if on_loop is None:  # locked by another connection (or no file): off the loop
            async with self._engine.begin() as connection:
                result = await connection.exec_driver_sql(*first)
                written = int(result.rowcount)
                if written == 1:
                    await connection.exec_driver_sql(*second)
            return written
        try:
            written = on_loop.execute(*first).rowcount
            if written == 1:
                on_loop.execute(*second)
            on_loop.commit()
        except BaseException:
            if on_loop.in_transaction:
                on_loop.rollback()
            raise
        return written

    async def _write_through_engine(self, sql: str, parameters: tuple[Any, ...]) -> int:
        """The same statement on a pooled engine connection: waits for a lock off the loop."""
        async with self._engine.begin() as connection:
            result = await connection.exec_driver_sql(sql, parameters)
            return int(result.rowcount)

    async def _write_postgres(
        self, sql: str, parameters: tuple[Any, ...], *, returns_id: bool
    ) -> int:
        pool = self._pool or await self._open_pool()
        async with pool.acquire() as connection:
            if returns_id:  # INSERT .. ON CONFLICT DO NOTHING RETURNING id
                return 0 if await connection.fetchval(sql, *parameters) is None else 1
            status: str = await connection.execute(sql, *parameters)
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1"

    async def _open_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                args, options = self._engine.dialect.create_connect_args(self._engine.url)
                self._pool = await asyncpg.create_pool(
                    *args, min_size=1, max_size=POSTGRES_POOL_SIZE, reset=_no_reset, **options
                )
            return self._pool


async def _no_reset(_connection: asyncpg.Connection) -> None:
    """Every journal write is its own transaction: nothing to reset when a connection returns."""
