"""Typed MEXC errors that callers can act on, and the one code-to-class table.

Every error keeps MEXC's numeric ``code`` (``None`` when the failure never produced one, e.g. a
timeout), its ``msg`` and the HTTP status. Messages never contain the API key, secret or signature:
they are built from the exchange's own text and the endpoint path only.
"""

from __future__ import annotations

import re
from typing import Final


class MexcError(Exception):
    """Base of every error the MEXC client raises."""

    def __init__(self, code: int | None, msg: str, http_status: int | None = None) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        super().__init__(f"MEXC error {code} (HTTP {http_status}): {msg}")


class AccessDenied(MexcError):
    """The API key is missing, malformed, not whitelisted for this IP, or lacks the permission."""


class InvalidSignature(MexcError):
    """The signature did not verify (602 / 700002): wrong secret, or the signed bytes differ."""


class TimestampOutsideRecvWindow(MexcError):
    """700003: the local clock drifted from the server's; call ``sync_time()`` and try again."""


class RateLimited(MexcError):
    """HTTP 429. ``retry_after`` is the server's Retry-After in seconds (``None`` if absent)."""

    def __init__(
        self, code: int | None, msg: str, http_status: int | None, retry_after: float | None
    ) -> None:
        super().__init__(code, msg, http_status)
        self.retry_after = retry_after


class BudgetExhausted(MexcError):
    """Raised before sending: a read would have waited for rate-limit budget longer than the
    client's bound. Nothing was sent; ``retry_after`` is the estimated wait in seconds."""

    def __init__(self, endpoint: str, retry_after: float) -> None:
        super().__init__(
            None, f"{endpoint}: no rate-limit budget for about {retry_after:.1f} s", None
        )
        self.retry_after = retry_after


class IpBanned(RateLimited):
    """HTTP 418: the IP is banned for repeated rate-limit violations (2 minutes to 3 days)."""


class OrderNotFound(MexcError):
    """-2011 / -2013: the exchange has no order to act on.

    -2013 "Order does not exist." answers a query for an id it does not know. -2011 "Unknown order
    sent." answers a cancel of an unknown order AND of one that is already final (filled or
    canceled): read the order back to learn which.
    """


class OrderRejected(MexcError):
    """The exchange refused a write for a business reason; the order definitely does not exist."""


class InvalidOrderParameter(OrderRejected):
    """A parameter of the order breaks the symbol's rules; ``field`` names it when known.

    MEXC's real answer for too many decimals (trailing zeros count) is HTTP 400 with code 400 and
    " amount scale is invalid" / " quantity scale is invalid" (also accepted: "price"); "amount"
    is the quote amount, reported as field ``quoteOrderQty``. The simulator's older answers, -1111
    "<field> ... has too many decimals" and -1013 for a quantity below the minimum, map here too.
    """

    def __init__(
        self, code: int | None, msg: str, http_status: int | None = None, *, field: str | None
    ) -> None:
        super().__init__(code, msg, http_status)
        self.field = field


class LimitMakerWouldTake(OrderRejected):
    """-2010: a LIMIT_MAKER order would have taken liquidity (an older simulator answer; real MEXC
    most likely accepts such an order and then cancels it, so it ends CANCELED)."""


class OrderTypeNotAllowed(OrderRejected):
    """30041: the symbol does not take this order type; 30019 / 30051 "api market order is
    disabled" (30051 in real traffic, 30019 in the docs' table)."""


class TooManyOpenOrders(OrderRejected):
    """30029 "Cannot exceed the maximum order limit" (500 open orders per account)."""


class PriceOutOfBand(OrderRejected):
    """30010: the price is outside PERCENT_PRICE_BY_SIDE (LIMIT, IOC, FOK; against the last
    trade price). The code is undocumented for this rule."""


class SymbolNotTradable(OrderRejected):
    """10007 "symbol not support api": not (yet) API-tradable; sniper logic retries on this."""


class MinNotional(OrderRejected):
    """30002: the order's notional is below the symbol's minimum."""


class InsufficientBalance(OrderRejected):
    """10101 / 30004: not enough free balance (or position) to place the order."""


class Oversold(OrderRejected):
    """30005: selling more than is available, or no liquidity for a market sell."""


class OutcomeUnknown(MexcError):
    """A write's result is unknown (timeout, dropped connection, 5xx): the order MAY exist.

    Never re-send blindly: resolve by querying ``get_order(symbol, client_order_id=...)`` with the
    ``client_order_ids`` carried here (one for a single order, all of them for a batch).
    """

    def __init__(
        self,
        msg: str,
        *,
        client_order_ids: tuple[str, ...] = (),
        http_status: int | None = None,
    ) -> None:
        super().__init__(None, msg, http_status)
        self.client_order_ids = client_order_ids

    @property
    def client_order_id(self) -> str | None:
        """The single order's client id (the first of a batch)."""
        return self.client_order_ids[0] if self.client_order_ids else None


class ExchangeUnavailable(MexcError):
    """A read kept failing (timeouts, connection errors, 5xx) after the bounded retries."""


#: MEXC code -> error class. Unlisted codes: ``OrderRejected`` on writes, ``MexcError`` on reads.
ERROR_CLASSES: Final[dict[int, type[MexcError]]] = {
    400: AccessDenied,
    401: AccessDenied,
    403: AccessDenied,
    10072: AccessDenied,
    700001: AccessDenied,
    700006: AccessDenied,
    700007: AccessDenied,
    602: InvalidSignature,
    700002: InvalidSignature,
    700003: TimestampOutsideRecvWindow,
    10007: SymbolNotTradable,
    30002: MinNotional,
    10101: InsufficientBalance,
    30004: InsufficientBalance,
    30005: Oversold,
    -2011: OrderNotFound,
    -2013: OrderNotFound,
    -2010: LimitMakerWouldTake,
    30010: PriceOutOfBand,
    30019: OrderTypeNotAllowed,
    30029: TooManyOpenOrders,
    30041: OrderTypeNotAllowed,
    30051: OrderTypeNotAllowed,
}

#: code 400 is "api key required" unless the message is a scale error (then it is about a field).
_SCALE_ERROR = re.compile(r"^\s*(amount|quantity|price) scale is invalid", re.IGNORECASE)
_SCALE_FIELDS: Final[dict[str, str]] = {
    "amount": "quoteOrderQty",
    "quantity": "quantity",
    "price": "price",
}
#: the simulator's older answer: -1111 "<field> <value> has too many decimals: ..."
_OLD_PRECISION = re.compile(r"^\s*(quantity|price|quoteOrderQty)\b")
_OLD_PRECISION_CODE = -1111
_BELOW_MIN_QUANTITY_CODE = -1013


def error_for(code: int | None, msg: str, http_status: int | None, *, write: bool) -> MexcError:
    """The typed error for a MEXC error body; ``write`` marks an order placement/cancellation."""
    field = _invalid_field(code, msg)
    if field is not None:
        return InvalidOrderParameter(code, msg, http_status, field=field or None)
    cls = ERROR_CLASSES.get(code) if code is not None else None
    if cls is None:
        cls = OrderRejected if write else MexcError
    return cls(code, msg, http_status)


def _invalid_field(code: int | None, msg: str) -> str | None:
    """The field a parameter error names ("" when it names none); None for other errors."""
    if code == 400:
        scale = _SCALE_ERROR.match(msg)
        return _SCALE_FIELDS[scale.group(1).lower()] if scale else None
    if code == _OLD_PRECISION_CODE:
        old = _OLD_PRECISION.match(msg)
        return old.group(1) if old else ""
    if code == _BELOW_MIN_QUANTITY_CODE:
        return "quantity"
    return None


class UnexpectedResponse(MexcError):
    """A successful HTTP answer whose JSON does not have the shape the reference documents."""
