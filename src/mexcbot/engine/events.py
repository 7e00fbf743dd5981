"""What happened in the engine, as frozen values: the bus (`mexcbot.engine.bus`) delivers them.

A leaf: event types import the domain and the reconciliation report value only, never a service,
so any layer may listen without pulling in the engine's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mexcbot.domain.orders import Fill, Order
from mexcbot.engine.orders.report import ReconciliationReport


class OrderUpdateKind(StrEnum):
    """Why an `OrderUpdated` was published."""

    CREATED = "created"  # intent persisted (PENDING_NEW), about to be sent
    ACKNOWLEDGED = "acknowledged"  # the exchange accepted it
    REJECTED = "rejected"  # refused by the exchange, or proven never received
    UNKNOWN = "unknown"  # submit outcome unknown; resolution follows
    EXCHANGE_UPDATE = "exchange_update"  # status/quantities changed from an exchange report
    CANCELED = "canceled"  # a cancel request of ours succeeded
    IMPORTED = "imported"  # found on the exchange, placed outside the bot
    LOST = "lost"  # acknowledged once, now unknown to the exchange


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
