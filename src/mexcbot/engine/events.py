"""A tiny in-process event bus: the engine publishes what happened, the API listens.

Subscribers are plain synchronous callables run in publish order on the publisher's task. A
failing subscriber is logged and skipped: a broken metrics hook or WebSocket must never fail (or
roll back) a trade that already happened. Events are published only after the change committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from mexcbot.domain.orders import Fill, Order

if TYPE_CHECKING:
    from mexcbot.engine.reconciliation import ReconciliationReport

log = logging.getLogger(__name__)


class OrderUpdateKind(StrEnum):
    """Why an `OrderUpdated` was published."""

    CREATED = "created"  # intent persisted (PENDING_NEW), about to be sent
    ACKNOWLEDGED = "acknowledged"  # the exchange accepted it
    REJECTED = "rejected"  # refused by the exchange, or proven never received
    UNKNOWN = "unknown"  # submit outcome unknown; resolution follows
    EXCHANGE_UPDATE = "exchange_update"  # status/quantities changed from an exchange report
    CANCELED = "canceled"  # a cancel request of ours succeeded
    IMPORTED = "imported"  # found on the exchange, placed outside the bot


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    order: Order
    kind: OrderUpdateKind


@dataclass(frozen=True, slots=True)
class FillRecorded:
    order: Order
    fill: Fill


@dataclass(frozen=True, slots=True)
class ReconciliationFinished:
    report: ReconciliationReport


Event = OrderUpdated | FillRecorded | ReconciliationFinished
_E = TypeVar("_E", OrderUpdated, FillRecorded, ReconciliationFinished)


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
