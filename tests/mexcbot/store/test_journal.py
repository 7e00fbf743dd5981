"""OrderJournal on SQLite and PostgreSQL: the rows OrderRepository writes, versions, busy."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.domain.orders import Order, OrderOrigin, OrderSide, OrderStatus, OrderType
from mexcbot.store import (
    ConcurrentOrderUpdate,
    DuplicateClientOrderId,
    OrderJournal,
    UnitOfWork,
    UnitOfWorkOrderWriter,
)
from mexcbot.store.audit import PlacementAudit
from tests.fixtures.orders import T0, make_order
from tests.fixtures.sqlite_busy import holding_the_write_lock, loop_ticks

FIXED_NOW = datetime(2025, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture
async def journal(engine: AsyncEngine) -> AsyncIterator[OrderJournal]:
    writer = OrderJournal(engine, clock=fixed_clock)
    yield writer
    await writer.close()


async def stored(engine: AsyncEngine, client_order_id: str) -> Order | None:
    async with UnitOfWork(engine) as uow:
        return await uow.orders.get_by_client_id(client_order_id)


def fields_of(order: Order | None) -> dict[str, Any]:
    """Every field (Order compares by identity)."""
    assert order is not None
    return dataclasses.asdict(order)


async def raw_row(engine: AsyncEngine, client_order_id: str) -> dict[str, Any]:
    """The row as the database holds it (no type processing): what each writer encoded."""
    async with engine.connect() as connection:
        placeholder = "$1" if engine.dialect.name == "postgresql" else "?"
        result = await connection.exec_driver_sql(
            f"SELECT * FROM orders WHERE client_order_id = {placeholder}", (client_order_id,)
        )
        return dict(result.mappings().one())


def awkward_order() -> Order:
    """Values that expose encoding differences: 38 digits, trailing zeros, microseconds."""
    return make_order(
        quantity=Decimal("12345678901234567890.123456789012345678"),
        price=Decimal("0.000000000000000001"),
        created_at=T0 + timedelta(microseconds=7),
        origin=OrderOrigin.RULE,
        origin_ref="rule:7/listing:FOOUSDT",
    )


async def test_intent_is_the_row_the_repository_writes(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    by_journal, by_repository = awkward_order(), awkward_order()
    assert await journal.record_intent(by_journal) == 1
    async with UnitOfWork(engine, clock=fixed_clock) as uow:
        await uow.orders.add(by_repository)
        await uow.commit()

    assert fields_of(await stored(engine, by_journal.client_order_id)) == fields_of(by_journal)
    journal_row = await raw_row(engine, by_journal.client_order_id)
    repository_row = await raw_row(engine, by_repository.client_order_id)
    for row in (journal_row, repository_row):
        del row["id"], row["client_order_id"]
    assert journal_row == repository_row


async def test_ack_writes_a_new_version_the_repository_continues_from(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    order = make_order()
    version = await journal.record_intent(order)
    order.acknowledge("ex-1", T0 + timedelta(seconds=1))
    assert await journal.record_ack(order, version) == 2

    reloaded = await stored(engine, order.client_order_id)
    assert fields_of(reloaded) == fields_of(order)
    assert reloaded is not None
    assert reloaded.status is OrderStatus.NEW
    async with UnitOfWork(engine) as uow:  # the repository's versioned write accepts version 2
        loaded = await uow.orders.get_by_client_id(order.client_order_id, for_update=True)
        assert loaded is not None
        loaded.apply_exchange_update(OrderStatus.CANCELED, Decimal(0), Decimal(0), T0)
        await uow.commit()
    assert (await raw_row(engine, order.client_order_id))["version"] == 3


async def test_duplicate_client_order_id_is_refused_and_leaves_the_row(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    order = make_order()
    await journal.record_intent(order)
    order.acknowledge("ex-1", T0)
    await journal.record_ack(order, 1)
    again = make_order(client_order_id=order.client_order_id, side=OrderSide.SELL)

    with pytest.raises(DuplicateClientOrderId):
        await journal.record_intent(again)

    kept = await stored(engine, order.client_order_id)
    assert kept is not None
    assert kept.request.side is OrderSide.BUY
    assert kept.status is OrderStatus.NEW


async def test_ack_after_a_concurrent_change_raises_and_writes_nothing(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    order = make_order()
    await journal.record_intent(order)
    async with UnitOfWork(engine) as uow:  # an exchange report merged first: version 2
        loaded = await uow.orders.get_by_client_id(order.client_order_id, for_update=True)
        assert loaded is not None
        loaded.acknowledge("ex-1", T0)
        loaded.apply_exchange_update(OrderStatus.FILLED, Decimal("0.00012345"), Decimal("7.91"), T0)
        await uow.commit()

    order.acknowledge("ex-1", T0)
    with pytest.raises(ConcurrentOrderUpdate):
        await journal.record_ack(order, 1)
    kept = await stored(engine, order.client_order_id)
    assert kept is not None
    assert kept.status is OrderStatus.FILLED

    missing = make_order()
    missing.acknowledge("ex-2", T0)
    with pytest.raises(ConcurrentOrderUpdate):
        await journal.record_ack(missing, 1)


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_sqlite_busy_falls_back_without_blocking_the_loop(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    warm = make_order()
    await journal.record_intent(warm)  # the journal's own connection is open
    order = make_order(type=OrderType.MARKET, quantity=Decimal("0.001"), price=None)
    async with loop_ticks() as ticks:
        async with holding_the_write_lock(engine) as holder:
            writing = asyncio.create_task(journal.record_intent(order))
            await asyncio.sleep(0.2)
            assert not writing.done()  # waiting for the lock ...
            assert journal.busy_fallbacks == 1
            assert ticks.count >= 10  # ... off the event loop
            await holder.commit()
        assert await asyncio.wait_for(writing, 5) == 1
    assert fields_of(await stored(engine, order.client_order_id)) == fields_of(order)

    order.acknowledge("ex-1", T0)  # and the ack takes the fast path again
    assert await journal.record_ack(order, 1) == 2
    assert journal.busy_fallbacks == 1


async def test_ack_refuses_an_order_changed_beyond_its_acknowledgement(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    """record_ack writes only the acknowledged columns: anything else must not be dropped."""
    order = make_order()
    await journal.record_intent(order)
    order.acknowledge("ex-1", T0)
    order.apply_exchange_update(OrderStatus.PARTIALLY_FILLED, Decimal("0.0001"), Decimal("3"), T0)

    with pytest.raises(ValueError, match="beyond its acknowledgement"):
        await journal.record_ack(order, 1)
    kept = await stored(engine, order.client_order_id)
    assert kept is not None
    assert kept.status is OrderStatus.PENDING_NEW


async def audit_entries(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with UnitOfWork(engine) as uow:
        entries = await uow.audit.recent(limit=10)
    return [(e.time, e.actor, e.action, e.target, e.result, e.detail) for e in entries]


async def acknowledged_intent(
    engine: AsyncEngine, journal: OrderJournal, writer: str
) -> tuple[OrderJournal | UnitOfWorkOrderWriter, Order, PlacementAudit]:
    """The writer, an order whose intent it recorded (acknowledged since), the request's audit."""
    order_writer = journal if writer == "journal" else UnitOfWorkOrderWriter(_factory(engine))
    order = make_order()
    await order_writer.record_intent(order)
    order.acknowledge("ex-1", T0)
    return order_writer, order, PlacementAudit(actor="trader", action="place_order")


@pytest.mark.parametrize("writer", ["journal", "units of work"])
async def test_ack_commits_the_placing_requests_audit_entry_with_it(
    engine: AsyncEngine, journal: OrderJournal, writer: str
) -> None:
    order_writer, order, audit = await acknowledged_intent(engine, journal, writer)
    assert await order_writer.record_ack(order, 1, audit) == 2
    assert audit.recorded
    [(at, *entry)] = await audit_entries(engine)
    assert entry == ["trader", "place_order", order.client_order_id, "ok", None]
    if writer == "journal":
        assert at == FIXED_NOW  # the ack's own time


@pytest.mark.parametrize("writer", ["journal", "units of work"])
async def test_an_ack_that_finds_the_row_changed_records_no_audit_entry(
    engine: AsyncEngine, journal: OrderJournal, writer: str
) -> None:
    order_writer, order, audit = await acknowledged_intent(engine, journal, writer)
    await order_writer.record_ack(order, 1)  # version 2 now
    with pytest.raises(ConcurrentOrderUpdate):
        await order_writer.record_ack(order, 1, audit)
    assert not audit.recorded
    assert await audit_entries(engine) == []


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_an_ack_with_its_audit_entry_waits_off_the_loop_when_sqlite_is_locked(
    engine: AsyncEngine, journal: OrderJournal
) -> None:
    order = make_order()
    await journal.record_intent(order)
    order.acknowledge("ex-1", T0)
    audit = PlacementAudit(actor="trader", action="place_order")
    async with loop_ticks() as ticks:
        async with holding_the_write_lock(engine) as holder:
            writing = asyncio.create_task(journal.record_ack(order, 1, audit))
            await asyncio.sleep(0.2)
            assert not writing.done()
            assert journal.busy_fallbacks == 1
            assert ticks.count >= 10  # the loop kept running
            await holder.commit()
        assert await asyncio.wait_for(writing, 5) == 2
    assert audit.recorded
    entries = [entry[1:5] for entry in await audit_entries(engine) if entry[1] == "trader"]
    assert entries == [("trader", "place_order", order.client_order_id, "ok")]
    assert (await raw_row(engine, order.client_order_id))["version"] == 2


def _factory(engine: AsyncEngine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine, clock=fixed_clock)
