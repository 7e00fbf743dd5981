"""The WAL's checkpoints run in the checkpointer's thread: it copies what was committed, only when
something was, and the WAL then starts again from its beginning, so the loop's commits never
reach SQLite's own threshold (1000 pages) at the rates orders come. Nothing is lost on the way."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.store import OrderJournal, UnitOfWork, create_engine, upgrade
from mexcbot.store.checkpoint import WalCheckpointer
from tests.fixtures.orders import make_order

PAGE = 4096
SQLITE_DEFAULT_AUTOCHECKPOINT = 1000


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await upgrade(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def journal(sqlite_engine: AsyncEngine) -> AsyncIterator[OrderJournal]:
    journal = OrderJournal(sqlite_engine)
    yield journal
    await journal.close()


@pytest.fixture
async def checkpointer(sqlite_engine: AsyncEngine) -> AsyncIterator[WalCheckpointer]:
    checkpointer = WalCheckpointer(sqlite_engine)
    yield checkpointer
    await checkpointer.close()


@contextlib.asynccontextmanager
async def running(checkpointer: WalCheckpointer) -> AsyncIterator[WalCheckpointer]:
    """`checkpointer.run()` in a task for the block; cancelled and closed after it."""
    task = asyncio.create_task(checkpointer.run())
    await asyncio.sleep(0)  # it counts writes from here (the journal's writes never yield)
    try:
        yield checkpointer
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await checkpointer.close()


def wal_pages(tmp_path: Path) -> int:
    return (tmp_path / "bot.db-wal").stat().st_size // PAGE


async def record_orders(journal: OrderJournal, n: int, start: int = 0) -> None:
    for i in range(n):
        order = make_order(minutes=start + i)
        version = await journal.record_intent(order)
        order.acknowledge(f"C02__{start + i}", order.created_at)
        await journal.record_ack(order, version)


async def test_the_checkpointer_copies_what_the_loop_committed(
    sqlite_engine: AsyncEngine, journal: OrderJournal, checkpointer: WalCheckpointer, tmp_path: Path
) -> None:
    await record_orders(journal, 60)  # a few hundred WAL pages, none copied back yet
    pages = wal_pages(tmp_path)
    copied = await asyncio.to_thread(checkpointer.checkpoint_now)
    assert pages // 2 < copied <= pages
    assert await asyncio.to_thread(checkpointer.checkpoint_now) == 0  # nothing new
    size = wal_pages(tmp_path)

    await record_orders(journal, 5, start=1000)
    assert wal_pages(tmp_path) == size  # the WAL started again from its beginning
    assert 0 < await asyncio.to_thread(checkpointer.checkpoint_now) < 100
    assert (checkpointer.checkpoints, journal.busy_fallbacks) == (2, 0)
    await checkpointer.close()
    await journal.close()
    async with UnitOfWork(sqlite_engine) as uow:
        assert len((await uow.orders.list(limit=1000)).orders) == 65
    with sqlite3.connect(tmp_path / "bot.db") as db:  # and the database file holds them all
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (65,)


def wal_generation(tmp_path: Path) -> bytes:
    """The WAL header's checkpoint sequence number and salts: new at each restart of the WAL."""
    with (tmp_path / "bot.db-wal").open("rb") as wal:
        return wal.read(24)[12:]


async def test_the_checkpointer_restarts_the_wal_itself_so_loop_commits_only_append(
    journal: OrderJournal, checkpointer: WalCheckpointer, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "bot.db") as db:
        (user_version,) = db.execute("PRAGMA user_version").fetchone()
    await record_orders(journal, 10)
    before = wal_generation(tmp_path)
    assert await asyncio.to_thread(checkpointer.checkpoint_now) > 0
    # the restart (and the sync of its header) happened in the checkpointer's thread...
    restarted = wal_generation(tmp_path)
    assert restarted != before
    assert checkpointer.restarts == 1
    # ...so the journal's commits on the loop append to that WAL instead of restarting it
    await record_orders(journal, 5, start=100)
    assert wal_generation(tmp_path) == restarted
    assert journal.busy_fallbacks == 0
    with sqlite3.connect(tmp_path / "bot.db") as db:  # the restart's write changed nothing
        assert db.execute("PRAGMA user_version").fetchone() == (user_version,)


async def test_the_checkpointer_runs_while_orders_are_written(
    journal: OrderJournal, sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    checkpointer = WalCheckpointer(sqlite_engine, interval_s=0.01, after_writes=20)
    async with running(checkpointer):
        for batch in range(20):
            await record_orders(journal, 20, start=batch * 20)
            # the thread checkpoints on its own: waited for, not slept for a guessed while (under
            # a loaded CI box it once lagged behind 20 ms pauses and the WAL grew to 1000 pages)
            done = checkpointer.checkpoints
            for _ in range(500):
                if checkpointer.checkpoints > done:
                    break
                await asyncio.sleep(0.01)
        assert checkpointer.checkpoints >= 20
        # 400 orders (~3,500 pages): the WAL restarted after each batch, never near SQLite's
        # own threshold, so no commit on the loop checkpointed
        assert wal_pages(tmp_path) < SQLITE_DEFAULT_AUTOCHECKPOINT // 2
        assert journal.busy_fallbacks == 0


async def _checkpoints_after(checkpointer: WalCheckpointer, seconds: float) -> int:
    for _ in range(int(seconds / 0.01)):
        if checkpointer.checkpoints:
            break
        await asyncio.sleep(0.01)
    return checkpointer.checkpoints


async def test_checkpoints_are_paced_by_the_loops_writes(
    sqlite_engine: AsyncEngine, journal: OrderJournal
) -> None:
    """Each checkpoint restarts the WAL: a few writes wait for more (or for the longest pause),
    enough of them are checkpointed at the next look."""
    checkpointer = WalCheckpointer(
        sqlite_engine, interval_s=0.01, after_writes=50, at_least_every_s=60.0
    )
    async with running(checkpointer):
        await record_orders(journal, 10)  # 20 write transactions
        assert await _checkpoints_after(checkpointer, 0.2) == 0
        await record_orders(journal, 20, start=100)  # 60 in all
        assert await _checkpoints_after(checkpointer, 5.0) == 1


async def test_a_few_writes_are_checkpointed_after_the_longest_pause(
    sqlite_engine: AsyncEngine, journal: OrderJournal
) -> None:
    checkpointer = WalCheckpointer(
        sqlite_engine, interval_s=0.01, after_writes=10**6, at_least_every_s=0.05
    )
    async with running(checkpointer):
        await record_orders(journal, 1)
        assert await _checkpoints_after(checkpointer, 5.0) == 1


async def test_no_checkpointer_without_a_database_file(tmp_path: Path) -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    checkpointer = WalCheckpointer(engine)
    try:
        assert not checkpointer.enabled
        await asyncio.wait_for(checkpointer.run(), timeout=1)  # returns at once
        assert checkpointer.checkpoint_now() == 0
    finally:
        await checkpointer.close()
        await engine.dispose()
