"""The live API's topics: which role may read each, and what an engine event says on the wire.

One table (``TOPIC_ROLES``) decides who may subscribe to what, so adding an admin-only topic later
is one line here, not a check in the session. Every payload is built from the same response
schemas as the REST API (``OrderOut``, ``BalanceOut``): the websocket can never show a field the
REST API hides, and every Decimal travels as a JSON string.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from mexcbot.api.autobuy_schemas import ExecutionOut
from mexcbot.api.listing_schemas import ListingOut, latency_ms
from mexcbot.api.position_schemas import PositionOut
from mexcbot.api.schemas import BalanceOut, OrderOut
from mexcbot.domain.autobuy import RuleExecution
from mexcbot.domain.decimals import decimal_text
from mexcbot.domain.market import Balance
from mexcbot.domain.orders import SYMBOL_PATTERN, Fill, Order
from mexcbot.domain.positions import Position
from mexcbot.domain.tokens import TokenRole, role_allows
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

ORDERS: Final = "orders"
FILLS: Final = "fills"
BALANCES: Final = "balances"
TICKERS: Final = "tickers"
"""Every symbol's ticker; ``tickers:BTCUSDT`` is one symbol's."""
STREAMS: Final = "streams"
RECONCILIATION: Final = "reconciliation"
POSITIONS: Final = "positions"
RISK: Final = "risk"
"""The trading state (ACTIVE / REDUCING / HALTED) and the risk limits."""
LISTINGS: Final = "listings"
"""New listings (detected, open, trading) and the snipes' results with their latency."""
AUTOBUY: Final = "autobuy"
"""Auto-buy rule executions (each begin and finish)."""

TOPIC_ROLES: Final[dict[str, TokenRole]] = {
    ORDERS: TokenRole.READ,
    FILLS: TokenRole.READ,
    BALANCES: TokenRole.READ,
    TICKERS: TokenRole.READ,
    STREAMS: TokenRole.READ,
    RECONCILIATION: TokenRole.READ,
    POSITIONS: TokenRole.READ,
    RISK: TokenRole.READ,
    LISTINGS: TokenRole.READ,
    AUTOBUY: TokenRole.READ,
}
"""The role a topic needs (a family: ``tickers:BTCUSDT`` needs what ``tickers`` needs)."""

_SYMBOL = re.compile(SYMBOL_PATTERN)


class UnknownTopic(ValueError):
    """A subscription names a topic that does not exist; the message says which."""


def family(topic: str) -> str:
    """``tickers:BTCUSDT`` -> ``tickers``; every other topic is its own family."""
    return topic.partition(":")[0]


def ticker_symbol(topic: str) -> str | None:
    """The symbol of a one-symbol ticker topic, else None."""
    name, _, symbol = topic.partition(":")
    return symbol if name == TICKERS and symbol else None


def parse_topic(topic: object) -> str:
    """The topic as subscribed; `UnknownTopic` names what is wrong with it."""
    if not isinstance(topic, str):
        raise UnknownTopic(f"a topic must be a string; got {topic!r}")
    name, colon, symbol = topic.partition(":")
    if name not in TOPIC_ROLES:
        known = ", ".join([*TOPIC_ROLES, "tickers:<SYMBOL>"])
        raise UnknownTopic(f"unknown topic {topic!r}; the topics are {known}")
    if colon and (name != TICKERS or not _SYMBOL.fullmatch(symbol)):
        raise UnknownTopic(
            f"unknown topic {topic!r}: only tickers take a symbol, as tickers:BTCUSDT "
            "(upper-case letters and digits)"
        )
    return topic


def needed_role(topic: str) -> TokenRole:
    return TOPIC_ROLES[family(topic)]


def readable_topics(role: TokenRole) -> list[str]:
    """The topic families a token of ``role`` may subscribe to (told to it on authentication)."""
    return [topic for topic, needed in TOPIC_ROLES.items() if role_allows(role, needed)]


def covers(subscribed: frozenset[str] | set[str], topic: str) -> bool:
    """Whether a connection subscribed to ``subscribed`` gets a message of ``topic``."""
    return topic in subscribed or (topic.startswith("tickers:") and TICKERS in subscribed)


# --- events as (topic, data) ----------------------------------------------------------------------

_TOPIC_OF: Final[dict[type, str]] = {
    OrderUpdated: ORDERS,
    FillRecorded: FILLS,
    BalanceChanged: BALANCES,
    StreamStatusChanged: STREAMS,
    ReconciliationFinished: RECONCILIATION,
    PositionChanged: POSITIONS,
    TradingStateChanged: RISK,
    ListingChanged: LISTINGS,
    SnipeFinished: LISTINGS,
    RuleExecuted: AUTOBUY,
}


def event_topic(event: Event) -> str:
    """The topic an engine event is published on."""
    if isinstance(event, PriceChanged):
        return f"{TICKERS}:{event.symbol}"
    return _TOPIC_OF[type(event)]


def settled(event: Event) -> Event:
    """``event`` with its order copied: an `Order` is a mutable aggregate the engine keeps
    changing, and the message is encoded later (off the engine's path), as it was now."""
    match event:
        case OrderUpdated(order=order, kind=kind):
            return OrderUpdated(order.snapshot(), kind)
        case FillRecorded(order=order, fill=fill):
            return FillRecorded(order.snapshot(), fill)
        case PositionChanged(position=position):
            return replace(event, position=copy.deepcopy(position))
    return event


def event_message(event: Event) -> tuple[str, dict[str, Any]]:
    """The topic and JSON-ready data of an engine event's ``update`` message."""
    match event:
        case OrderUpdated(order=order, kind=kind):
            return ORDERS, {"kind": kind.value, "order": order_data(order)}
        case FillRecorded(order=order, fill=fill):
            return FILLS, {"fill": fill_data(fill), "order": order_data(order)}
        case BalanceChanged():
            return BALANCES, balance_change_data(event)
        case PriceChanged():
            return f"{TICKERS}:{event.symbol}", price_data(event)
        case StreamStatusChanged():
            return STREAMS, stream_data(event)
        case PositionChanged(position=position, kind=kind, detail=detail):
            return POSITIONS, {
                "kind": kind.value,
                "detail": detail,
                "position": position_data(position),
            }
        case TradingStateChanged():
            return RISK, {
                "state": event.state.value,
                "reason": event.reason,
                "changed_by": event.changed_by,
                "at": timestamp(event.at),
            }
        case ReconciliationFinished(report=report):
            return RECONCILIATION, {
                "finished_at": timestamp(report.finished_at),
                **report.summary(),
            }
        case ListingChanged(listing=listing, kind=kind):
            return LISTINGS, {
                "kind": kind.value,
                "listing": ListingOut.of(listing).model_dump(mode="json"),
            }
        case SnipeFinished():
            return LISTINGS, snipe_data(event)
        case RuleExecuted(execution=execution):
            return AUTOBUY, {"execution": execution_data(execution)}
    raise TypeError(f"no live topic carries {type(event).__name__}")


def snipe_data(event: SnipeFinished) -> dict[str, Any]:
    execution = event.execution
    return {
        "kind": "snipe",
        "listing": ListingOut.of(event.listing).model_dump(mode="json"),
        "rule_id": execution.rule_id,
        "outcome": execution.outcome.value,
        "client_order_id": execution.client_order_id,
        "position_id": execution.position_id,
        "quantity": money(execution.quantity),
        "average_price": money(execution.average_price),
        "armed_ms": latency_ms(event.armed_ms),
        "fired_ms": latency_ms(event.fired_ms),
        "accepted_ms": latency_ms(event.accepted_ms),
        "filled_ms": latency_ms(event.filled_ms),
        "attempts": event.attempts,
        "detail": execution.detail,
    }


def execution_data(execution: RuleExecution) -> dict[str, Any]:
    return ExecutionOut.of(execution).model_dump(mode="json")


def position_data(position: Position) -> dict[str, Any]:
    return PositionOut.of(position, None).model_dump(mode="json")


def order_data(order: Order) -> dict[str, Any]:
    return OrderOut.of(order).model_dump(mode="json")


def fill_data(fill: Fill) -> dict[str, Any]:
    return {
        "exchange_trade_id": fill.exchange_trade_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "price": money(fill.price),
        "quantity": money(fill.qty),
        "quote_quantity": money(fill.quote_qty),
        "commission": money(fill.commission),
        "commission_asset": fill.commission_asset,
        "is_maker": fill.is_maker,
        "time": timestamp(fill.time),
    }


def balance_data(balance: Balance) -> dict[str, Any]:
    return BalanceOut(asset=balance.asset, free=balance.free, locked=balance.locked).model_dump(
        mode="json"
    )


def balance_change_data(event: BalanceChanged) -> dict[str, Any]:
    return {
        "asset": event.asset,
        "free": money(event.free),
        "locked": money(event.locked),
        "at": timestamp(event.at),
    }


def price_data(event: PriceChanged) -> dict[str, Any]:
    return {
        "symbol": event.symbol,
        "last_price": money(event.last),
        "bid_price": money(event.bid),
        "ask_price": money(event.ask),
        "at": timestamp(event.at),
    }


def stream_data(event: StreamStatusChanged) -> dict[str, Any]:
    return {
        "stream": event.stream,
        "connected": event.connected,
        "reason": event.reason,
        "reconnects": event.reconnects,
        "gaps": event.gaps,
        "at": timestamp(event.at),
    }


def money(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
