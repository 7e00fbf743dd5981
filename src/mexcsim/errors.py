"""Business errors of the simulator, carrying MEXC's code, message and HTTP status.

Every code the core can raise is named here, in one table, so that the UNCERTAIN ones (codes MEXC
does not document or that were seen only once) can be changed in a single place when real traffic
says otherwise. The HTTP layer turns a `SimError` into `{"code": ..., "msg": ...}` with
`http_status`.
"""

from __future__ import annotations


class SimError(Exception):
    """A rejected request: MEXC's numeric `code`, its `msg` text and the HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status

    def body(self) -> dict[str, object]:
        """The JSON error body MEXC sends."""
        return {"code": self.code, "msg": self.msg}


# --- the code table -------------------------------------------------------------------------------
MISSING_PARAM = -1102  # Binance-style "Mandatory parameter ..." naming the parameter
ILLEGAL_PARAM = (
    700008  # "illegal characters in parameter": malformed value, bad enum, bad client id
)
INVALID_API_KEY = 10072
INVALID_SYMBOL = -1121
SYMBOL_NOT_SUPPORT_API = 10007
TRADE_SIDE_NOT_ALLOWED = 30001
BELOW_MIN_NOTIONAL = 30002
ABOVE_MAX_NOTIONAL = 30003
INSUFFICIENT_BALANCE = 30004
OVERSOLD = 30005
PRICE_OUT_OF_BAND = 30010  # UNCERTAIN: PERCENT_PRICE_BY_SIDE breach ("no valid trade price")
DUPLICATE_CLIENT_ORDER_ID = 30026  # UNCERTAIN: newClientOrderId already used by the account
MAX_OPEN_ORDERS = 30029
ORDER_TYPE_NOT_ALLOWED = 30041
LIMIT_MAKER_WOULD_TAKE = -2010  # UNCERTAIN: MEXC's code for a post-only order that would cross
BAD_PRECISION = -1111  # UNCERTAIN: too many decimals in price or quantity
BELOW_MIN_QUANTITY = -1013  # UNCERTAIN: quantity under baseSizePrecision
ORDER_ID_MISSING = 700004
UNKNOWN_ORDER_SENT = -2011
ORDER_DOES_NOT_EXIST = -2013  # UNCERTAIN
UNKNOWN_LISTEN_KEY = -1125  # UNCERTAIN
TOO_MANY_LISTEN_KEYS = 730707  # UNCERTAIN

MAX_OPEN_ORDERS_PER_ACCOUNT = 500


def missing_param(name: str) -> SimError:
    return SimError(
        MISSING_PARAM,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )


def illegal_param(name: str, rule: str) -> SimError:
    return SimError(ILLEGAL_PARAM, f"Illegal characters found in parameter '{name}': {rule}")


def invalid_symbol() -> SimError:
    return SimError(INVALID_SYMBOL, "Invalid symbol.")


def symbol_not_support_api() -> SimError:
    return SimError(SYMBOL_NOT_SUPPORT_API, "symbol not support api")


def below_min_notional(minimum: str, quote_asset: str) -> SimError:
    # The full-width colon is MEXC's real text; clients match on it.
    return SimError(
        BELOW_MIN_NOTIONAL,
        f"The minimum transaction volume cannot be less than：{minimum}{quote_asset}",
    )


def above_max_notional(maximum: str, quote_asset: str) -> SimError:
    return SimError(
        ABOVE_MAX_NOTIONAL,
        f"The maximum transaction volume cannot be greater than：{maximum}{quote_asset}",
    )


def insufficient_balance() -> SimError:
    return SimError(INSUFFICIENT_BALANCE, "Insufficient position")


def oversold() -> SimError:
    return SimError(OVERSOLD, "Oversold")


def order_does_not_exist() -> SimError:
    return SimError(ORDER_DOES_NOT_EXIST, "Order does not exist.")


def unknown_order_sent() -> SimError:
    return SimError(UNKNOWN_ORDER_SENT, "Unknown order sent.")


def invalid_api_key() -> SimError:
    return SimError(INVALID_API_KEY, "Api key info invalid")
