"""What happened in the engine, as frozen values: the bus (`mexcbot.engine.bus`) delivers them.

A leaf: event types import the domain and the reconciliation report value only, never a service,
so any layer may listen without pulling in the engine's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from mexcbot.domain.autobuy import RuleExecution
from mexcbot.domain.listings import Listing
from mexcbot.domain.orders import Fill, Order
from mexcbot.domain.positions import Position
from mexcbot.domain.risk import RiskLimits, TradingState
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


@dataclass(frozen=True, slots=True)
class BalanceChanged:
    """An asset's balance as the exchange reported it (user stream or a REST snapshot)."""

    asset: str
    free: Decimal
    locked: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class PriceChanged:
    """A symbol's latest prices from the market stream (or REST when the stream is stale)."""

    symbol: str
    last: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    at: datetime
    volume: Decimal = Decimal(0)
    """Base quantity traded (stream trades) since the symbol's previous `PriceChanged`."""


@dataclass(frozen=True, slots=True)
class StreamStatusChanged:
    """An exchange stream connected or lost its connection; a loss is a possible gap that REST
    reconciliation closes. `stream` names it: "user" (the account) or "market"."""

    stream: str
    connected: bool
    reason: str | None
    reconnects: int
    gaps: int
    at: datetime


class PositionChangeKind(StrEnum):
    """Why a `PositionChanged` was published."""

    OPENED = "opened"
    FILLED = "filled"  # an entry or exit fill moved it
    EXITS_CHANGED = "exits_changed"  # its rules changed, or a price moved its trailing stop
    EXIT_PLACED = "exit_placed"  # an exit order was sent
    EXIT_FAILED = "exit_failed"  # its exit orders sold nothing, again: a human must look
    CLOSED = "closed"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class PositionChanged:
    position: Position
    kind: PositionChangeKind
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class TradingStateChanged:
    """The trading state or the risk limits changed (an admin, or the daily-loss switch)."""

    state: TradingState
    limits: RiskLimits
    reason: str | None
    changed_by: str
    at: datetime


class ListingChangeKind(StrEnum):
    DETECTED = "detected"  # first seen (any source)
    OPEN = "open"  # tradable through the API
    TRADING = "trading"  # first trade seen
    UPDATED = "updated"  # another source, or a moved open time


@dataclass(frozen=True, slots=True)
class ListingChanged:
    listing: Listing
    kind: ListingChangeKind


@dataclass(frozen=True, slots=True)
class SnipeFinished:
    """A listing snipe ended (bought, not filled, gave up). Times are milliseconds relative to
    the listing's open time (negative: before it); None when the step did not happen."""

    listing: Listing
    execution: RuleExecution
    armed_ms: float | None
    fired_ms: float | None
    accepted_ms: float | None
    filled_ms: float | None
    attempts: int


@dataclass(frozen=True, slots=True)
class RuleExecuted:
    """An auto-buy rule fired (or was stopped by a guard), with its outcome so far."""

    execution: RuleExecution


Event = (
    OrderUpdated
    | FillRecorded
    | ReconciliationFinished
    | BalanceChanged
    | PriceChanged
    | StreamStatusChanged
    | PositionChanged
    | TradingStateChanged
    | ListingChanged
    | SnipeFinished
    | RuleExecuted
)
