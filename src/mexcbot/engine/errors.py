"""Errors the execution engine raises to its callers (the API maps them to HTTP statuses).

- `OrderNotFound`: no order with that reference (404).
- `InvalidOrder` / `OrderRuleViolation`: the request breaks a field rule or a symbol rule (422);
  nothing was persisted or sent. Re-exported here so callers import one module.
- `RiskRejected`: a risk limit refused the order (422/403); nothing persisted or sent.
- `OrderRejectedByExchange`: the exchange refused the order; it is stored as REJECTED with the
  exchange's code and message (4xx carrying `code`).
- `ExchangeNotReached`: the order could not be sent at all; stored as REJECTED (503).
- `OrderNotCancelable`: the order is already final, or still unresolved on the exchange (409).
- `CancelNotConfirmed`: the cancel request got no answer and the order still looks open; a
  cancel is safe to repeat (503).
- `IdempotencyConflict`: an idempotency key that already placed an order was used again for a
  different order; nothing was sent (409).
- `OrderNeverReceived`: the submit failed in a way that left the outcome open, and the exchange
  proved it never received the order: stored as REJECTED (-2013), nothing executed (503).
- `UnknownSymbol`: the exchange lists no such symbol (404).
- `PositionNotFound`: no position with that id (404).
- `AdoptionRefused`: a position cannot adopt those orders or holdings (422, naming the field).
- `RuleNotFound`: no auto-buy rule with that id (404).
- `TokenNameTaken` / `TokenNotFound`: token use cases (409 / 404).

Each error carries what a caller needs as data (the order, the field at fault), never only text.
"""

from __future__ import annotations

from mexcbot.domain.orders import InvalidOrder, Order
from mexcbot.domain.symbols import OrderRuleViolation


class ExecutionError(Exception):
    """Base of the engine's own errors."""


class OrderNotFound(ExecutionError):
    def __init__(self, symbol: str, order_ref: str) -> None:
        super().__init__(f"no order {order_ref!r} on {symbol} (neither client nor exchange id)")
        self.symbol = symbol
        self.order_ref = order_ref


class UnknownSymbol(InvalidOrder):
    """The exchange lists no symbol by that name (an order on it is invalid too)."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"symbol: the exchange lists no symbol {symbol!r}", field="symbol")
        self.symbol = symbol


class RiskRejected(ExecutionError):
    """A risk limit refused the order; `limit` names the limit."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"risk limit {limit}: {detail}")
        self.limit = limit
        self.detail = detail


class OrderRejectedByExchange(ExecutionError):
    """The exchange refused the order; `order` is the stored REJECTED order."""

    def __init__(self, order: Order) -> None:
        super().__init__(
            f"exchange rejected order {order.client_order_id}: "
            f"code {order.reject_code}: {order.reject_message}"
        )
        self.order = order
        self.code = order.reject_code
        self.msg = order.reject_message or ""


class ExchangeNotReached(ExecutionError):
    """The order could not be sent (the connection never opened); it is stored as REJECTED."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.client_order_id} was not sent: {order.reject_message}")
        self.order = order


class OrderNeverReceived(ExecutionError):
    """The submit's outcome was unknown and the exchange proved it never received the order;
    `order` is the stored REJECTED order. Nothing executed; placing again is a new order."""

    def __init__(self, order: Order) -> None:
        super().__init__(
            f"order {order.client_order_id} never reached the exchange (the submit failed and "
            "the exchange has no such order); nothing executed"
        )
        self.order = order


class OrderNotCancelable(ExecutionError):
    def __init__(self, order: Order, reason: str) -> None:
        super().__init__(f"order {order.client_order_id} cannot be canceled: {reason}")
        self.order = order
        self.reason = reason


class CancelNotConfirmed(ExecutionError):
    """The exchange did not confirm the cancel (timeout, outage) and the order still looks open
    as far as we know; `order` is what the database holds. Repeating the cancel is safe."""

    def __init__(self, order: Order, reason: str) -> None:
        super().__init__(f"cancel of order {order.client_order_id} not confirmed: {reason}")
        self.order = order
        self.reason = reason


class IdempotencyConflict(ExecutionError):
    """The idempotency key already placed `order`, which differs from what was asked now."""

    def __init__(self, order: Order) -> None:
        asked = order.request
        super().__init__(
            f"the idempotency key already placed order {order.client_order_id} "
            f"({asked.side} {asked.type} {asked.symbol}), which is not the order asked for now; "
            "use a new key for a new order"
        )
        self.order = order


class ListingNotFound(ExecutionError):
    field = "id"

    def __init__(self, listing_id: int) -> None:
        super().__init__(f"id: no listing {listing_id}")
        self.listing_id = listing_id


class PositionNotFound(ExecutionError):
    field = "id"

    def __init__(self, position_id: int) -> None:
        super().__init__(f"id: no position {position_id}")
        self.position_id = position_id


class AdoptionRefused(ExecutionError):
    """A position may not adopt what was asked (an unknown or unfilled order, more than the
    account holds); nothing was stored. `field` names the input at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class RuleNotFound(ExecutionError):
    field = "id"

    def __init__(self, rule_id: int) -> None:
        super().__init__(f"id: no auto-buy rule {rule_id}")
        self.rule_id = rule_id


class TokenNameTaken(ExecutionError):
    field = "name"

    def __init__(self, name: str) -> None:
        super().__init__(f"name: a token named {name!r} already exists; pick another name")
        self.name = name


class TokenNotFound(ExecutionError):
    field = "name"

    def __init__(self, name: str) -> None:
        super().__init__(f"name: no active token named {name!r}")
        self.name = name


__all__ = [
    "CancelNotConfirmed",
    "ExchangeNotReached",
    "ExecutionError",
    "IdempotencyConflict",
    "InvalidOrder",
    "OrderNeverReceived",
    "OrderNotCancelable",
    "OrderNotFound",
    "OrderRejectedByExchange",
    "OrderRuleViolation",
    "PositionNotFound",
    "RiskRejected",
    "RuleNotFound",
    "TokenNameTaken",
    "TokenNotFound",
    "UnknownSymbol",
]
