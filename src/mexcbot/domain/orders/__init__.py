"""Orders: the vocabulary, client order ids, the PlaceOrder command and the Order aggregate.

Pure domain code: no I/O, no framework imports, Decimal for every number. Import from here; the
modules split the concept by part (vocabulary, ids, requests, the aggregate).
"""

from mexcbot.domain.orders.ids import (
    CLIENT_ORDER_ID_PATTERN,
    CLIENT_ORDER_ID_PREFIX,
    client_order_id_for,
    new_client_order_id,
    validate_client_order_id,
)
from mexcbot.domain.orders.order import NEVER_RECEIVED_CODE, NEVER_RECEIVED_MESSAGE, Order
from mexcbot.domain.orders.requests import (
    SYMBOL_PATTERN,
    Fill,
    OrderRequest,
    PlaceOrder,
    check_amounts,
    validate_symbol,
)
from mexcbot.domain.orders.vocabulary import (
    EXCHANGE_STATUSES,
    LEGAL_TRANSITIONS,
    NON_TERMINAL_STATUSES,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    UNRESOLVED_STATUSES,
    IllegalTransition,
    InvalidOrder,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "CLIENT_ORDER_ID_PREFIX",
    "EXCHANGE_STATUSES",
    "LEGAL_TRANSITIONS",
    "NEVER_RECEIVED_CODE",
    "NEVER_RECEIVED_MESSAGE",
    "NON_TERMINAL_STATUSES",
    "OPEN_STATUSES",
    "SYMBOL_PATTERN",
    "TERMINAL_STATUSES",
    "UNRESOLVED_STATUSES",
    "Fill",
    "IllegalTransition",
    "InvalidOrder",
    "Order",
    "OrderOrigin",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PlaceOrder",
    "TimeInForce",
    "check_amounts",
    "client_order_id_for",
    "new_client_order_id",
    "validate_client_order_id",
    "validate_symbol",
]
