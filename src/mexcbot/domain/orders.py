"""Orders: the order aggregate, its lifecycle state machine, fills and client order ids.

Pure domain code: no I/O, no framework imports, Decimal for every number.

An `Order` keeps what the bot ASKED (`OrderRequest`, immutable once persisted) apart from what the
EXCHANGE REPORTED (exchange id, status, executed quantities, fees, exchange times). The bot
persists an order in PENDING_NEW with its client order id before sending it, so every transition
below must be safe to replay: late, duplicated and reordered exchange reports are merged
idempotently, and a method returns whether it changed anything so the caller knows whether to
publish an event.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
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
    }
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
    OrderStatus.NEW: _AFTER_ACCEPTANCE,
    OrderStatus.PARTIALLY_FILLED: _AFTER_ACCEPTANCE - {OrderStatus.PARTIALLY_FILLED},
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.PARTIALLY_CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
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
    """A caller-supplied order field breaks a rule; the message names the field and the rule."""


# --- client order ids --------------------------------------------------------------------------

CLIENT_ORDER_ID_PREFIX = "mxb"
CLIENT_ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ID_BODY_LENGTH = 32 - len(CLIENT_ORDER_ID_PREFIX)


def new_client_order_id() -> str:
    """A fresh random id (116 random bits) for an order with no natural idempotency key."""
    return CLIENT_ORDER_ID_PREFIX + secrets.token_hex(16)[:_ID_BODY_LENGTH]


def client_order_id_for(key: str) -> str:
    """The deterministic id for an idempotency key (e.g. "rule:7:listing:ABCUSDT").

    The same key always gives the same id, so a repeated trigger collides on the unique
    client_order_id instead of buying twice. Different keys collide with probability ~2^-116.
    """
    if not key:
        raise InvalidOrder("idempotency_key must not be empty")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return CLIENT_ORDER_ID_PREFIX + digest[:_ID_BODY_LENGTH]


def validate_client_order_id(value: str) -> str:
    """Return `value` if MEXC accepts it as newClientOrderId, else raise `InvalidOrder`."""
    if not CLIENT_ORDER_ID_PATTERN.fullmatch(value):
        raise InvalidOrder(
            "client_order_id must be 1 to 32 characters of letters, digits, '_' or '-' "
            f"(pattern {CLIENT_ORDER_ID_PATTERN.pattern}); got {value!r}"
        )
    return value


# --- fills -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of one order, as reported; unique per (symbol, exchange_trade_id)."""

    exchange_trade_id: str
    client_order_id: str
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time: datetime


# --- the order aggregate -----------------------------------------------------------------------

_SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,30}$")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the bot asked for. Never changes after the order is persisted."""

    symbol: str
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal | None
    quote_amount: Decimal | None
    price: Decimal | None
    client_order_id: str
    origin: OrderOrigin
    origin_ref: str | None

    def __post_init__(self) -> None:
        if not _SYMBOL_PATTERN.fullmatch(self.symbol):
            raise InvalidOrder(
                "symbol must be 2 to 30 upper-case letters or digits, like BTCUSDT; "
                f"got {self.symbol!r}"
            )
        validate_client_order_id(self.client_order_id)
        for name in ("quantity", "quote_amount", "price"):
            value: Decimal | None = getattr(self, name)
            if value is not None and not (value.is_finite() and value > 0):
                raise InvalidOrder(f"{name} must be a positive number; got {value}")
        if self.type is OrderType.MARKET:
            if (self.quantity is None) == (self.quote_amount is None):
                raise InvalidOrder("a MARKET order needs exactly one of quantity or quote_amount")
            if self.price is not None:
                raise InvalidOrder("price must be empty for a MARKET order")
        else:
            if self.quantity is None or self.price is None:
                raise InvalidOrder(f"a {self.type} order needs both quantity and price")
            if self.quote_amount is not None:
                raise InvalidOrder("quote_amount is only allowed for MARKET orders")
        if self.type is OrderType.LIMIT_MAKER and self.time_in_force is not TimeInForce.GTC:
            raise InvalidOrder("time_in_force must be GTC for a LIMIT_MAKER order")


@dataclass(eq=False, slots=True)
class Order:
    """The order aggregate. Create with `Order.place` (bot intent) or `Order.import_external`.

    Mutate only through the methods: they enforce `LEGAL_TRANSITIONS` and keep quantities
    monotonic. Executed quantities come only from `apply_exchange_update`; fee totals from
    `record_fill`, which the caller invokes once per fill that was new to the store.
    """

    request: OrderRequest
    created_at: datetime
    status: OrderStatus = OrderStatus.PENDING_NEW
    exchange_order_id: str | None = None
    executed_qty: Decimal = Decimal(0)
    cumulative_quote_qty: Decimal = Decimal(0)
    fees: dict[str, Decimal] = field(default_factory=dict)
    exchange_created_at: datetime | None = None
    exchange_updated_at: datetime | None = None
    reject_code: int | None = None
    reject_message: str | None = None
    unknown_reason: str | None = None
    is_external: bool = False

    @classmethod
    def place(
        cls,
        *,
        symbol: str,
        side: OrderSide,
        type: OrderType,
        created_at: datetime,
        quantity: Decimal | None = None,
        quote_amount: Decimal | None = None,
        price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        client_order_id: str | None = None,
        idempotency_key: str | None = None,
        origin: OrderOrigin = OrderOrigin.USER,
        origin_ref: str | None = None,
    ) -> Order:
        """A new order in PENDING_NEW, ready to be persisted before it is sent.

        The id is `client_order_id` if given (validated), else derived from `idempotency_key`,
        else random. Giving both is an error: which one wins would be a silent guess.
        """
        if client_order_id is not None and idempotency_key is not None:
            raise InvalidOrder("give either client_order_id or idempotency_key, not both")
        if client_order_id is None:
            client_order_id = (
                client_order_id_for(idempotency_key)
                if idempotency_key is not None
                else new_client_order_id()
            )
        if origin is OrderOrigin.EXTERNAL:
            raise InvalidOrder("origin EXTERNAL is for imported orders: use Order.import_external")
        request = OrderRequest(
            symbol=symbol,
            side=side,
            type=type,
            time_in_force=time_in_force,
            quantity=quantity,
            quote_amount=quote_amount,
            price=price,
            client_order_id=client_order_id,
            origin=origin,
            origin_ref=origin_ref,
        )
        return cls(request=request, created_at=created_at)

    @classmethod
    def import_external(
        cls,
        *,
        symbol: str,
        side: OrderSide,
        type: OrderType,
        exchange_order_id: str,
        client_order_id: str | None,
        quantity: Decimal | None,
        quote_amount: Decimal | None,
        price: Decimal | None,
        created_at: datetime,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> Order:
        """An order found on the exchange that the bot did not place (web UI, another tool).

        It starts in UNKNOWN with its exchange id; apply the exchange's report next. When the
        exchange has no client id for it, a deterministic one is derived from the exchange id, so
        importing the same order twice collides on the unique client_order_id. Query such an order
        by exchange id: the derived id is not known to the exchange.
        """
        if client_order_id is None or not CLIENT_ORDER_ID_PATTERN.fullmatch(client_order_id):
            client_order_id = client_order_id_for(f"external:{symbol}:{exchange_order_id}")
        request = OrderRequest(
            symbol=symbol,
            side=side,
            type=type,
            time_in_force=time_in_force,
            quantity=quantity,
            quote_amount=quote_amount,
            price=price,
            client_order_id=client_order_id,
            origin=OrderOrigin.EXTERNAL,
            origin_ref=None,
        )
        return cls(
            request=request,
            created_at=created_at,
            status=OrderStatus.UNKNOWN,
            exchange_order_id=exchange_order_id,
            exchange_created_at=created_at,
            is_external=True,
        )

    # --- reading ---

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def avg_price(self) -> Decimal | None:
        """Average execution price, derived; None until something executed."""
        if self.executed_qty == 0:
            return None
        return self.cumulative_quote_qty / self.executed_qty

    # --- transitions ---

    def acknowledge(self, exchange_order_id: str, at: datetime) -> bool:
        """The exchange accepted the order (REST ack). PENDING_NEW/UNKNOWN -> NEW.

        The ack can arrive after the stream already reported fills or a cancel: then only the
        exchange id and time are recorded. A different exchange id than the one known is a
        contradiction and raises.
        """
        if not exchange_order_id:
            raise InvalidOrder("exchange_order_id must not be empty")
        if self.status is OrderStatus.REJECTED:
            raise IllegalTransition(self.client_order_id, self.status, "acknowledge")
        if self.exchange_order_id not in (None, exchange_order_id):
            raise IllegalTransition(
                self.client_order_id,
                self.status,
                f"acknowledge as exchange order {exchange_order_id} "
                f"(known as {self.exchange_order_id})",
            )
        changed = False
        if self.exchange_order_id is None:
            self.exchange_order_id = exchange_order_id
            changed = True
        if self.exchange_created_at is None:
            self.exchange_created_at = at
            changed = True
        if OrderStatus.NEW in LEGAL_TRANSITIONS[self.status]:
            self.status = OrderStatus.NEW
            changed = True
        return changed

    def mark_unknown(self, reason: str) -> bool:
        """Submit outcome unknown (timeout, 5xx). Only from PENDING_NEW; repeats are no-ops."""
        if self.status is OrderStatus.UNKNOWN:
            return False
        if OrderStatus.UNKNOWN not in LEGAL_TRANSITIONS[self.status]:
            raise IllegalTransition(self.client_order_id, self.status, "mark unknown")
        self.status = OrderStatus.UNKNOWN
        self.unknown_reason = reason
        return True

    def reject(self, code: int | None, message: str) -> bool:
        """The exchange refused the order, or a query proved it never received it.

        Only from PENDING_NEW or UNKNOWN; rejecting a REJECTED order again is a no-op.
        """
        if self.status is OrderStatus.REJECTED:
            return False
        if OrderStatus.REJECTED not in LEGAL_TRANSITIONS[self.status]:
            raise IllegalTransition(self.client_order_id, self.status, "reject")
        self.status = OrderStatus.REJECTED
        self.reject_code = code
        self.reject_message = message
        return True

    def apply_exchange_update(
        self,
        status: OrderStatus,
        executed_qty: Decimal,
        cumulative_quote_qty: Decimal,
        at: datetime,
        *,
        exchange_order_id: str | None = None,
    ) -> bool:
        """Merge one exchange report (stream event, query, cancel response); True if it changed.

        Reports arrive late, twice and out of order, so this is a monotonic merge: quantities only
        go up, the status moves only along `LEGAL_TRANSITIONS` (a backward status is stale and
        ignored) and a terminal status never changes. A terminal order still takes larger
        quantities, because a cancel response can carry a pre-cancel snapshot.
        """
        if status not in EXCHANGE_STATUSES:
            raise IllegalTransition(self.client_order_id, self.status, f"apply reported {status}")
        if self.status is OrderStatus.REJECTED:
            raise IllegalTransition(self.client_order_id, self.status, f"apply reported {status}")
        if executed_qty < 0 or cumulative_quote_qty < 0:
            raise InvalidOrder("executed_qty and cumulative_quote_qty must not be negative")
        quantity = self.request.quantity
        if quantity is not None and executed_qty > quantity:
            raise InvalidOrder(f"executed_qty {executed_qty} exceeds the order quantity {quantity}")
        known_id = self.exchange_order_id
        if exchange_order_id is not None and known_id not in (None, exchange_order_id):
            raise IllegalTransition(
                self.client_order_id, self.status, f"apply a report for order {exchange_order_id}"
            )
        changed = False
        if exchange_order_id is not None and self.exchange_order_id is None:
            self.exchange_order_id = exchange_order_id
            changed = True
        if executed_qty > self.executed_qty:
            self.executed_qty = executed_qty
            self.cumulative_quote_qty = max(cumulative_quote_qty, self.cumulative_quote_qty)
            changed = True
        if status in LEGAL_TRANSITIONS[self.status]:
            self.status = status
            changed = True
        if changed and (self.exchange_updated_at is None or at > self.exchange_updated_at):
            self.exchange_updated_at = at
        return changed

    def record_fill(self, fill: Fill) -> None:
        """Add a fill's commission to the fee totals. Call once per fill the store saw as new."""
        if fill.client_order_id != self.client_order_id or fill.symbol != self.symbol:
            raise InvalidOrder(
                f"fill {fill.exchange_trade_id} belongs to {fill.symbol}/{fill.client_order_id}, "
                f"not to {self.symbol}/{self.client_order_id}"
            )
        if fill.commission:
            total = self.fees.get(fill.commission_asset, Decimal(0))
            self.fees[fill.commission_asset] = total + fill.commission
