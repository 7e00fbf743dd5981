"""Delivery: one loop per channel sends its outbox entries, oldest first, with retries.

Each channel has its own task, so a channel that is down (Telegram unreachable, a webhook
answering 502) only delays its own messages. The head entry blocks the ones behind it until it is
delivered or given up on (after `Backoff.max_attempts`, or at once when the channel says the
entry can never be delivered): order per channel is kept. Retry delays double from
`Backoff.base` up to `Backoff.cap`; a channel may ask for longer (Telegram's retry_after).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from mexcbot.notify.outbox import Outbox, OutboxEntry
from mexcbot.telemetry import Metrics, redactor

log = logging.getLogger(__name__)

#: How long a loop waits when the outbox itself (the database) cannot be read.
_STORE_RETRY_S = 1.0
_ERROR_LIMIT = 300


class DeliveryError(Exception):
    """A send failed. The message is stored as the entry's last error: it never holds a token,
    a secret or a URL with one. `permanent`: retrying cannot help (e.g. a 400 Bad Request)."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    """Where notifications go: a Telegram chat, a webhook."""

    @property
    def name(self) -> str: ...

    @property
    def max_attempts(self) -> int | None:
        """Attempts before an entry is given up on; None: the configured default."""

    async def send(self, entry: OutboxEntry) -> None:
        """Deliver `entry` or raise `DeliveryError`."""


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float
    cap: float
    max_attempts: int

    def delay(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`, after `attempts` failures."""
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))


class ChannelDelivery:
    """Delivers one channel's entries in order (see the module docstring)."""

    def __init__(
        self,
        channel: Channel,
        outbox: Outbox,
        backoff: Backoff,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.channel = channel
        self._outbox = outbox
        self._backoff = backoff
        self._metrics = metrics
        self._clock = clock
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()
        """Set while the channel has nothing queued (the shutdown grace period waits on it)."""

    @property
    def name(self) -> str:
        return self.channel.name

    def wake(self) -> None:
        """A new entry was queued for the channel."""
        self.idle.clear()
        self._wake.set()

    async def run(self) -> None:
        await self._count_queued()
        while True:
            # cleared before the outbox is read: a wake while reading is not lost
            self._wake.clear()
            try:
                entry = await self._outbox.next_due(self.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox of %s unreadable (%s)", self.name, type(exc).__name__)
                await self._sleep(_STORE_RETRY_S)
                continue
            if entry is None:
                if not self._wake.is_set():
                    self.idle.set()
                await self._count_queued()
                await self._sleep(None)
                continue
            wait = (entry.next_attempt_at - self._clock()).total_seconds()
            if wait > 0:
                await self._sleep(wait)
                continue
            try:
                await self._attempt(entry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the outbox could not record the outcome
                log.warning("outbox of %s not updated (%s)", self.name, type(exc).__name__)
                await self._sleep(_STORE_RETRY_S)

    async def _sleep(self, seconds: float | None) -> None:
        """Until `seconds` passed or a new entry was queued (since the loop last read)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _attempt(self, entry: OutboxEntry) -> None:
        try:
            await self.channel.send(entry)
        except DeliveryError as exc:
            await self._failed(entry, exc)
            return
        except Exception as exc:  # a bug in a channel must not stop its loop
            log.exception("notification channel %s crashed on %s", self.name, entry.event_id)
            await self._failed(entry, DeliveryError(type(exc).__name__))
            return
        now = self._clock()
        await self._outbox.delivered(entry, now)
        self._metrics.notifications_delivered.labels(self.name).inc()
        latency = max(0.0, (now - entry.created_at).total_seconds())
        self._metrics.notification_delivery_seconds.labels(self.name).observe(latency)
        await self._count_queued()

    async def _failed(self, entry: OutboxEntry, exc: DeliveryError) -> None:
        error = redactor.redact(str(exc))[:_ERROR_LIMIT]
        attempts = entry.attempts + 1
        limit = self.channel.max_attempts or self._backoff.max_attempts
        if exc.permanent or attempts >= limit:
            log.error(
                "notification %s to %s given up after %d attempt(s): %s",
                entry.event_id,
                self.name,
                attempts,
                error,
            )
            await self._outbox.failed(entry, error)
            self._metrics.notifications_failed.labels(self.name).inc()
            await self._count_queued()
            return
        delay = max(self._backoff.delay(attempts), exc.retry_after or 0.0)
        log.warning(
            "notification %s to %s failed (attempt %d: %s); retrying in %.1f s",
            entry.event_id,
            self.name,
            attempts,
            error,
            delay,
        )
        self._metrics.notification_attempts_failed.labels(self.name).inc()
        await self._outbox.retry_later(entry, self._clock() + timedelta(seconds=delay), error)
        await self._count_queued()

    async def _count_queued(self) -> None:
        """Refresh the queued gauge (best effort: a metric never stops delivery)."""
        try:
            queued = await self._outbox.queued(self.name)
        except asyncio.CancelledError:
            raise
        except Exception:
            return
        self._metrics.notifications_queued.labels(self.name).set(queued)
