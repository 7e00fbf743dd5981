"""A tiny in-process event bus: the engine publishes what happened, the API and telemetry listen.

Subscribers are plain synchronous callables run in publish order on the publisher's task. A
failing subscriber is logged and skipped: a broken metrics hook or WebSocket must never fail (or
roll back) a trade that already happened. Events are published only after the change committed.
"""

from __future__ import annotations

import logging
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
    SnipeFinished,
    StreamStatusChanged,
    TradingStateChanged,
)

log = logging.getLogger(__name__)

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
)


class EventBus:
    """Publish/subscribe by event type. Not thread-safe: use it from the event loop only."""

    def __init__(self) -> None:
        self._subscribers: dict[type[Event], list[Callable[[Event], None]]] = {}

    def subscribe(self, event_type: type[_E], callback: Callable[[_E], None]) -> Callable[[], None]:
        """Call `callback` for every published `event_type`; returns the unsubscribe function."""

        def deliver(event: Event) -> None:
            if isinstance(event, event_type):
                callback(event)

        callbacks = self._subscribers.setdefault(event_type, [])
        callbacks.append(deliver)

        def unsubscribe() -> None:
            if deliver in callbacks:
                callbacks.remove(deliver)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for deliver in list(self._subscribers.get(type(event), ())):
            try:
                deliver(event)
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)
