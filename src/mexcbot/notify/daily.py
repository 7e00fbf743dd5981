"""The daily summary: realised PnL, win rate and open positions, once a day at a set UTC time.

A day's result counts the positions *closed* in the 24 hours before the summary (the positions
summary route filters on the opening time instead), looking back `LOOKBACK` for their opening.
A summary time the bot was down for is skipped, not sent late.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

from mexcbot.domain.performance import Performance, performance
from mexcbot.domain.positions import Position, PositionStatus
from mexcbot.engine.positions.trading import PositionService
from mexcbot.notify.events import Notification, daily_summary

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=60)
_PAGE = 500


def next_summary_at(now: datetime, at: time) -> datetime:
    """The first summary time strictly after `now` (UTC)."""
    candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


async def closed_between(positions: PositionService, start: datetime, end: datetime) -> Performance:
    """The performance of the positions closed in [start, end)."""
    closed: list[Position] = []
    offset = 0
    while True:
        page = await positions.list(
            status=PositionStatus.CLOSED, since=start - LOOKBACK, limit=_PAGE, offset=offset
        )
        closed.extend(
            p for p in page.positions if p.closed_at is not None and start <= p.closed_at < end
        )
        offset += len(page.positions)
        if not page.positions or offset >= page.total:
            break
    return performance(closed)


async def run_daily_summary(
    positions: PositionService,
    submit: Callable[[Notification], None],
    at: time,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    while True:
        end = next_summary_at(clock(), at)
        await sleep(max(0.0, (end - clock()).total_seconds()))
        try:
            perf = await closed_between(positions, end - timedelta(days=1), end)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("daily summary of %s not computed", end)
            continue
        submit(daily_summary(end, perf, len(positions.open_positions())))
