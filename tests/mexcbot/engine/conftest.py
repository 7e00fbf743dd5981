"""Engine fixtures: an ExecutionService on the real MEXC client against the in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from mexcbot.engine.events import EventBus
from mexcbot.engine.execution import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.store import OrderJournal, UnitOfWork, create_engine
from mexcsim import SimServer
from tests.fixtures.mexc import client_config as shared_client_config
from tests.mexcbot.engine.recorder import EventRecorder

#: Short timeouts and resolution pauses keep the fault scenarios fast.
CLIENT_TIMEOUT_S = 0.5
RESOLVE_DELAYS = (0.05, 0.1, 0.2, 0.3)
GRACE_S = 0.5


def client_config(url: str, **changes: object) -> MexcClientConfig:
    """The shared test client config with the engine's short timeout and two read retries."""
    values: dict[str, object] = {"timeout_s": CLIENT_TIMEOUT_S, "read_retries": 2}
    values.update(changes)
    return shared_client_config(url, **values)


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
        journal=journal,
    )
    await execution.start()
    return execution
