"""MEXC spot v3 constants: base URL, endpoint paths, request weights and rate-limit budgets.

Kept in one table so a change MEXC makes to a path or a weight is a one-line edit (reference §2-§4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_BASE_URL: Final = "https://api.mexc.com"
#: The spot websocket (reference §6): market channels, and the user stream with a listen key.
DEFAULT_WS_URL: Final = "wss://wbs-api.mexc.com/ws"
DEFAULT_RECV_WINDOW_MS: Final = 5000
MAX_RECV_WINDOW_MS: Final = 60000
API_KEY_HEADER: Final = "X-MEXC-APIKEY"

#: Every endpoint has its own budget of this much weight per window, per IP and per UID.
WEIGHT_BUDGET: Final = 500
WEIGHT_WINDOW_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST endpoint: what the rate limiter and the retry policy need to know about it.

    ``weight`` is the IP/UID weight per call; ``weight_unfiltered`` the weight when called without
    a ``symbol`` (ticker endpoints cost more for all symbols). ``per_second`` is MEXC's extra cap in
    requests per second (batchOrders, account), ``None`` when there is none.
    """

    method: str
    path: str
    weight: int
    signed: bool
    weight_unfiltered: int | None = None
    per_second: int | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


PING: Final = Endpoint("GET", "/api/v3/ping", 1, signed=False)
TIME: Final = Endpoint("GET", "/api/v3/time", 1, signed=False)
DEFAULT_SYMBOLS: Final = Endpoint("GET", "/api/v3/defaultSymbols", 1, signed=False)
EXCHANGE_INFO: Final = Endpoint("GET", "/api/v3/exchangeInfo", 10, signed=False)
# Unsigned and weight 1 assumed (the reference lists the shape, not the weight).
ANNOUNCEMENTS: Final = Endpoint("GET", "/api/v3/announcements", 1, signed=False)
DEPTH: Final = Endpoint("GET", "/api/v3/depth", 1, signed=False)
TRADES: Final = Endpoint("GET", "/api/v3/trades", 5, signed=False)
KLINES: Final = Endpoint("GET", "/api/v3/klines", 1, signed=False)
AVG_PRICE: Final = Endpoint("GET", "/api/v3/avgPrice", 1, signed=False)
TICKER_24H: Final = Endpoint("GET", "/api/v3/ticker/24hr", 1, signed=False, weight_unfiltered=40)
# The reference gives no weight for these two; Binance's 1/2 is assumed.
TICKER_PRICE: Final = Endpoint("GET", "/api/v3/ticker/price", 1, signed=False, weight_unfiltered=2)
BOOK_TICKER: Final = Endpoint(
    "GET", "/api/v3/ticker/bookTicker", 1, signed=False, weight_unfiltered=2
)

NEW_ORDER: Final = Endpoint("POST", "/api/v3/order", 1, signed=True)
TEST_ORDER: Final = Endpoint("POST", "/api/v3/order/test", 1, signed=True)
BATCH_ORDERS: Final = Endpoint("POST", "/api/v3/batchOrders", 1, signed=True, per_second=2)
CANCEL_ORDER: Final = Endpoint("DELETE", "/api/v3/order", 1, signed=True)
CANCEL_OPEN_ORDERS: Final = Endpoint("DELETE", "/api/v3/openOrders", 1, signed=True)
QUERY_ORDER: Final = Endpoint("GET", "/api/v3/order", 2, signed=True)
OPEN_ORDERS: Final = Endpoint("GET", "/api/v3/openOrders", 3, signed=True)
ALL_ORDERS: Final = Endpoint("GET", "/api/v3/allOrders", 10, signed=True)
ACCOUNT: Final = Endpoint("GET", "/api/v3/account", 10, signed=True, per_second=2)
MY_TRADES: Final = Endpoint("GET", "/api/v3/myTrades", 10, signed=True)
# Not in the reference; MEXC's current docs give 20.
TRADE_FEE: Final = Endpoint("GET", "/api/v3/tradeFee", 20, signed=True)

LISTEN_KEY_CREATE: Final = Endpoint("POST", "/api/v3/userDataStream", 1, signed=True)
LISTEN_KEY_KEEPALIVE: Final = Endpoint("PUT", "/api/v3/userDataStream", 1, signed=True)
LISTEN_KEY_CLOSE: Final = Endpoint("DELETE", "/api/v3/userDataStream", 1, signed=True)
LISTEN_KEY_LIST: Final = Endpoint("GET", "/api/v3/userDataStream", 1, signed=True)

#: The web routes listing discovery reads (reference section 7; unofficial, on the web host).
WEB_CALENDAR_PATH: Final = "/api/operation/new_coin_calendar"
WEB_SYMBOLS_PATH: Final = "/api/platform/spot/market-v2/web/symbolsV2"
DEFAULT_WEB_URL: Final = "https://www.mexc.com"

#: Kline intervals MEXC accepts (note ``60m``, not ``1h``).
KLINE_INTERVALS: Final = frozenset({"1m", "5m", "15m", "30m", "60m", "4h", "1d", "1W", "1M"})

#: Response ``code`` values that mean success (docs say 200, real traffic 0).
SUCCESS_CODES: Final = frozenset({0, 200})
