"""ListingDetector: polls every configured source on its own interval and merges what each
reports into the `ListingBook`.

Each source runs in its own loop, so a slow or broken one delays nobody. A source that fails
(unreachable, or a web shape that changed) logs one warning when it degrades and one line when it
recovers, and is retried at its interval with a growing back-off (up to `MAX_BACKOFF_S`); it
never stops the bot. `status()` tells the API how each source is doing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mexcbot.domain.listings import ListingSource
from mexcbot.engine.listings.book import ListingBook
from mexcbot.engine.listings.sources import ListingFeedSource

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0


@dataclass(slots=True)
class SourceStatus:
    source: ListingSource
    interval_s: float
    polls: int = 0
    failures: int = 0
    healthy: bool = True
    last_error: str | None = None
    last_polled_at: datetime | None = None


class ListingDetector:
    def __init__(
        self,
        sources: Sequence[ListingFeedSource],
        book: ListingBook,
        clock: Callable[[], datetime],
    ) -> None:
        self._sources = tuple(sources)
        self._book = book
        self._clock = clock
        self._status = {s.source: SourceStatus(s.source, s.interval_s) for s in self._sources}

    def status(self) -> list[SourceStatus]:
        return list(self._status.values())

    async def run(self) -> None:
        if not self._sources:
            log.info("listing detection is off (no source enabled)")
            return
        async with asyncio.TaskGroup() as tasks:
            for source in self._sources:
                tasks.create_task(self._follow(source), name=f"mexcbot-listings-{source.source}")

    async def poll_once(self, source: ListingFeedSource) -> int:
        """Poll `source` once and merge what it reports; returns how many listings changed."""
        status = self._status[source.source]
        status.last_polled_at = self._clock()
        status.polls += 1
        try:
            sightings = await source.poll()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            status.failures += 1
            status.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if status.healthy:
                log.warning(
                    "listing source %s degraded (%s); the other sources go on",
                    source.source,
                    status.last_error,
                )
            status.healthy = False
            raise
        if not status.healthy:
            log.info("listing source %s recovered", source.source)
        status.healthy = True
        status.failures = 0
        changed = 0
        for sighting in sightings:
            if await self._book.record(sighting) is not None:
                changed += 1
        return changed

    async def _follow(self, source: ListingFeedSource) -> None:
        while True:
            delay = source.interval_s
            try:
                await self.poll_once(source)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures = self._status[source.source].failures
                delay = min(source.interval_s * 2 ** min(failures, 10), MAX_BACKOFF_S)
            await asyncio.sleep(delay)
