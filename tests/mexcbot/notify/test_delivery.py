"""The outbox and the per-channel delivery loop on SQLite and PostgreSQL, with channels that fail
on purpose: a repeat is a no-op, order per channel survives failures, a broken channel delays
only itself, give-up after the attempts, and errors are stored without secrets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.notify.delivery import Backoff, ChannelDelivery, DeliveryError
from mexcbot.notify.events import Notification
from mexcbot.notify.kinds import NotificationType
from mexcbot.notify.outbox import Outbox, OutboxEntry, OutboxStatus, OutboxWriter, Route
from mexcbot.store import create_engine
from mexcbot.telemetry import Metrics, redactor

SECRET = "a-secret-value-never-stored"


class ScriptedChannel:
    """Fails its first `failures` sends (or always, or permanently), records what it sent."""

    max_attempts: int | None = None

    def __init__(self, name: str, failures: int = 0, *, permanent: bool = False) -> None:
        self.name = name
        self.failures = failures
        self.permanent = permanent
        self.sent: list[str] = []
        self.tries = 0

    async def send(self, entry: OutboxEntry) -> None:
        self.tries += 1
        if self.permanent and entry.event_id.endswith("bad"):
            raise DeliveryError("HTTP 400 (Bad Request)", permanent=True)
        if self.failures != 0:
            self.failures -= 1
            raise DeliveryError(f"HTTP 502 for token {SECRET}")
        self.sent.append(entry.event_id)


def note(event_id: str) -> Notification:
    return Notification(event_id, NotificationType.TEST, datetime.now(UTC), f"text {event_id}")


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_engine(migrated_database_url, immediate=False)  # as the bot's outbox
    yield db
    await db.dispose()


@contextlib.asynccontextmanager
async def delivering(
    outbox: Outbox, *channels: ScriptedChannel, max_attempts: int = 100
) -> AsyncIterator[OutboxWriter]:
    """A writer and a delivery loop per channel, running until the block ends."""
    metrics = Metrics()
    backoff = Backoff(base=0.01, cap=0.05, max_attempts=max_attempts)
    loops = {
        c.name: ChannelDelivery(c, outbox, backoff, metrics, lambda: datetime.now(UTC))
        for c in channels
    }
    writer = OutboxWriter(
        outbox, lambda n: [Route(name, silent=False) for name in loops], lambda c: loops[c].wake()
    )
    tasks = [asyncio.create_task(writer.run())]
    tasks += [asyncio.create_task(loop.run()) for loop in loops.values()]
    try:
        yield writer
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def until(check: object, what: str) -> None:
    assert callable(check)
    for _ in range(1500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def settled(outbox: Outbox, *channels: str) -> None:
    """Wait until the channels have nothing queued (the outcome is stored after the send)."""
    for _ in range(500):
        counts = await outbox.counts()
        if all(counts[c].queued == 0 for c in channels if c in counts):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{channels} still have queued entries")


async def test_a_repeated_event_is_one_row_per_channel(engine: AsyncEngine) -> None:
    outbox = Outbox(engine)
    routes = [Route("a", silent=False), Route("b", silent=True)]
    assert await outbox.add(note("e1"), routes) == ["a", "b"]
    assert await outbox.add(note("e1"), routes) == []
    entries = await outbox.entries()
    assert [(e.channel, e.event_id, e.silent, e.status) for e in entries] == [
        ("a", "e1", False, OutboxStatus.QUEUED),
        ("b", "e1", True, OutboxStatus.QUEUED),
    ]


async def test_order_is_kept_through_failures_and_a_broken_channel_delays_only_itself(
    engine: AsyncEngine,
) -> None:
    outbox = Outbox(engine)
    flaky, healthy, down = (
        ScriptedChannel("flaky", 3),
        ScriptedChannel("ok"),
        ScriptedChannel("down", -1),
    )
    wanted = [f"e{i}" for i in range(5)]
    async with delivering(outbox, flaky, healthy, down) as writer:
        for event_id in wanted:
            writer.submit(note(event_id))
        await until(
            lambda: healthy.sent == wanted and flaky.sent == wanted and down.tries >= 2,
            "both channels, and retries of the one that is down",
        )
        await settled(outbox, "flaky", "ok")
        assert down.sent == []
    entries = await outbox.entries("flaky")
    assert [e.attempts for e in entries] == [4, 1, 1, 1, 1]
    assert all(e.status is OutboxStatus.DELIVERED for e in entries)
    stuck = await outbox.entries("down")
    assert [e.status for e in stuck] == [OutboxStatus.QUEUED] * 5
    assert stuck[0].attempts >= 2
    assert [e.attempts for e in stuck[1:]] == [0] * 4  # waiting behind the head, in order
    counts = await outbox.counts()
    assert (counts["ok"].delivered, counts["down"].queued) == (5, 5)


async def test_given_up_entries_are_failed_and_the_channel_moves_on(
    engine: AsyncEngine,
) -> None:
    redactor.add(SECRET)
    try:
        outbox = Outbox(engine)
        channel = ScriptedChannel("hook", 2, permanent=True)
        async with delivering(outbox, channel, max_attempts=2) as writer:
            for event_id in ("e1", "e2bad", "e3"):
                writer.submit(note(event_id))
            await until(lambda: channel.sent == ["e3"], "the third entry")
            await settled(outbox, "hook")
    finally:
        redactor.discard(SECRET)
    entries = {e.event_id: e for e in await outbox.entries()}
    assert entries["e1"].status is OutboxStatus.FAILED  # two 502s: its two attempts
    assert entries["e1"].attempts == 2
    assert entries["e2bad"].status is OutboxStatus.FAILED  # a 400 is not retried
    assert entries["e2bad"].attempts == 1
    assert entries["e3"].status is OutboxStatus.DELIVERED
    assert entries["e1"].last_error == "HTTP 502 for token ***"
    assert all(SECRET not in (e.last_error or "") for e in entries.values())
    assert (await outbox.counts())["hook"].failed == 2


async def test_the_state_store_keeps_one_value_per_name(engine: AsyncEngine) -> None:
    outbox = Outbox(engine)
    now = datetime.now(UTC)
    assert await outbox.state("telegram_update_offset") is None
    await outbox.set_state("telegram_update_offset", "5", now)
    await outbox.set_state("telegram_update_offset", "9", now)
    assert await outbox.state("telegram_update_offset") == "9"


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base=1.0, cap=5.0, max_attempts=10)
    assert [backoff.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_an_entry_queued_while_the_loop_reads_the_outbox_is_not_missed(
    engine: AsyncEngine,
) -> None:
    """The lost wake-up: the writer stores an entry and wakes the loop while the loop's read
    (which found nothing) is still in flight; the loop must not then sleep forever."""
    channel = ScriptedChannel("late")
    loops: list[ChannelDelivery] = []

    class RacingOutbox(Outbox):
        raced = False

        async def next_due(self, name: str) -> OutboxEntry | None:
            found = await super().next_due(name)
            if found is None and not self.raced:
                self.raced = True
                await self.add(note("late-1"), [Route(name, silent=False)])
                loops[0].wake()
            return found

    outbox = RacingOutbox(engine)
    backoff = Backoff(base=0.01, cap=0.05, max_attempts=3)
    loops.append(ChannelDelivery(channel, outbox, backoff, Metrics(), lambda: datetime.now(UTC)))
    task = asyncio.create_task(loops[0].run())
    try:
        await until(lambda: channel.sent == ["late-1"], "the entry queued during the read")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
