"""A tiny in-process event bus: the engine publishes what happened, the API and telemetry listen.

Subscribers are plain synchronous callables run in publish order on the publisher's task. A
failing subscriber is logged and skipped: a broken metrics hook or WebSocket must never fail (or
roll back) a trade that already happened. Events are published only after the change committed.

A subscriber that only reports (the order log line) can be `deferred`: its
deliveries are queued and run from a timer due at once, i.e. on the event loop's next pass after
the callbacks already scheduled. An order placed through the API publishes its acknowledgement on
the engine's task just before the route's task is woken, so the deferred work runs after the
route has written its response instead of before it; in publish order, in the context of the
publish (the log line keeps its request id). A deferred subscriber sees what a direct one sees,
a moment later; what others must see at once (the open-orders view, positions) stays direct.
Measured in `mexcbot run` (benchmarks/api_orders.py, loaded 2-core box, p50 per placement): the
acknowledgement's log line 54 us had been on the response's path (the websocket feed's
messages, 10-14 us each, stay at once: a fill reaches a client a loop pass sooner).
Deliveries still queued when the loop stops are dropped (only reports).

`publish_soon` publishes an event on the loop's next pass instead of now, or just before the
next `publish`, whichever comes first, so events keep their order. The placement publishes its
new order that way: between the durable intent and the request on the wire nothing but the send
runs, and the subscribers (the open-orders view, the websocket feed, the exit monitor, ...: ~70-100
us in `mexcbot run` on the shared 2-core box, p50) run while the request is in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from mexcbot.engine.events import (
    BalanceChanged,
    Event,
    FillRecorded,
    ListingChanged,
    OrderUpdated,
    PositionChanged,
    PriceChanged,
    ReconciliationFinished,
    RuleExecuted,
    SnipeFinished,
    StreamStatusChanged,
    TradingStateChanged,
)

log = logging.getLogger(__name__)

_Subscriber = Callable[[Event], None]
#: A queued deferred publish: its context, the subscribers then, their list now, the event.
_Deferred = tuple[contextvars.Context, tuple[_Subscriber, ...], list[_Subscriber], Event]

_E = TypeVar(
    "_E",
    OrderUpdated,
    FillRecorded,
    ReconciliationFinished,
    BalanceChanged,
    PriceChanged,
    StreamStatusChanged,
    PositionChanged,
    TradingStateChanged,
    ListingChanged,
    SnipeFinished,
    RuleExecuted,
)


class EventBus:
    """Publish/subscribe by event type. Not thread-safe: use it from the event loop only."""

    def __init__(self) -> None:
        self._subscribers: dict[type[Event], list[_Subscriber]] = {}
        self._deferred: dict[type[Event], list[_Subscriber]] = {}
        self._queue: deque[_Deferred] = deque()
        self._drain_scheduled = False
        self._soon: deque[tuple[contextvars.Context, Event]] = deque()

    def subscribe(
        self, event_type: type[_E], callback: Callable[[_E], None], *, deferred: bool = False
    ) -> Callable[[], None]:
        """Call `callback` for every published `event_type`, at once or (`deferred`, see the
        module docstring) on the loop's next pass; returns the unsubscribe function."""

        def deliver(event: Event) -> None:
            if isinstance(event, event_type):
                callback(event)

        by_type = self._deferred if deferred else self._subscribers
        callbacks = by_type.setdefault(event_type, [])
        callbacks.append(deliver)

        def unsubscribe() -> None:
            if deliver in callbacks:
                callbacks.remove(deliver)

        return unsubscribe

    def publish(self, event: Event) -> None:
        if self._soon:  # published before this one: delivered first
            self._publish_soon_events()
        self._publish(event)

    def publish_soon(self, event: Event) -> None:
        """Publish `event` on the loop's next pass, or before the next `publish` if that comes
        first (see the module docstring); at once without a running loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish(event)
            return
        self._soon.append((contextvars.copy_context(), event))
        if len(self._soon) == 1:
            loop.call_soon(self._publish_soon_events)

    def _publish_soon_events(self) -> None:
        soon = self._soon
        while soon:
            context, event = soon.popleft()
            context.run(self._publish, event)

    def _publish(self, event: Event) -> None:
        for deliver in list(self._subscribers.get(type(event), ())):
            _run(deliver, event)
        later = self._deferred.get(type(event))
        if later:
            self._queue.append((contextvars.copy_context(), tuple(later), later, event))
            if not self._drain_scheduled:
                self._schedule_drain()

    def _schedule_drain(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): deliver now
            self._drain()
            return
        self._drain_scheduled = True
        # A timer due now, not call_soon: a timer joins the ready callbacks after the ones
        # scheduled before it (the woken route), not ahead of them.
        loop.call_later(0, self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        queue = self._queue
        while queue:
            context, at_publish, current, event = queue.popleft()
            for deliver in at_publish:
                if deliver in current:  # unsubscribed meanwhile: nothing more
                    context.run(_run, deliver, event)


def _run(deliver: Callable[[Event], None], event: Event) -> None:
    try:
        deliver(event)
    except Exception:
        log.exception("event subscriber failed on %s", type(event).__name__)
