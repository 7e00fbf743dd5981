"""The order vocabulary: sides, types, time in force, statuses and the lifecycle's transition table.

Pure domain code: no I/O, no framework imports.
"""

from __future__ import annotations

from enum import StrEnum


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"


class TimeInForce(StrEnum):
    """GTC for resting orders; the MEXC adapter maps IOC/FOK to MEXC's order types."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PARTIALLY_CANCELED = "PARTIALLY_CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"
    LOST = "LOST"
    """Acknowledged by the exchange, which later denied knowing it (absent from its open orders
    and answering "order does not exist" to a query). Final, but surfaced: the exchange lost it
    (a paper exchange reset, an exchange-side incident). A later report of the order is a
    contradiction, logged and counted like one for a REJECTED order."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


class OrderOrigin(StrEnum):
    """Who or what asked for the order; `Order.origin_ref` names the user/token, rule, position."""

    USER = "USER"
    RULE = "RULE"
    POSITION_EXIT = "POSITION_EXIT"
    EXTERNAL = "EXTERNAL"


TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.PARTIALLY_CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.LOST,
    }
)

#: Submitted (or about to be) but not yet confirmed by the exchange: resolved by a query of the
#: client order id, never by re-sending.
UNRESOLVED_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN}
)

#: Statuses the exchange can report for an order it has; PENDING_NEW, UNKNOWN and REJECTED are
#: conclusions the bot draws itself.
EXCHANGE_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.PARTIALLY_CANCELED,
        OrderStatus.EXPIRED,
    }
)

_AFTER_ACCEPTANCE = EXCHANGE_STATUSES - {OrderStatus.NEW}

#: The state machine: status -> statuses it may move to. Anything else reported by the exchange is
#: stale (a no-op) unless the order was REJECTED, which contradicts any exchange report.
LEGAL_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_NEW: EXCHANGE_STATUSES | {OrderStatus.REJECTED, OrderStatus.UNKNOWN},
    OrderStatus.UNKNOWN: EXCHANGE_STATUSES | {OrderStatus.REJECTED},
    OrderStatus.NEW: _AFTER_ACCEPTANCE | {OrderStatus.LOST},
    OrderStatus.PARTIALLY_FILLED: (_AFTER_ACCEPTANCE - {OrderStatus.PARTIALLY_FILLED})
    | {OrderStatus.LOST},
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.PARTIALLY_CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.LOST: frozenset(),
}

OPEN_STATUSES: frozenset[OrderStatus] = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
NON_TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(OrderStatus) - TERMINAL_STATUSES


class IllegalTransition(Exception):
    """An operation the order's current state forbids; the order is left unchanged."""

    def __init__(self, client_order_id: str, current: OrderStatus, attempted: str) -> None:
        super().__init__(f"order {client_order_id}: cannot {attempted} from status {current}")
        self.client_order_id = client_order_id
        self.current = current
        self.attempted = attempted


class InvalidOrder(ValueError):
    """A caller-supplied order field breaks a rule. `field` names it (None when the rule is about
    the combination, e.g. both ids given); the message names the field and the rule."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
