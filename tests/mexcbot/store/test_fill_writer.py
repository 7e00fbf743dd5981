"""FillWriter: the rows the repositories write, in one committed transaction; replays and locks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.domain.orders import Fill, Order
from mexcbot.store import UnitOfWork
from mexcbot.store.fill_writer import AuditNote, FillWriter
from tests.fixtures.orders import T0, make_fill, make_order

SQLITE = pytest.mark.parametrize("database_backend", ["sqlite"])


@pytest.fixture
def writer(engine: AsyncEngine) -> Iterator[FillWriter]:
    fills = FillWriter(engine)
    yield fills
    fills.close()


async def stored_order(engine: AsyncEngine, order: Order) -> tuple[Order, int]:
    async with UnitOfWork(engine) as uow:
        loaded = await uow.orders.get_by_client_id(order.client_order_id)
        assert loaded is not None
        return loaded, uow.orders.version_of(loaded)


async def raw_rows(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    """Rows as the database holds them (no type processing), without ids and local times."""
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")
        skip = {"id", "updated_at", "time"} if table != "fills" else {"id"}
        return [{k: v for k, v in row.items() if k not in skip} for row in result.mappings().all()]


async def acknowledged(engine: AsyncEngine) -> Order:
    order = make_order(quantity=Decimal("0.00030000"), created_at=T0 + timedelta(microseconds=7))
    order.acknowledge("ex-1", T0)
    async with UnitOfWork(engine) as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


def both(fills: Sequence[Fill]) -> Any:
    return lambda _order: list(fills)


def note(order: Order, new: list[Fill]) -> AuditNote:
    return ("system", "order.stream", f"new fills {len(new)}")


@SQLITE
async def test_fills_and_fees_are_the_rows_a_unit_of_work_writes(
    engine: AsyncEngine, writer: FillWriter
) -> None:
    order = await acknowledged(engine)
    fills = [make_fill(order, "t-1"), make_fill(order, "t-2", qty="0.00020000")]

    written = writer.add_fills(order.client_order_id, both(fills), note)

    assert written is not None
    assert written.order is not None
    assert written.new_fills == fills
    assert written.order_changed
    loaded, version = await stored_order(engine, order)
    assert version == 2
    assert dataclasses.asdict(loaded) == dataclasses.asdict(written.order)
    assert loaded.fees == {fills[0].commission_asset: fills[0].commission + fills[1].commission}
    async with UnitOfWork(engine) as uow:
        assert await uow.fills.list_for_order(order.client_order_id) == fills
        (entry,) = await uow.audit.recent()
    assert (entry.actor, entry.action, entry.target, entry.detail) == (
        "system",
        "order.stream",
        order.client_order_id,
        "new fills 2",
    )
    assert entry.result == loaded.status.value

    # the same change through a unit of work writes the same rows
    other = make_order(quantity=Decimal("0.00030000"), created_at=order.created_at)
    other.acknowledge("ex-2", T0)
    async with UnitOfWork(engine) as uow:
        await uow.orders.add(other)
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        again = await uow.orders.get_by_client_id(other.client_order_id, for_update=True)
        assert again is not None
        for fill in fills:
            copy = dataclasses.replace(
                fill,
                client_order_id=other.client_order_id,
                exchange_trade_id="u" + fill.exchange_trade_id,
            )
            assert await uow.fills.add_if_new(copy)
            again.record_fill(copy)
        await uow.commit()
    orders = await raw_rows(engine, "orders")
    by_writer, by_uow = orders[0], orders[1]
    different = {"client_order_id", "exchange_order_id"}
    assert {k: v for k, v in by_writer.items() if k not in different} == {
        k: v for k, v in by_uow.items() if k not in different
    }
    fill_rows = await raw_rows(engine, "fills")
    same = {"client_order_id", "exchange_trade_id"}
    assert [{k: v for k, v in r.items() if k not in same} for r in fill_rows[:2]] == [
        {k: v for k, v in r.items() if k not in same} for r in fill_rows[2:]
    ]


@SQLITE
async def test_a_replayed_fill_writes_nothing(engine: AsyncEngine, writer: FillWriter) -> None:
    order = await acknowledged(engine)
    fill = make_fill(order, "t-1")
    assert writer.add_fills(order.client_order_id, both([fill]), note) is not None

    replay = writer.add_fills(order.client_order_id, both([fill]), note)

    assert replay is not None
    assert replay.new_fills == []
    assert not replay.order_changed
    loaded, version = await stored_order(engine, order)
    assert version == 2
    assert loaded.fees == {fill.commission_asset: fill.commission}
    assert len(await raw_rows(engine, "fills")) == 1
    assert len(await raw_rows(engine, "audit_log")) == 1


@SQLITE
async def test_an_order_not_stored_is_reported_and_nothing_is_written(
    engine: AsyncEngine, writer: FillWriter
) -> None:
    written = writer.add_fills("no-such-order", both([]), note)

    assert written is not None
    assert written.order is None
    assert await raw_rows(engine, "fills") == []


@SQLITE
async def test_a_locked_database_is_left_to_the_unit_of_work(
    engine: AsyncEngine, writer: FillWriter
) -> None:
    order = await acknowledged(engine)
    async with UnitOfWork(engine) as holder:  # holds SQLite's write lock across awaits
        await holder.audit.append(actor="test", action="hold", result="ok")
        assert writer.add_fills(order.client_order_id, both([make_fill(order, "t")]), note) is None
        assert writer.busy_fallbacks == 1
        await holder.commit()
    assert await raw_rows(engine, "fills") == []
    assert writer.add_fills(order.client_order_id, both([make_fill(order, "t")]), note)


@pytest.mark.parametrize("database_backend", ["postgres"])
async def test_postgres_uses_the_unit_of_work(engine: AsyncEngine, writer: FillWriter) -> None:
    order = await acknowledged(engine)

    assert writer.add_fills(order.client_order_id, both([make_fill(order, "t")]), note) is None
