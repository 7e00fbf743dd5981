"""MEXC REST v3 over aiohttp: the same paths, parameters, statuses and JSON shapes as api.mexc.com.

This layer only speaks HTTP: it decodes parameters (query string and/or form body, the query wins),
authenticates signed endpoints, applies rate limits and injected faults, calls the exchange core
(``SimExchange``, which validates values and builds MEXC's JSON) and serialises the result. Business
errors travel as ``SimError`` and leave as HTTP 400 ``{"code", "msg"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web

from mexcsim.accounts.wallet import coin_config
from mexcsim.errors import SimError, illegal_param, missing_param
from mexcsim.http.auth import API_KEY_HEADER, SIGNATURE_PARAM, SignedRequest, authenticate
from mexcsim.http.faults import FaultInjector, OrderFault
from mexcsim.http.rate_limits import RateLimiter, endpoint_weight
from mexcsim.market.discovery import ANNOUNCEMENTS_PAGE_SIZE, MAX_ANNOUNCEMENTS_PAGE_SIZE

if TYPE_CHECKING:
    from mexcsim.exchange import SimExchange

log = logging.getLogger(__name__)

ORDER_FAULT_ABORTED = web.RequestKey("mexcsim.order_fault_aborted", bool)
"""Set on a request whose connection an order fault has cut (no latency is added to it)."""

Params = Mapping[str, str]
EndpointCall = Callable[["SimExchange", str, Params], object]
"""(exchange, authenticated api key or "" for public endpoints, parameters) -> JSON-ready result."""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    signed: bool
    call: EndpointCall

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def required(params: Params, name: str) -> str:
    """A mandatory parameter, or MEXC's mandatory-parameter error naming it."""
    value = params.get(name)
    if value is None or value == "":
        raise missing_param(name)
    return value


def optional_int(params: Params, name: str) -> int | None:
    """An optional integer parameter; a non-integer value is refused with an error naming it."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()):
        raise illegal_param(name, f"it must be an integer, got {raw!r}")
    return int(raw)


def _symbol_list(params: Params) -> list[str] | None:
    """exchangeInfo's ``symbol=X`` or ``symbols=A,B`` (a JSON-style ``["A","B"]`` is tolerated)."""
    if params.get("symbol"):
        return [params["symbol"]]
    raw = params.get("symbols")
    if not raw:
        return None
    names = [part.strip().strip('"').strip() for part in raw.strip().strip("[]").split(",")]
    return [name for name in names if name]


def _batch_items(params: Params) -> list[dict[str, str]]:
    """Decode the ``batchOrders`` JSON array into per-order string parameters."""
    raw = required(params, "batchOrders")
    malformed = illegal_param("batchOrders", "it must be a JSON array of order objects")
    try:
        decoded = json.loads(raw, parse_float=str, parse_int=str)
    except ValueError:
        raise malformed from None
    if not isinstance(decoded, list) or not all(isinstance(item, dict) for item in decoded):
        raise malformed
    items: list[dict[str, str]] = []
    for item in decoded:
        order: dict[str, str] = {}
        for key, value in item.items():
            if value is None:
                continue
            if isinstance(value, bool):
                order[str(key)] = "true" if value else "false"
            else:
                order[str(key)] = str(value)
        items.append(order)
    return items


def _ticker_symbol(params: Params) -> str | None:
    return params.get("symbol") or None


def _announcements(exchange: SimExchange, params: Params) -> object:
    """``page`` from 1, ``pageSize`` 1 to 100 (default 20)."""
    page = optional_int(params, "page")
    size = optional_int(params, "pageSize")
    if page is not None and page < 1:
        raise illegal_param("page", "it must be >= 1")
    if size is not None and not 1 <= size <= MAX_ANNOUNCEMENTS_PAGE_SIZE:
        raise illegal_param("pageSize", f"it must be 1 to {MAX_ANNOUNCEMENTS_PAGE_SIZE}")
    return exchange.announcements(page or 1, size or ANNOUNCEMENTS_PAGE_SIZE)


ENDPOINTS: tuple[Endpoint, ...] = (
    # public market data (reference §2)
    Endpoint("GET", "/api/v3/ping", False, lambda ex, key, p: {}),
    Endpoint("GET", "/api/v3/defaultSymbols", False, lambda ex, key, p: ex.default_symbols()),
    Endpoint(
        "GET", "/api/v3/exchangeInfo", False, lambda ex, key, p: ex.exchange_info(_symbol_list(p))
    ),
    Endpoint(
        "GET",
        "/api/v3/depth",
        False,
        lambda ex, key, p: ex.depth(required(p, "symbol"), optional_int(p, "limit")),
    ),
    Endpoint(
        "GET",
        "/api/v3/trades",
        False,
        lambda ex, key, p: ex.trades(required(p, "symbol"), optional_int(p, "limit")),
    ),
    Endpoint(
        "GET",
        "/api/v3/aggTrades",
        False,
        lambda ex, key, p: ex.agg_trades(
            required(p, "symbol"),
            optional_int(p, "limit"),
            optional_int(p, "startTime"),
            optional_int(p, "endTime"),
        ),
    ),
    Endpoint(
        "GET",
        "/api/v3/klines",
        False,
        lambda ex, key, p: ex.klines(
            required(p, "symbol"),
            required(p, "interval"),
            optional_int(p, "startTime"),
            optional_int(p, "endTime"),
            optional_int(p, "limit"),
        ),
    ),
    Endpoint(
        "GET", "/api/v3/avgPrice", False, lambda ex, key, p: ex.avg_price(required(p, "symbol"))
    ),
    Endpoint(
        "GET", "/api/v3/ticker/24hr", False, lambda ex, key, p: ex.ticker_24hr(_ticker_symbol(p))
    ),
    Endpoint(
        "GET", "/api/v3/ticker/price", False, lambda ex, key, p: ex.ticker_price(_ticker_symbol(p))
    ),
    Endpoint(
        "GET",
        "/api/v3/ticker/bookTicker",
        False,
        lambda ex, key, p: ex.book_ticker(_ticker_symbol(p)),
    ),
    # listing discovery (reference §7: the web calendar and symbol list, announcements)
    Endpoint(
        "GET", "/api/operation/new_coin_calendar", False, lambda ex, key, p: ex.new_coin_calendar()
    ),
    Endpoint(
        "GET",
        "/api/platform/spot/market-v2/web/symbolsV2",
        False,
        lambda ex, key, p: ex.web_symbols(),
    ),
    Endpoint("GET", "/api/v3/announcements", False, lambda ex, key, p: _announcements(ex, p)),
    # trading (reference §3)
    Endpoint("POST", "/api/v3/order", True, lambda ex, key, p: ex.place_order(key, p)),
    Endpoint(
        "POST", "/api/v3/order/test", True, lambda ex, key, p: ex.place_order(key, p, test=True)
    ),
    Endpoint("DELETE", "/api/v3/order", True, lambda ex, key, p: ex.cancel_order(key, p)),
    Endpoint("GET", "/api/v3/order", True, lambda ex, key, p: ex.query_order(key, p)),
    Endpoint(
        "POST",
        "/api/v3/batchOrders",
        True,
        lambda ex, key, p: ex.batch_orders(key, _batch_items(p)),
    ),
    Endpoint("GET", "/api/v3/openOrders", True, lambda ex, key, p: ex.open_orders(key, p)),
    Endpoint(
        "DELETE", "/api/v3/openOrders", True, lambda ex, key, p: ex.cancel_open_orders(key, p)
    ),
    Endpoint("GET", "/api/v3/allOrders", True, lambda ex, key, p: ex.all_orders(key, p)),
    Endpoint("GET", "/api/v3/account", True, lambda ex, key, p: ex.account_info(key)),
    Endpoint("GET", "/api/v3/myTrades", True, lambda ex, key, p: ex.my_trades(key, p)),
    Endpoint("GET", "/api/v3/tradeFee", True, lambda ex, key, p: ex.trade_fee(key, p)),
    # every symbol is API-enabled for every key here, so the key's whitelist is the default list
    Endpoint("GET", "/api/v3/selfSymbols", True, lambda ex, key, p: ex.default_symbols()),
    # wallet (read-only: the simulator has no chains, every network is closed)
    Endpoint(
        "GET",
        "/api/v3/capital/config/getall",
        True,
        lambda ex, key, p: coin_config(ex.exchange_info(None)),
    ),
    # user data stream (reference §5)
    Endpoint("POST", "/api/v3/userDataStream", True, lambda ex, key, p: ex.create_listen_key(key)),
    Endpoint(
        "PUT",
        "/api/v3/userDataStream",
        True,
        lambda ex, key, p: ex.keepalive_listen_key(key, required(p, "listenKey")),
    ),
    Endpoint(
        "DELETE",
        "/api/v3/userDataStream",
        True,
        lambda ex, key, p: ex.close_listen_key(key, required(p, "listenKey")),
    ),
    Endpoint("GET", "/api/v3/userDataStream", True, lambda ex, key, p: ex.listen_keys(key)),
)


def compact_json(value: object) -> str:
    """JSON without optional whitespace: smaller and faster on the order hot path."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_response(value: object, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=compact_json)


def error_response(code: int, msg: str, status: int = 400) -> web.Response:
    return json_response({"code": code, "msg": msg}, status=status)


def throttled_response(retry_after: int, msg: str) -> web.Response:
    response = error_response(429, msg, status=429)
    response.headers["Retry-After"] = str(retry_after)
    return response


async def decode_params(request: web.Request) -> tuple[str, str, dict[str, str]]:
    """Raw query, raw body and the decoded parameters (form body first, then the query over it)."""
    raw_query = request.rel_url.raw_query_string
    raw_body = await request.text() if request.body_exists else ""
    params: dict[str, str] = {}
    if raw_body and request.content_type != "application/json":
        params.update(parse_qsl(raw_body, keep_blank_values=True))
    # parse_qsl keeps the last duplicate; the query string always wins over the body
    params.update(parse_qsl(raw_query, keep_blank_values=True))
    return raw_query, raw_body, params


class RestApi:
    """Binds the endpoint table to one exchange, fault injector, rate limiter and clock."""

    def __init__(
        self,
        exchange: SimExchange,
        faults: FaultInjector,
        limiter: RateLimiter | None,
        now_ms: Callable[[], int],
    ) -> None:
        self.exchange = exchange
        self.faults = faults
        self.limiter = limiter
        self.now_ms = now_ms

    def install(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/time", self._server_time)
        for endpoint in ENDPOINTS:
            app.router.add_route(endpoint.method, endpoint.path, self._handler(endpoint))

    async def _server_time(self, request: web.Request) -> web.Response:
        throttled = self._admit(request, "GET /api/v3/time", {}, None)
        if throttled is not None:
            return throttled
        return json_response({"serverTime": self.now_ms()})

    def _admit(
        self, request: web.Request, name: str, params: Params, uid: str | None
    ) -> web.Response | None:
        if self.limiter is None:
            return None
        refusal = self.limiter.admit(
            name, endpoint_weight(name, params), ip=request.remote or "unknown", uid=uid
        )
        if refusal is None:
            return None
        return throttled_response(refusal.retry_after, refusal.msg)

    def _handler(
        self, endpoint: Endpoint
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            raw_query, raw_body, params = await decode_params(request)
            api_key = ""
            try:
                if endpoint.signed:
                    api_key = authenticate(
                        SignedRequest(
                            api_key=request.headers.get(API_KEY_HEADER),
                            raw_query=raw_query,
                            raw_body=raw_body,
                            params=params,
                        ),
                        self.exchange.secret_for,
                        self.now_ms(),
                    )
                    params.pop(SIGNATURE_PARAM, None)
            except SimError as error:
                return json_response(error.body(), status=error.http_status)

            throttled = self._admit(request, endpoint.name, params, api_key or None)
            if throttled is not None:
                return throttled

            fault = self.faults.take_order_fault(endpoint.method, endpoint.path)
            if fault is OrderFault.ERROR_BEFORE:
                return self._fault_response(fault)
            try:
                result = endpoint.call(self.exchange, api_key, params)
                response = json_response(result)
            except SimError as error:
                response = json_response(error.body(), status=error.http_status)
            if fault is OrderFault.ERROR_AFTER:
                return self._fault_response(fault)
            if fault is OrderFault.DROP_AFTER:
                request[ORDER_FAULT_ABORTED] = True
                if request.transport is not None:
                    request.transport.abort()
            return response

        return handle

    def _fault_response(self, fault: OrderFault) -> web.Response:
        status = self.faults.plan.error_status
        return error_response(
            status, f"Service unavailable (simulated fault: {fault.value})", status
        )
