"""Notifications as values, and how an engine event becomes one.

A `Notification` has a deterministic event id derived from what happened (an order's client
order id, a position's exit-failure count, the time a stream went stale), so the same change
seen twice (a repeated publish, a restart that reconciles it again) is one outbox row per
channel. `NotificationMapper.map` runs inside a bus subscriber: it reads a few fields of the event
(positions and orders are mutable objects, so they are read now, not later) and formats one line;
nothing here waits or touches the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from mexcbot.domain.exits import ExitTrigger
from mexcbot.domain.orders import (
    Order,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    client_order_id_for,
)
from mexcbot.domain.performance import Performance
from mexcbot.domain.risk import TradingState
from mexcbot.engine.events import (
    Event,
    ListingChanged,
    ListingChangeKind,
    OrderUpdated,
    PositionChanged,
    PositionChangeKind,
    ReconciliationFinished,
    SnipeFinished,
    StreamStatusChanged,
    TradingStateChanged,
)
from mexcbot.engine.orders.report import DISCREPANCY_KINDS
from mexcbot.engine.positions.book import position_id_of
from mexcbot.notify.kinds import NotificationType

#: The daily-loss switch changes the trading state as this actor (engine/risk.py).
DAILY_LOSS_ACTOR = "system"
_TRIGGER_NAMES = {
    ExitTrigger.STOP_LOSS: "stop loss",
    ExitTrigger.TRAILING_STOP: "trailing stop",
    ExitTrigger.TAKE_PROFIT: "take profit",
    ExitTrigger.CLOSE: "close",
}
#: Ladder levels tried when an exit order's trigger must be derived from its client order id.
_MAX_LEVEL = 20
#: Exit orders remembered (placed, not yet final) at most; the oldest is forgotten first (its
#: trigger is then derived from its client order id).
_EXITS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell the trader: `text` for people, `data` (JSON values, decimals as
    strings) for machines."""

    event_id: str
    type: NotificationType
    at: datetime
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def exit_trigger_of(order: Order) -> tuple[ExitTrigger, int] | None:
    """Which exit (trigger, level) an exit order's deterministic client order id came from
    (domain/exits.py `ExitDecision.idempotency_key`, the IOC fallback's ":ioc" suffix)."""
    position_id = position_id_of(order)
    if position_id is None:
        return None
    for trigger in ExitTrigger:
        for level in range(_MAX_LEVEL + 1):
            key = f"position:{position_id}:{trigger}:{level}"
            candidates = (client_order_id_for(key), client_order_id_for(f"{key}:ioc"))
            if order.client_order_id in candidates:
                return trigger, level
    return None


class NotificationMapper:
    """Turns bus events into notifications; keeps what it needs to say each thing once (a stream
    outage is one "stale" and one "recovered", however many reconnect attempts it took)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._connected: dict[str, bool] = {}
        self._outage_since: dict[str, datetime] = {}
        self._exit_triggers: dict[str, tuple[ExitTrigger, int | None]] = {}

    def map(self, event: Event) -> Notification | None:
        match event:
            case OrderUpdated():
                return self._order(event.order)
            case PositionChanged():
                return self._position(event)
            case TradingStateChanged():
                return _trading_state(event)
            case StreamStatusChanged():
                return self._stream(event)
            case ReconciliationFinished():
                return _reconciliation(event, self._clock)
            case ListingChanged():
                return _listing(event)
            case SnipeFinished():
                return _snipe(event)
        return None

    def _order(self, order: Order) -> Notification | None:
        if not order.is_terminal or order.executed_qty <= 0:
            return None
        asked = order.request
        if asked.origin is OrderOrigin.POSITION_EXIT:
            known = self._exit_triggers.pop(order.client_order_id, None)
            found = known or exit_trigger_of(order)
            leg, reason = "exit", "exit"
            if found is not None:
                trigger, level = found
                reason = _TRIGGER_NAMES[trigger]
                if trigger is ExitTrigger.TAKE_PROFIT and level is not None:
                    reason = f"{reason} {level + 1}"
        else:
            leg = "entry" if asked.side is OrderSide.BUY else "exit"
            reason = asked.origin.value.lower()
            if asked.origin_ref and position_id_of(order) is None:
                reason = f"{reason} ({asked.origin_ref})"
        position_id = position_id_of(order)
        price = order.avg_price
        partial = "" if order.status is OrderStatus.FILLED else " (partly)"
        text = (
            f"{leg.capitalize()} filled{partial}: {asked.side} {order.executed_qty} {asked.symbol} "
            f"at {price} for {order.cumulative_quote_qty}; reason: {reason}"
        )
        if position_id is not None:
            text += f"; position {position_id}"
        return Notification(
            event_id=f"order_filled:{order.client_order_id}",
            type=NotificationType.ORDER_FILLED,
            at=self._clock(),
            text=text,
            data={
                "leg": leg,
                "reason": reason,
                "client_order_id": order.client_order_id,
                "symbol": asked.symbol,
                "side": str(asked.side),
                "status": str(order.status),
                "executed_qty": _dec(order.executed_qty),
                "quote_qty": _dec(order.cumulative_quote_qty),
                "avg_price": _dec(price),
                "position_id": position_id,
            },
        )

    def _position(self, event: PositionChanged) -> Notification | None:
        position = event.position
        if event.kind is PositionChangeKind.EXIT_PLACED and position.exit_order_id:
            trigger = position.exit_trigger
            if trigger is not None:
                if len(self._exit_triggers) >= _EXITS_KEPT:
                    del self._exit_triggers[next(iter(self._exit_triggers))]
                self._exit_triggers[position.exit_order_id] = (trigger, position.exit_level)
            return None
        data: dict[str, Any] = {
            "position_id": position.id,
            "symbol": position.symbol,
            "quantity": _dec(position.quantity),
        }
        if event.kind is PositionChangeKind.EXIT_FAILED:
            data |= {"reason": position.exit_failed_reason, "failures": position.exit_failures}
            return Notification(
                event_id=f"exit_failed:{position.id}:{position.exit_failures}",
                type=NotificationType.EXIT_FAILED,
                at=self._clock(),
                text=(
                    f"EXIT FAILED: position {position.id} {position.symbol} still holds "
                    f"{position.quantity}: {position.exit_failed_reason}. Look at it."
                ),
                data=data,
            )
        if event.kind is PositionChangeKind.CLOSED and position.dust_quantity > 0:
            data |= {
                "dust_quantity": _dec(position.dust_quantity),
                "realised_pnl": _dec(position.realised_pnl),
            }
            return Notification(
                event_id=f"dust_left:{position.id}",
                type=NotificationType.DUST_LEFT,
                at=self._clock(),
                text=(
                    f"Dust left: position {position.id} {position.symbol} closed with "
                    f"{position.dust_quantity} {position.base_asset} below the exchange minimum"
                ),
                data=data,
            )
        return None

    def _stream(self, event: StreamStatusChanged) -> Notification | None:
        was_connected = self._connected.get(event.stream, False)
        self._connected[event.stream] = event.connected
        data: dict[str, Any] = {"stream": event.stream, "reason": event.reason}
        if was_connected and not event.connected:
            self._outage_since[event.stream] = event.at
            return Notification(
                event_id=f"stream_stale:{event.stream}:{event.at.isoformat()}",
                type=NotificationType.STREAM_STALE,
                at=event.at,
                text=f"The {event.stream} stream is down ({event.reason}); REST covers the gap",
                data=data | {"since": _iso(event.at)},
            )
        since = self._outage_since.get(event.stream)
        if event.connected and since is not None:
            del self._outage_since[event.stream]
            seconds = round((event.at - since).total_seconds(), 1)
            return Notification(
                event_id=f"stream_recovered:{event.stream}:{since.isoformat()}",
                type=NotificationType.STREAM_RECOVERED,
                at=event.at,
                text=f"The {event.stream} stream is back after {seconds} s",
                data=data | {"since": _iso(since), "down_seconds": seconds},
            )
        return None


def _trading_state(event: TradingStateChanged) -> Notification:
    limit_hit = event.changed_by == DAILY_LOSS_ACTOR
    kind = NotificationType.LIMIT_HIT if limit_hit else NotificationType.RISK_CHANGED
    what = "Daily loss limit hit" if limit_hit else "Risk changed"
    blocked = {
        TradingState.ACTIVE: "trading",
        TradingState.REDUCING: "no new entries, exits still sell",
        TradingState.HALTED: "nothing is sent, exits included",
    }[event.state]
    reason = f": {event.reason}" if event.reason else ""
    return Notification(
        event_id=f"{kind}:{event.at.isoformat()}",
        type=kind,
        at=event.at,
        text=f"{what}: {event.state} ({blocked}) by {event.changed_by}{reason}",
        data={"state": str(event.state), "reason": event.reason, "changed_by": event.changed_by},
    )


def _reconciliation(
    event: ReconciliationFinished, clock: Callable[[], datetime]
) -> Notification | None:
    report = event.report
    if report.discrepancies == 0:
        return None
    at = report.finished_at or clock()
    found = ", ".join(
        f"{kind} {report.count(kind)}" for kind in DISCREPANCY_KINDS if report.count(kind)
    )
    return Notification(
        event_id=f"reconciliation:{at.isoformat()}",
        type=NotificationType.RECONCILIATION_DISCREPANCY,
        at=at,
        text=f"Reconciliation found {report.discrepancies} discrepancies: {found}",
        data=report.summary(),
    )


def _listing(event: ListingChanged) -> Notification | None:
    if event.kind is not ListingChangeKind.DETECTED:
        return None
    listing = event.listing
    opens = f", opens {listing.open_time.isoformat()}" if listing.open_time else ""
    return Notification(
        event_id=f"listing_detected:{listing.symbol}:{_iso(listing.open_time)}",
        type=NotificationType.LISTING_DETECTED,
        at=listing.first_seen_at,
        text=f"New listing {listing.symbol}{opens} (source {listing.source})",
        data={
            "symbol": listing.symbol,
            "open_time": _iso(listing.open_time),
            "source": str(listing.source),
            "status": str(listing.status),
        },
    )


def _snipe(event: SnipeFinished) -> Notification:
    execution = event.execution
    steps = {
        "armed_ms": event.armed_ms,
        "fired_ms": event.fired_ms,
        "accepted_ms": event.accepted_ms,
        "filled_ms": event.filled_ms,
    }
    timing = ", ".join(f"{k[:-3]} {v:+.0f} ms" for k, v in steps.items() if v is not None)
    return Notification(
        event_id=f"snipe:{execution.rule_id}:{execution.key}",
        type=NotificationType.SNIPE_RESULT,
        at=execution.created_at,
        text=(
            f"Snipe {event.listing.symbol}: {execution.outcome} after {event.attempts} "
            f"attempt(s); {timing or 'no timings'}"
        ),
        data={
            "symbol": event.listing.symbol,
            "rule_id": execution.rule_id,
            "outcome": str(execution.outcome),
            "client_order_id": execution.client_order_id,
            "attempts": event.attempts,
            **steps,
        },
    )


def startup(boot_id: str, mode: str, version: str, at: datetime) -> Notification:
    return Notification(
        event_id=f"startup:{boot_id}",
        type=NotificationType.STARTUP,
        at=at,
        text=f"mexcbot {version} started in {mode.upper()} mode at {at:%Y-%m-%d %H:%M:%S} UTC",
        data={"mode": mode, "version": version},
    )


def unclean_stop(previous_boot_id: str, at: datetime) -> Notification:
    """The run that started at `previous_boot_id` never said it was stopping: it crashed or was
    killed (told at the next start, so a crash is never silent)."""
    return Notification(
        event_id=f"unclean_stop:{previous_boot_id}",
        type=NotificationType.UNCLEAN_STOP,
        at=at,
        text=(
            f"The previous run (started {previous_boot_id}) ended without stopping cleanly: it "
            "crashed or was killed. This start reconciled orders with the exchange."
        ),
        data={"previous_start": previous_boot_id, "unclean": True},
    )


def shutdown(boot_id: str, at: datetime) -> Notification:
    return Notification(
        event_id=f"shutdown:{boot_id}",
        type=NotificationType.SHUTDOWN,
        at=at,
        text=f"mexcbot is stopping (it started {boot_id})",
        data={"started": boot_id},
    )


def daily_summary(end: datetime, perf: Performance, open_positions: int) -> Notification:
    win_rate = "n/a" if perf.win_rate is None else f"{(perf.win_rate * 100):.0f}%"
    return Notification(
        event_id=f"daily_summary:{end.isoformat()}",
        type=NotificationType.DAILY_SUMMARY,
        at=end,
        text=(
            f"Daily summary to {end:%Y-%m-%d %H:%M} UTC: realised PnL {perf.realised_pnl}, "
            f"{perf.closed} closed ({perf.wins} won, win rate {win_rate}), "
            f"{open_positions} open"
        ),
        data={
            "until": end.isoformat(),
            "realised_pnl": str(perf.realised_pnl),
            "closed": perf.closed,
            "wins": perf.wins,
            "losses": perf.losses,
            "win_rate": _dec(perf.win_rate),
            "fees_quote": str(perf.fees_quote),
            "open_positions": open_positions,
        },
    )


def test_message(actor: str, at: datetime) -> Notification:
    return Notification(
        event_id=f"test:{uuid.uuid4().hex}",
        type=NotificationType.TEST,
        at=at,
        text=f"Test notification from mexcbot (asked by {actor})",
        data={"actor": actor},
    )


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
