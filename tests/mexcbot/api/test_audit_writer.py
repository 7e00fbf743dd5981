"""AuditWriter (the API's per-request audit entry) on SQLite and PostgreSQL: the row AuditLog
writes, committed when append returns, and a locked SQLite that never blocks the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.store import OrderJournal, UnitOfWork
from mexcbot.store.audit_writer import AuditWriter
from mexcbot.store.loop_sqlite import LoopSqliteWriter
from tests.fixtures.orders import make_order
from tests.fixtures.sqlite_busy import holding_the_write_lock, loop_ticks

AT = datetime(2025, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[AuditWriter]:
    audit = AuditWriter(engine, clock=lambda: AT)
    yield audit
    audit.close()


async def raw_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """The rows as the database holds them (no type processing), without their ids."""
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql("SELECT * FROM audit_log ORDER BY id")
        return [{k: v for k, v in row.items() if k != "id"} for row in result.mappings()]


async def test_entry_is_the_row_audit_log_writes(engine: AsyncEngine, writer: AuditWriter) -> None:
    fields: dict[str, Any] = {
        "actor": "ops",
        "action": "place_order",
        "target": "mxb-0123",
        "result": "failed:409",
        "detail": "ünïcode",
    }
    async with UnitOfWork(engine, clock=lambda: AT) as uow:
        await uow.audit.append(**fields)
        await uow.commit()
    await writer.append(**fields)  # committed on return: another connection sees it at once
    await writer.append(actor="ops", action="cancel_order", result="ok")
    rows = await raw_rows(engine)
    assert rows[0] == rows[1]
    async with UnitOfWork(engine) as uow:
        newest = (await uow.audit.recent(limit=1))[0]
    assert (newest.time, newest.actor, newest.action) == (AT, "ops", "cancel_order")
    assert (newest.target, newest.result, newest.detail) == (None, "ok", None)


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_sqlite_busy_falls_back_without_blocking_the_loop(
    engine: AsyncEngine, writer: AuditWriter
) -> None:
    await writer.append(actor="warm", action="open", result="ok")  # its connection is open
    async with loop_ticks() as ticks:
        async with holding_the_write_lock(engine) as holder:
            writing = asyncio.create_task(writer.append(actor="ops", action="wait", result="ok"))
            await asyncio.sleep(0.2)
            assert not writing.done()  # waiting for the lock ...
            assert writer.busy_fallbacks == 1
            assert ticks.count >= 10  # ... off the event loop
            await holder.commit()
        await asyncio.wait_for(writing, 5)
    assert [row["action"] for row in await raw_rows(engine)] == ["open", "hold", "wait"]
    await writer.append(actor="ops", action="again", result="ok")  # the fast path again
    assert writer.busy_fallbacks == 1


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_shares_the_journals_connection(engine: AsyncEngine) -> None:
    """As app.py wires them: the journal and the writer on one on-loop connection, each write
    committed at once (another connection reads it); closing a writer that was given the
    connection does not stop the other one."""
    shared = LoopSqliteWriter(engine)
    journal = OrderJournal(engine, on_loop=shared)
    audit = AuditWriter(engine, clock=lambda: AT, on_loop=shared)
    try:
        order = make_order(client_order_id="mxbshared1")
        assert await journal.record_intent(order) == 1
        await audit.append(actor="ops", action="place_order", target="mxbshared1", result="ok")
        audit.close()
        await journal.close()
        order.acknowledge("42", AT)
        assert await journal.record_ack(order, 1) == 2
        await audit.append(actor="ops", action="cancel_order", result="ok")
        assert [row["action"] for row in await raw_rows(engine)] == ["place_order", "cancel_order"]
        async with UnitOfWork(engine) as uow:
            stored = await uow.orders.get_by_client_id("mxbshared1")
        assert stored is not None
        assert stored.exchange_order_id == "42"
        assert shared.busy_fallbacks == 0  # every write took the on-loop path
    finally:
        shared.close()
