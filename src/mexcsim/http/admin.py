"""The simulator's own control API under ``/_sim/``: accounts, funding, listings, prices, faults,
and the measurements a listing benchmark reads (the acceptance log, 10007 and 429 counts).

Tests, the bot's paper mode and people at a terminal use it to arrange a scenario (fund an
account, schedule a listing, move a price, make the exchange misbehave). Who may call it is
decided by `mexcsim.http.admin_guard` (loopback Host, no foreign Origin, JSON bodies, and the
``SimConfig.admin_token`` bearer token when one is set); still bind it to 127.0.0.1 (the
default). Its paths never collide with MEXC's, and it never returns an API secret. Bodies are JSON;
amounts and prices are decimal strings (JSON numbers are accepted and read exactly). Invalid input
gets HTTP 400 ``{"error": ..., "field": ...}`` naming the field and the rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mexcsim.decimals import fmt, parse_decimal
from mexcsim.errors import SimError
from mexcsim.http.faults import FaultInjector, FaultPlan, FaultPlanError
from mexcsim.http.rate_limits import ThrottleCount
from mexcsim.market.symbols import SymbolSpec

if TYPE_CHECKING:
    from mexcsim.exchange import SimExchange

MAX_ADMIN_BODY_BYTES = 64 * 1024
"""Admin bodies are a few hundred bytes; anything bigger is a mistake or an attack."""
_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
MAX_LISTING_DELAY_MS = 86_400_000
"""A late API open or a book ramp longer than a day is a typo, not a scenario."""
_API_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")

#: Listing fields with their defaults when the request leaves them out (see ``_listing_spec``).
_LISTING_DEFAULTS: Mapping[str, object] = {
    "base_asset_precision": 2,
    "quote_amount_precision": Decimal(1),
    "quote_amount_precision_market": Decimal(1),
    "max_quote_amount": Decimal(2_000_000),
    "max_quote_amount_market": Decimal(100_000),
    "maker_commission": Decimal(0),
    "taker_commission": Decimal("0.0005"),
}
_SPEC_FIELDS = {f.name: f for f in fields(SymbolSpec)}
_LISTING_SPECIAL = {"open_time", "initial_price", "symbol", "base_asset", "quote_asset"}
_LISTING_TIMING = {"api_open_delay_ms", "book_ramp_ms"}


class AdminInputError(Exception):
    """A rule broken by an admin request; becomes HTTP 400 naming the field."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def _bad_input(error: AdminInputError) -> web.Response:
    return web.json_response(
        {"error": f"field '{error.field}': {error.rule}", "field": error.field}, status=400
    )


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; huge, non-UTF-8, malformed or too deeply nested bodies are a
    400 naming ``body`` (never a 500)."""
    if (request.content_length or 0) > MAX_ADMIN_BODY_BYTES:
        raise AdminInputError("body", f"must be at most {MAX_ADMIN_BODY_BYTES} bytes")
    try:
        raw = await request.content.read(MAX_ADMIN_BODY_BYTES + 1)
    except ValueError:
        raise AdminInputError("body", "could not be read") from None
    if len(raw) > MAX_ADMIN_BODY_BYTES:
        raise AdminInputError("body", f"must be at most {MAX_ADMIN_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AdminInputError("body", "must be UTF-8") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise AdminInputError(
            "body", "must be a JSON object (valid, not too deeply nested)"
        ) from None
    if not isinstance(data, dict):
        raise AdminInputError("body", "must be a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise AdminInputError(name, "is required and must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise AdminInputError(name, f"must match {pattern.pattern}")
    return value


def _decimal(value: object, name: str, *, positive: bool = False) -> Decimal:
    parsed: Decimal | None
    if isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, int) and not isinstance(value, bool):
        parsed = Decimal(value)
    elif isinstance(value, str):
        parsed = parse_decimal(value)
    else:
        parsed = None
    if parsed is None or not parsed.is_finite():
        raise AdminInputError(name, 'must be a decimal number such as "12.5"')
    if positive and parsed <= 0:
        raise AdminInputError(name, "must be greater than 0")
    return parsed


def _int(value: object, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdminInputError(name, "must be an integer")
    if value < minimum:
        raise AdminInputError(name, f"must be >= {minimum}")
    return value


def _price_decimals(price: Decimal) -> int:
    """Enough price decimals to show ~5 significant digits of ``price`` (at least 2)."""
    magnitude = price.adjusted()  # 123.4 -> 2, 0.00123 -> -3
    return max(2, 4 - magnitude)


def _listing_spec(data: Mapping[str, Any]) -> tuple[SymbolSpec, int, Decimal]:
    """Build the SymbolSpec of a new listing from the request, filling realistic defaults."""
    symbol = _text(data, "symbol", re.compile(r"^[A-Z0-9]{2,30}$"))
    base_asset = _text(data, "base_asset", _ASSET)
    quote_asset = str(data.get("quote_asset") or "USDT")
    if not _ASSET.match(quote_asset):
        raise AdminInputError("quote_asset", f"must match {_ASSET.pattern}")
    if "open_time" not in data:
        raise AdminInputError("open_time", "is required (epoch milliseconds)")
    open_time = _int(data["open_time"], "open_time")
    if "initial_price" not in data:
        raise AdminInputError("initial_price", "is required")
    initial_price = _decimal(data["initial_price"], "initial_price", positive=True)

    unknown = sorted(set(data) - set(_SPEC_FIELDS) - _LISTING_SPECIAL - _LISTING_TIMING)
    if unknown:
        allowed = sorted({*_SPEC_FIELDS, *_LISTING_TIMING})
        raise AdminInputError(unknown[0], f"unknown field; allowed: {', '.join(allowed)}")
    values: dict[str, object] = dict(_LISTING_DEFAULTS)
    values["quote_asset_precision"] = _price_decimals(initial_price)
    values["full_name"] = base_asset
    for name, value in data.items():
        if name in _LISTING_SPECIAL or name in _LISTING_TIMING:
            continue
        values[name] = _spec_value(name, value)
    qty_decimals = values["base_asset_precision"]
    assert isinstance(qty_decimals, int)
    values.setdefault("base_size_precision", Decimal(1).scaleb(-qty_decimals))
    spec = SymbolSpec(
        symbol=symbol,
        base_asset=base_asset,
        quote_asset=quote_asset,
        initial_price=initial_price,
        **values,  # type: ignore[arg-type]
    )
    return spec, open_time, initial_price


def _listing_timing(data: Mapping[str, Any]) -> tuple[int, int | None]:
    """(api_open_delay_ms, book_ramp_ms or None for the simulator's default) of a new listing."""
    delay = _int(data.get("api_open_delay_ms", 0), "api_open_delay_ms")
    if delay > MAX_LISTING_DELAY_MS:
        raise AdminInputError("api_open_delay_ms", f"must be <= {MAX_LISTING_DELAY_MS}")
    ramp = data.get("book_ramp_ms")
    if ramp is None:
        return delay, None
    ramp_ms = _int(ramp, "book_ramp_ms")
    if ramp_ms > MAX_LISTING_DELAY_MS:
        raise AdminInputError("book_ramp_ms", f"must be <= {MAX_LISTING_DELAY_MS}")
    return delay, ramp_ms


def _spec_value(name: str, value: object) -> object:
    """Convert one optional rule field to the type SymbolSpec declares for it."""
    declared = str(_SPEC_FIELDS[name].type)
    if "Decimal" in declared:
        return _decimal(value, name)
    if declared.startswith("int"):
        return _int(value, name)
    if declared == "bool":
        if not isinstance(value, bool):
            raise AdminInputError(name, "must be true or false")
        return value
    if declared.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AdminInputError(name, "must be a list of strings")
        return tuple(value)
    if not isinstance(value, str):
        raise AdminInputError(name, "must be a string")
    return value


def _balances_json(balances: Mapping[str, tuple[Decimal, Decimal]]) -> list[dict[str, str]]:
    return [
        {"asset": asset, "free": fmt(free), "locked": fmt(locked)}
        for asset, (free, locked) in sorted(balances.items())
    ]


class AdminApi:
    """The ``/_sim/`` routes bound to one exchange and its fault injector."""

    def __init__(
        self, exchange: SimExchange, faults: FaultInjector, throttle_count: ThrottleCount
    ) -> None:
        self.exchange = exchange
        self.faults = faults
        self.throttle_count = throttle_count

    def install(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/_sim/health", self.health)
        router.add_post("/_sim/accounts", self.create_account)
        router.add_get("/_sim/accounts/{api_key}", self.get_account)
        router.add_post("/_sim/accounts/{api_key}/fund", self.fund)
        router.add_post("/_sim/listings", self.schedule_listing)
        router.add_get("/_sim/listings", self.get_listings)
        router.add_get("/_sim/orders/accepted", self.accepted_orders)
        router.add_get("/_sim/stats", self.stats)
        router.add_post("/_sim/prices", self.set_price)
        router.add_get("/_sim/faults", self.get_faults)
        router.add_post("/_sim/faults", self.set_faults)
        router.add_delete("/_sim/faults", self.clear_faults)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def create_account(self, request: web.Request) -> web.Response:
        try:
            data = await _json_object(request)
            api_key = _text(data, "api_key", _API_KEY)
            api_secret = _text(data, "api_secret")
            balances: dict[str, Decimal] | None = None
            if "balances" in data:
                raw = data["balances"]
                if not isinstance(raw, dict):
                    raise AdminInputError("balances", "must be an object {asset: amount}")
                balances = {}
                for asset, amount in raw.items():
                    if not _ASSET.match(str(asset)):
                        raise AdminInputError(
                            f"balances.{asset}", f"asset must match {_ASSET.pattern}"
                        )
                    balances[str(asset)] = _decimal(amount, f"balances.{asset}")
                    if balances[str(asset)] < 0:
                        raise AdminInputError(f"balances.{asset}", "must be >= 0")
            if self.exchange.secret_for(api_key) is not None:
                raise AdminInputError("api_key", "an account with this api_key already exists")
            try:
                self.exchange.create_account(api_key, api_secret, balances)
            except (SimError, ValueError) as exc:
                raise AdminInputError("balances", str(exc)) from None
        except AdminInputError as error:
            return _bad_input(error)
        return await self._account(api_key, status=201)

    async def get_account(self, request: web.Request) -> web.Response:
        api_key = request.match_info["api_key"]
        if self.exchange.secret_for(api_key) is None:
            return web.json_response(
                {"error": f"no account with api_key {api_key!r}", "field": "api_key"}, status=404
            )
        return await self._account(api_key)

    async def _account(self, api_key: str, status: int = 200) -> web.Response:
        return web.json_response(
            {"api_key": api_key, "balances": _balances_json(self.exchange.balances(api_key))},
            status=status,
        )

    async def fund(self, request: web.Request) -> web.Response:
        api_key = request.match_info["api_key"]
        if self.exchange.secret_for(api_key) is None:
            return web.json_response(
                {"error": f"no account with api_key {api_key!r}", "field": "api_key"}, status=404
            )
        try:
            data = await _json_object(request)
            asset = _text(data, "asset", _ASSET)
            if "amount" not in data:
                raise AdminInputError("amount", "is required")
            amount = _decimal(data["amount"], "amount")
            try:
                self.exchange.fund(api_key, asset, amount)
            except (SimError, ValueError) as exc:
                raise AdminInputError("amount", str(exc)) from None
        except AdminInputError as error:
            return _bad_input(error)
        return await self._account(api_key)

    async def schedule_listing(self, request: web.Request) -> web.Response:
        try:
            data = await _json_object(request)
            spec, open_time, initial_price = _listing_spec(data)
            delay, ramp = _listing_timing(data)
            try:
                self.exchange.schedule_listing(
                    spec, open_time, initial_price, api_open_delay_ms=delay, book_ramp_ms=ramp
                )
            except (SimError, ValueError) as exc:
                raise AdminInputError("symbol", str(exc)) from None
        except AdminInputError as error:
            return _bad_input(error)
        row = next(r for r in self.exchange.listings_report() if r["symbol"] == spec.symbol)
        return web.json_response(row, status=201)

    async def get_listings(self, request: web.Request) -> web.Response:
        """Every listing, pending and open, by announced time."""
        return web.json_response({"listings": self.exchange.listings_report()})

    async def accepted_orders(self, request: web.Request) -> web.Response:
        """The acceptance log of ``?symbol=``, its 10007 count and the server's 429 count."""
        symbol = request.query.get("symbol", "")
        if not re.match(r"^[A-Za-z0-9]{2,30}$", symbol):
            return _bad_input(AdminInputError("symbol", "is required, e.g. ?symbol=NEWUSDT"))
        report = self.exchange.accepted_orders(symbol)
        return web.json_response({**report, "throttled429": self.throttle_count.throttled})

    async def stats(self, request: web.Request) -> web.Response:
        """Counters since start: 429 answers, accepted and 10007-refused orders per symbol."""
        counts = self.exchange.acceptance_counts()
        return web.json_response({"throttled429": self.throttle_count.throttled, **counts})

    async def set_price(self, request: web.Request) -> web.Response:
        try:
            data = await _json_object(request)
            symbol = _text(data, "symbol")
            if "price" not in data:
                raise AdminInputError("price", "is required")
            price = _decimal(data["price"], "price", positive=True)
            try:
                self.exchange.set_price(symbol, price)
            except SimError as exc:
                raise AdminInputError("symbol", exc.msg) from None
        except AdminInputError as error:
            return _bad_input(error)
        return web.json_response({"symbol": symbol, "price": fmt(price)})

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.plan.to_json())

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            data = await _json_object(request)
            plan = FaultPlan.from_json(data)
        except AdminInputError as error:
            return _bad_input(error)
        except FaultPlanError as error:
            return web.json_response({"error": str(error), "field": error.field}, status=400)
        self.faults.set(plan)
        return web.json_response(self.faults.plan.to_json())

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response(self.faults.plan.to_json())
