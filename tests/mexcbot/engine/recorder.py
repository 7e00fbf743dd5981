"""Collects the engine's events so tests can assert what was published."""

from __future__ import annotations

from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import (
    FillRecorded,
    OrderUpdated,
    OrderUpdateKind,
    ReconciliationFinished,
)


class EventRecorder:
    def __init__(self, bus: EventBus) -> None:
        self.updates: list[OrderUpdated] = []
        self.fills: list[FillRecorded] = []
        self.reconciliations: list[ReconciliationFinished] = []
        bus.subscribe(OrderUpdated, self.updates.append)
        bus.subscribe(FillRecorded, self.fills.append)
        bus.subscribe(ReconciliationFinished, self.reconciliations.append)

    def kinds(self, client_order_id: str) -> list[OrderUpdateKind]:
        return [u.kind for u in self.updates if u.order.client_order_id == client_order_id]
