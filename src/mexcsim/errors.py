"""Business errors of the simulator, carrying MEXC's code, message and HTTP status.

Every code the core can raise is named here, in one table, so that the UNCERTAIN ones (codes MEXC
does not document or that were seen only once) can be changed in a single place when real traffic
says otherwise; /work/shared/reference/mexc-spot-v3.md section 4 "Recorded real error responses"
is what the codes and texts below follow. The HTTP layer sends `SimError.body()` (`{"msg", "code"}`,
plus `"_extend": null` where real MEXC adds it) with `http_status`.
"""

from __future__ import annotations


class SimError(Exception):
    """A rejected request: MEXC's numeric `code`, its `msg` text and the HTTP status."""

    def __init__(
        self, code: int, msg: str, http_status: int = 400, *, extend_null: bool = False
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.extend_null = extend_null
        """Some real answers carry an extra ``"_extend":null``; clients must ignore it."""

    def body(self) -> dict[str, object]:
        """The JSON error body MEXC sends."""
        body: dict[str, object] = {"msg": self.msg, "code": self.code}
        if self.extend_null:
            body["_extend"] = None
        return body


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
# UNCERTAIN: PERCENT_PRICE_BY_SIDE breach ("no valid trade price"); the rule (LIMIT, IOC and FOK
# only, against the last trade price) is recorded, the code is not
PRICE_OUT_OF_BAND = 30010
DUPLICATE_CLIENT_ORDER_ID = 30026  # UNCERTAIN: newClientOrderId already used by the account
MAX_OPEN_ORDERS = 30029  # documented "Cannot exceed the maximum order limit" (not recorded)
ORDER_TYPE_NOT_ALLOWED = 30041
API_MARKET_ORDER_DISABLED = 30051  # real traffic (the docs' table says 30019)
# Binance's code, used only with `SimConfig(reject_taking_limit_maker=True)`. By default a
# LIMIT_MAKER that would take is accepted with an orderId and then CANCELED, which is what real
# MEXC most likely does (no code is documented; confidence low-medium).
LIMIT_MAKER_WOULD_TAKE = -2010
# Too many decimals (trailing zeros count): HTTP 400, code 400, " <field> scale is invalid" with a
# leading space. Recorded for amount (quoteOrderQty) and quantity; "price" follows the same form.
BAD_PRECISION = 400
SCALE_FIELD_WORDS = {"quantity": "quantity", "price": "price", "quoteOrderQty": "amount"}
BELOW_MIN_QUANTITY = -1013  # UNCERTAIN: quantity under baseSizePrecision
ORDER_ID_MISSING = 700004
UNKNOWN_ORDER_SENT = -2011  # cancel of a filled, canceled or unknown order (recorded)
ORDER_DOES_NOT_EXIST = -2013  # query of an unknown order, with "_extend":null (recorded)
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


def scale_invalid(name: str) -> SimError:
    """Too many decimals in `name` (quantity, price or quoteOrderQty), as MEXC answers it."""
    return SimError(BAD_PRECISION, f" {SCALE_FIELD_WORDS[name]} scale is invalid")


def max_open_orders() -> SimError:
    return SimError(MAX_OPEN_ORDERS, "Cannot exceed the maximum order limit")


def api_market_order_disabled() -> SimError:
    return SimError(API_MARKET_ORDER_DISABLED, "api market order is disabled")


def limit_maker_would_take() -> SimError:
    return SimError(
        LIMIT_MAKER_WOULD_TAKE, "LIMIT_MAKER order would immediately match and take liquidity"
    )


def order_does_not_exist() -> SimError:
    return SimError(ORDER_DOES_NOT_EXIST, "Order does not exist.", extend_null=True)


def unknown_order_sent() -> SimError:
    return SimError(UNKNOWN_ORDER_SENT, "Unknown order sent.")


def invalid_api_key() -> SimError:
    return SimError(INVALID_API_KEY, "Api key info invalid")
