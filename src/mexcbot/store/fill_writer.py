"""FillWriter: a pushed trade stored as its order's fill in ONE transaction on the event loop.

The account stream stores every pushed trade at once (`OrderSync.record_trades`): load the order,
insert the fill if its trade id is new, add its fee to the order, audit, commit; only then is the
fill published. Through a `UnitOfWork` on SQLite that is ~2.5-4 ms of aiosqlite thread hops (a
dozen of them: checkout, BEGIN, SELECT, INSERT, UPDATE, audit INSERT, COMMIT, close), on the
critical path of every fill a client sees (benchmarks/fill_to_client.py). Here the same
statements run in one ``BEGIN IMMEDIATE`` .. ``COMMIT`` on a stdlib `sqlite3` connection on the
loop (`LoopSqliteWriter`, WAL, synchronous=NORMAL like every other connection), with no await
inside the transaction: nothing else on the loop can interleave with it, and the commit has
happened when `add_fills` returns (durability as before: the fill is committed before it is
published).

The rows are the repositories' rows: the order is read with the table's own result processors and
built by `OrderRepository`'s mapping (`_order_from_row`); the fill and the order's changed columns
are written with SQL compiled once from `tables` and values encoded by the dialect's bind
processors (store/prepared.py), from the same column functions (`fill_columns`,
`exchange_columns`); the version check and increment follow `OrderRepository.flush`; the audit
row is `audit_values`' row. The fill's unique (symbol, trade id) makes replays harmless, as in
`FillRepository.add_if_new`.

The same transaction also merges a pushed order report (`merge`: `OrderSync.apply` from the account
stream and the placement's read-back): through a unit of work that report cost the loop ~0.4 ms
of CPU before its first await and ~1.4 ms more in the aiosqlite hops that followed, on the same
loop that carries the fill to the API's clients (benchmarks/fill_to_client.py, timestamps per
hop, box under load); here it is one transaction like a fill's, ~0.3 ms (p50, same runs).
benchmarks/report_merge.py (a FILLED report and its trade, SQLite file, 3 runs): 0.21-0.22 ms per
report with 0.17-0.18 ms of loop CPU, against 3.5-3.8 ms and 2.1-2.5 ms of loop CPU through a
unit of work.
fill_to_client before/after, paired runs on the 2 shared cores under load 2.6-5: end to end p50
16.1/12.4/8.7 -> 10.6/8.4/6.7 ms, bot adds p50 7.8/5.9/5.1 -> 4.5/4.0/2.6 ms.

When the loop cannot write (PostgreSQL, :memory:, or another connection of this process holding
SQLite's write lock: busy_timeout is 0, see loop_sqlite.py) `add_fills` and `merge` return None and
the caller uses its `UnitOfWork` path, which waits for the lock off the loop.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.domain.orders import Fill, Order
from mexcbot.store import tables
from mexcbot.store.audit import audit_values
from mexcbot.store.journal import ack_statement
from mexcbot.store.loop_sqlite import LoopSqliteWriter
from mexcbot.store.orders import (
    ConcurrentOrderUpdate,
    _order_from_row,
    exchange_columns,
    fill_columns,
)
from mexcbot.store.prepared import PreparedStatements
from mexcbot.store.uow import utc_now

#: (actor, action, detail) of the audit entry of a write that stored fills; its result is the
#: order's status.
AuditNote = tuple[str, str, str]
#: A change to the loaded order: True if it changed it, False if not, None to write nothing at all
#: (the caller found the change inapplicable and keeps its reason).
OrderChange = Callable[[Order], bool | None]


@dataclass(slots=True)
class FillsWritten:
    """What `add_fills` committed: ``order`` as stored now (None: no such order, nothing
    written), the fills that were new, and whether the order's own columns changed (fees)."""

    order: Order | None
    new_fills: list[Fill] = field(default_factory=list)
    order_changed: bool = False
    changed: bool = False
    """Whether the `OrderChange` of a `merge` changed the order (always False for `add_fills`)."""


class NotOnLoop(enum.Enum):
    """`FillWriter.load` could not read on the loop (no SQLite file)."""

    NOT_ON_LOOP = "not on loop"


NOT_ON_LOOP: Final = NotOnLoop.NOT_ON_LOOP


class FillWriter:
    """Stores fills of one order, and merges its reports, one transaction each on the loop (SQLite
    files); build one per engine (app.py) and `close()` it at exit."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._on_loop = LoopSqliteWriter(engine)
        dialect = engine.dialect
        self._enabled = dialect.name == "sqlite"
        if not self._enabled:
            return
        orders = tables.orders
        query = select(orders).where(orders.c.client_order_id == bindparam("client_order_id"))
        self._select = str(query.compile(dialect=dialect))
        self._columns = [column.key for column in orders.columns]
        self._decoders = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in orders.columns
        ]
        self._insert_fill = PreparedStatements(
            sqlite.insert(tables.fills).on_conflict_do_nothing(), dialect
        )
        self._update_order = PreparedStatements(ack_statement(), dialect)
        self._insert_audit = PreparedStatements(insert(tables.audit_log), dialect)

    @property
    def busy_fallbacks(self) -> int:
        """Writes that found SQLite locked by another connection (the caller used a UoW)."""
        return self._on_loop.busy_fallbacks

    def add_fills(
        self,
        client_order_id: str,
        fills_for: Callable[[Order], Sequence[Fill]],
        audit: Callable[[Order, list[Fill]], AuditNote | None],
    ) -> FillsWritten | None:
        """In one committed transaction: load the order, insert ``fills_for(order)`` that are new
        (each recorded on the order with `Order.record_fill`), write the order if that changed
        it (version checked and raised), and the ``audit`` entry. Nothing is written when no
        fill is new. None: not possible on the loop now; use a `UnitOfWork`."""
        return self._write(client_order_id, None, fills_for, audit)

    def merge(
        self,
        client_order_id: str,
        change: OrderChange,
        fills_for: Callable[[Order], Sequence[Fill]],
        audit: Callable[[Order, list[Fill]], AuditNote | None],
    ) -> FillsWritten | None:
        """`add_fills` after ``change(order)``, in the same transaction: the order is written when
        the change or a new fill changed it (``changed`` says which), nothing when neither did or
        the change returned None. None: not possible on the loop now; use a `UnitOfWork`."""
        return self._write(client_order_id, change, fills_for, audit)

    def _write(
        self,
        client_order_id: str,
        change: OrderChange | None,
        fills_for: Callable[[Order], Sequence[Fill]],
        audit: Callable[[Order, list[Fill]], AuditNote | None],
    ) -> FillsWritten | None:
        connection = self._on_loop.begin_immediate() if self._enabled else None
        if connection is None:
            return None
        try:
            written = self._add_fills(connection, client_order_id, change, fills_for, audit)
            if written.changed or written.new_fills:
                connection.commit()
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise
        if connection.in_transaction:  # nothing new: nothing to keep
            connection.rollback()
        return written

    def load(self, client_order_id: str) -> Order | NotOnLoop | None:
        """The stored order (None: no such order) read on the loop; `NOT_ON_LOOP` when the loop
        cannot read (no SQLite file): use a `UnitOfWork`. A WAL reader takes no lock, and no
        transaction of this connection is ever left open across an await. A cancel finds its
        order this way: through a unit of work the lookup was ~1 ms of aiosqlite hops of its
        8 ms p50 with 50 API readers (benchmarks/many_clients.py)."""
        connection = self._on_loop.connection() if self._enabled else None
        if connection is None:
            return NOT_ON_LOOP
        raw = connection.execute(self._select, (client_order_id,)).fetchone()
        return None if raw is None else _order_from_row(self._row(raw))

    def close(self) -> None:
        self._on_loop.close()

    def _row(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {
            name: value if decode is None else decode(value)
            for name, decode, value in zip(self._columns, self._decoders, raw, strict=True)
        }

    def _add_fills(
        self,
        connection: sqlite3.Connection,
        client_order_id: str,
        change: OrderChange | None,
        fills_for: Callable[[Order], Sequence[Fill]],
        audit: Callable[[Order, list[Fill]], AuditNote | None],
    ) -> FillsWritten:
        raw = connection.execute(self._select, (client_order_id,)).fetchone()
        if raw is None:
            return FillsWritten(None)
        row = self._row(raw)
        order = _order_from_row(row)
        before = exchange_columns(order)
        written = FillsWritten(order)
        if change is not None:
            changed = change(order)
            if changed is None:
                return written
            written.changed = changed
        for fill in fills_for(order):
            values = fill_columns(fill)
            prepared = self._insert_fill(values)
            if connection.execute(prepared.sql, prepared.parameters(values)).rowcount == 1:
                order.record_fill(fill)
                written.new_fills.append(fill)
        if not written.changed and not written.new_fills:
            return written
        now = self._clock()
        columns = exchange_columns(order)
        if columns != before:
            version = int(row["version"])
            values = {
                **columns,
                "version": version + 1,
                "updated_at": now,
                "match_client_order_id": client_order_id,
                "match_version": version,
            }
            prepared = self._update_order(values)
            if connection.execute(prepared.sql, prepared.parameters(values)).rowcount != 1:
                raise ConcurrentOrderUpdate(client_order_id)  # pragma: no cover - locked
            written.order_changed = True
        note = audit(order, written.new_fills)
        if note is not None:
            actor, action, detail = note
            entry: dict[str, Any] = {
                "time": now,
                **audit_values(actor, action, order.status.value, client_order_id, detail),
            }
            prepared = self._insert_audit(entry)
            connection.execute(prepared.sql, prepared.parameters(entry))
        return written
