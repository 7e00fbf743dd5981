"""Engine fixtures: an ExecutionService on the real MEXC client against the in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from mexcbot.engine.bus import EventBus
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import OrderJournal, UnitOfWork, create_engine
from mexcbot.store.fill_writer import FillWriter
from mexcsim import SimServer
from tests.fixtures.engine_timing import GRACE_S, RESOLVE_DELAYS, client_config
from tests.fixtures.recorder import EventRecorder


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[MexcClient]:
    async with MexcClient(client_config(sim.url)) as mexc:
        yield mexc


@pytest.fixture
def events() -> EventBus:
    return EventBus()


@pytest.fixture
def recorder(events: EventBus) -> EventRecorder:
    return EventRecorder(events)


@pytest.fixture
async def journal(migrated_database_url: str) -> AsyncIterator[OrderJournal]:
    """An OrderJournal on the database `uow_factory` uses (its own engine: same file/database)."""
    engine = create_engine(migrated_database_url)
    writer = OrderJournal(engine)
    yield writer
    await writer.close()
    await engine.dispose()


@pytest.fixture
async def fill_writer(migrated_database_url: str) -> AsyncIterator[FillWriter]:
    """A FillWriter on the database `uow_factory` uses, as app.py wires it (PostgreSQL: it
    leaves every write to the unit of work)."""
    engine = create_engine(migrated_database_url)
    writer = FillWriter(engine)
    yield writer
    writer.close()
    await engine.dispose()


@pytest.fixture
async def service(
    client: MexcClient,
    uow_factory: Callable[[], UnitOfWork],
    events: EventBus,
    journal: OrderJournal,
) -> ExecutionService:
    execution = ExecutionService(
        MexcExchange(client),
        uow_factory,
        events=events,
        resolve_delays=RESOLVE_DELAYS,
        never_received_grace=GRACE_S,
        writer=journal,
    )
    await execution.start()
    return execution
