"""StreamHealth: how one exchange stream is doing, for `/api/v1/status`, metrics and the bus.

A stream that is silent is not proof that nothing happened: the feeds count every disconnect as a
gap (which reconciliation closes) and keep the age of the last message, so an operator can tell a
quiet market from a dead socket. `follow` is the loop both feeds share: iterate the port's stream,
and if the iterator itself fails, count a gap and open it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from mexcbot.engine.events import StreamStatusChanged

log = logging.getLogger(__name__)

_U = TypeVar("_U")
#: Pause before a failed stream iterator is opened again (its own reconnects are faster).
REOPEN_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class StreamHealthSnapshot:
    connected: bool
    last_message_age_s: float | None
    """Seconds since the last push; None before the first."""
    reconnects: int
    """Connections after the first one."""
    gaps: int
    """Disconnects: moments in which pushes may have been missed (each one reconciled)."""
    messages: int


class StreamHealth:
    """Counters of one stream ("user" or "market"); the feed that reads the stream updates it.

    `on_message` is called for every push (the message counter of the metrics). `connected`
    follows the latest marker: a market stream spread over several sockets (more than 15
    symbols) shows the socket that changed last."""

    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_message: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._on_message = on_message
        self.connected = False
        self.connects = 0
        self.gaps = 0
        self.messages = 0
        self._last_message: float | None = None

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    def message(self) -> None:
        self.messages += 1
        self._last_message = self._clock()
        if self._on_message is not None:
            self._on_message()

    def resumed(self, at: datetime) -> StreamStatusChanged:
        self.connected = True
        self.connects += 1
        return self._status(None, at)

    def lost(self, reason: str, at: datetime) -> StreamStatusChanged:
        self.connected = False
        self.gaps += 1
        return self._status(reason, at)

    def snapshot(self) -> StreamHealthSnapshot:
        seen = self._last_message
        return StreamHealthSnapshot(
            connected=self.connected,
            last_message_age_s=None if seen is None else round(self._clock() - seen, 3),
            reconnects=self.reconnects,
            gaps=self.gaps,
            messages=self.messages,
        )

    def _status(self, reason: str | None, at: datetime) -> StreamStatusChanged:
        return StreamStatusChanged(
            stream=self.name,
            connected=self.connected,
            reason=reason,
            reconnects=self.reconnects,
            gaps=self.gaps,
            at=at,
        )


async def follow(
    open_stream: Callable[[], AsyncIterator[_U]],
    handle: Callable[[_U], Awaitable[None]],
    on_failure: Callable[[str], Awaitable[None]],
) -> None:
    """Feed every update of `open_stream()` to `handle` until cancelled. A failing iterator
    (the adapter gave up on a connection) is reported to `on_failure` as a gap and reopened;
    a failing `handle` is logged and the next update handled (one bad push must not stop the
    feed: reconciliation repairs what it could not apply)."""
    while True:
        try:
            async for update in open_stream():
                try:
                    await handle(update)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("stream update not applied: %r", update)
            reason = "stream ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"stream failed: {type(exc).__name__}: {exc}"
            log.warning("%s; reopening in %.0f s", reason, REOPEN_DELAY_S)
        await on_failure(reason)
        await asyncio.sleep(REOPEN_DELAY_S)


def utc_now() -> datetime:
    return datetime.now(UTC)
