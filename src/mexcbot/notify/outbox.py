"""The outbox: every notification stored once per channel before anything is sent.

`Outbox` is the repository (tables ``notification_outbox`` and ``notification_state``): a row per
(event id, channel), UNIQUE, so writing the same event twice is a no-op; its delivery state
(queued / delivered / failed, attempts, when to try next, the last error) lives beside it, so a
restart resumes exactly where delivery stopped. Channels read their oldest queued row first:
delivery is in order per channel. The bot gives the outbox an engine with deferred SQLite
transactions (``create_engine(url, immediate=False)``): its reads take no lock, and each write
transaction here starts with its write, so polling never holds the lock the trading path needs.

`OutboxWriter` is the background writer the bus subscribers hand notifications to: `submit` only
appends to an in-memory queue (the trading path never waits for the database or a channel); the
writer's task stores them in order and wakes the channels they are for.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.notify.events import Notification
from mexcbot.notify.kinds import NotificationType
from mexcbot.store import tables
from mexcbot.store.upsert import insert_if_new

log = logging.getLogger(__name__)

_OUTBOX = tables.notification_outbox
_STATE = tables.notification_state
#: Notifications waiting for the writer at most; beyond it new ones are dropped (and logged), so
#: a database that is down cannot grow the process without bound.
QUEUE_LIMIT = 10_000


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    event_id: str
    channel: str
    type: NotificationType
    created_at: datetime
    text: str
    data: dict[str, Any]
    silent: bool
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ChannelCounts:
    channel: str
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    last_delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """Where a notification goes: a channel, and whether without a sound."""

    channel: str
    silent: bool


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        event_id=row.event_id,
        channel=row.channel,
        type=NotificationType(row.type),
        created_at=row.created_at,
        text=row.text,
        data=json.loads(row.data),
        silent=bool(row.silent),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )


class Outbox:
    """The outbox repository; each method is one short transaction of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, notification: Notification, routes: Sequence[Route]) -> list[str]:
        """Queue `notification` for each route; the channels it was new for (a repeat: none)."""
        fresh: list[str] = []
        data = json.dumps(dict(notification.data), separators=(",", ":"), default=str)
        async with self._engine.begin() as connection:
            for route in routes:
                row_id = await insert_if_new(
                    connection,
                    _OUTBOX,
                    {
                        "event_id": notification.event_id,
                        "channel": route.channel,
                        "type": str(notification.type),
                        "created_at": notification.at,
                        "text": notification.text,
                        "data": data,
                        "silent": route.silent,
                        "status": str(OutboxStatus.QUEUED),
                        "attempts": 0,
                        "next_attempt_at": notification.at,
                        "delivered_at": None,
                        "last_error": None,
                    },
                )
                if row_id is not None:
                    fresh.append(route.channel)
        return fresh

    async def next_due(self, channel: str) -> OutboxEntry | None:
        """The channel's oldest queued entry (due or not: order comes first)."""
        query = (
            select(_OUTBOX)
            .where(_OUTBOX.c.channel == channel, _OUTBOX.c.status == str(OutboxStatus.QUEUED))
            .order_by(_OUTBOX.c.id)
            .limit(1)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _entry(row)

    async def entries(self, channel: str | None = None) -> list[OutboxEntry]:
        query = select(_OUTBOX).order_by(_OUTBOX.c.id)
        if channel is not None:
            query = query.where(_OUTBOX.c.channel == channel)
        async with self._engine.connect() as connection:
            return [_entry(row) for row in await connection.execute(query)]

    async def delivered(self, entry: OutboxEntry, at: datetime) -> None:
        await self._set(
            entry.id,
            status=str(OutboxStatus.DELIVERED),
            attempts=entry.attempts + 1,
            delivered_at=at,
        )

    async def retry_later(self, entry: OutboxEntry, at: datetime, error: str) -> None:
        await self._set(entry.id, attempts=entry.attempts + 1, next_attempt_at=at, last_error=error)

    async def failed(self, entry: OutboxEntry, error: str) -> None:
        await self._set(
            entry.id,
            status=str(OutboxStatus.FAILED),
            attempts=entry.attempts + 1,
            last_error=error,
        )

    async def _set(self, entry_id: int, **values: Any) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(update(_OUTBOX).where(_OUTBOX.c.id == entry_id).values(values))

    async def queued(self, channel: str) -> int:
        query = select(func.count()).where(
            _OUTBOX.c.channel == channel, _OUTBOX.c.status == str(OutboxStatus.QUEUED)
        )
        async with self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def counts(self) -> dict[str, ChannelCounts]:
        """Per channel: entries by status, the latest error, the latest delivery."""
        by_status = select(_OUTBOX.c.channel, _OUTBOX.c.status, func.count()).group_by(
            _OUTBOX.c.channel, _OUTBOX.c.status
        )
        latest = select(
            _OUTBOX.c.channel, func.max(_OUTBOX.c.delivered_at), func.max(_OUTBOX.c.id)
        ).group_by(_OUTBOX.c.channel)
        errors = (
            select(_OUTBOX.c.channel, _OUTBOX.c.last_error)
            .where(_OUTBOX.c.last_error.is_not(None))
            .order_by(_OUTBOX.c.id)
        )
        found: dict[str, dict[str, Any]] = {}
        async with self._engine.connect() as connection:
            for channel, status, count in await connection.execute(by_status):
                found.setdefault(channel, {})[status] = count
            for channel, delivered_at, _ in await connection.execute(latest):
                found.setdefault(channel, {})["last_delivered_at"] = delivered_at
            for channel, error in await connection.execute(errors):
                found.setdefault(channel, {})["last_error"] = error  # the newest wins
        return {
            channel: ChannelCounts(
                channel=channel,
                queued=values.get(str(OutboxStatus.QUEUED), 0),
                delivered=values.get(str(OutboxStatus.DELIVERED), 0),
                failed=values.get(str(OutboxStatus.FAILED), 0),
                last_error=values.get("last_error"),
                last_delivered_at=values.get("last_delivered_at"),
            )
            for channel, values in found.items()
        }

    async def latest_event(
        self, types: Sequence[NotificationType], *, other_than: str
    ) -> str | None:
        """The event id of the newest entry of one of `types`, `other_than` excluded."""
        query = (
            select(_OUTBOX.c.event_id)
            .where(
                _OUTBOX.c.type.in_([str(kind) for kind in types]),
                _OUTBOX.c.event_id != other_than,
            )
            .order_by(_OUTBOX.c.id.desc())
            .limit(1)
        )
        async with self._engine.connect() as connection:
            found = (await connection.execute(query)).scalar_one_or_none()
        return None if found is None else str(found)

    async def state(self, name: str) -> str | None:
        async with self._engine.connect() as connection:
            value = (
                await connection.execute(select(_STATE.c.value).where(_STATE.c.name == name))
            ).scalar_one_or_none()
        return None if value is None else str(value)

    async def set_state(self, name: str, value: str, at: datetime) -> None:
        """Remember `value` under `name` (one writer per name: the Telegram poller)."""
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                update(_STATE).where(_STATE.c.name == name).values(value=value, updated_at=at)
            )
            if changed.rowcount == 0:
                await connection.execute(
                    _STATE.insert().values(name=name, value=value, updated_at=at)
                )


class OutboxWriter:
    """Stores submitted notifications in order, off the caller's task (see the module doc)."""

    def __init__(
        self,
        outbox: Outbox,
        routes: Callable[[Notification], list[Route]],
        on_queued: Callable[[str], None],
        retry_delay: float = 1.0,
    ) -> None:
        self._outbox = outbox
        self._routes = routes
        self._on_queued = on_queued
        self._retry_delay = retry_delay
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(QUEUE_LIMIT)

    def submit(self, notification: Notification) -> None:
        """Hand over `notification` without waiting (safe in a bus subscriber)."""
        if not self._routes(notification):
            return
        try:
            self._queue.put_nowait(notification)
        except asyncio.QueueFull:
            log.error("notification outbox backlog full; dropped %s", notification.event_id)

    async def run(self) -> None:
        while True:
            notification = await self._queue.get()
            try:
                await self._store(notification)
            finally:
                self._queue.task_done()

    async def _store(self, notification: Notification) -> None:
        while True:
            try:
                fresh = await self._outbox.add(notification, self._routes(notification))
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "notification %s not stored (%s); retrying",
                    notification.event_id,
                    type(exc).__name__,
                )
                await asyncio.sleep(self._retry_delay)
        for channel in fresh:
            self._on_queued(channel)

    async def drain(self, *, within: float) -> bool:
        """Wait until everything submitted so far is stored; False after `within` seconds."""
        try:
            await asyncio.wait_for(self._queue.join(), within)
        except TimeoutError:
            return False
        return True
