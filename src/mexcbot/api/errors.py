"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response has the same shape: ``type``, ``title``, ``status``, ``detail`` (a sentence a
person understands), a stable machine-readable ``code``, the ``field`` at fault when there is one,
and the request id. A MEXC rejection keeps MEXC's own code and message (``mexc_code``,
``mexc_message``); an error about an order carries the order. The mapping from exceptions to
problems is one table here (``_RULES``), so routes raise domain and engine errors and never build
responses for failures themselves.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mexcbot.domain.autobuy import InvalidRule
from mexcbot.domain.exits import InvalidExitPlan
from mexcbot.domain.orders import InvalidOrder
from mexcbot.domain.positions import PositionError
from mexcbot.domain.risk import InvalidRiskLimits
from mexcbot.domain.symbols import OrderRuleViolation
from mexcbot.domain.tokens import InvalidTokenName
from mexcbot.engine import errors as engine_errors
from mexcbot.engine import ports
from mexcbot.store import ConcurrentPositionUpdate
from mexcbot.telemetry import request_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://mexcbot.dev/problems/"
MAX_LISTED_ERRORS = 20
"""A 422 lists the first this many field errors (``error_count`` says how many there were)."""


class ApiProblem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(problem: ApiProblem, request_id: str | None = None) -> JSONResponse:
    """The problem document; its RFC 9457 members (`type`, `title`, `status`, `detail`) and
    `code`, `field`, `request_id` always win over an extra member of the same name."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        "field": problem.field,
    }
    request_id = request_id or request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body |= {name: value for name, value in problem.extra.items() if name not in body}
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def _field_of(location: Sequence[int | str]) -> str:
    """``("body", "quantity")`` -> ``quantity``; ``("query", "limit")`` -> ``limit``."""
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_problem(exc: RequestValidationError) -> ApiProblem:
    found = exc.errors()
    errors = []
    for error in found[:MAX_LISTED_ERRORS]:
        message = str(error.get("msg", "invalid value"))
        field = _field_of(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            field = "body"  # the location is a character position, not a field
            reason = (error.get("ctx") or {}).get("error", "invalid")
            message = f"malformed JSON ({reason}) at character {error['loc'][-1]}"
        rule = str(error.get("type"))
        if (
            field == "body"
            and rule == "model_attributes_type"
            and isinstance(error.get("input"), (bytes, str))
        ):  # a body sent as text (no JSON Content-Type) reaches the model undecoded
            message = "send a JSON object with the header 'Content-Type: application/json'"
            rule = "content_type"
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidOrder) and cause.field:
            # A rule across fields (a LIMIT order without a price, an update that changes
            # nothing): it names its own field, not the body, and its message is the rule
            # without pydantic's "Value error, ".
            field, rule = cause.field, "combination"
            message = str(cause).removeprefix(f"{field}: ")
        errors.append({"field": field, "message": message, "rule": rule})
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}"
    if len(found) > 1:
        detail += f" (and {len(found) - 1} more)"
    return ApiProblem(
        422,
        "validation_error",
        detail,
        title="The request is invalid",
        field=first["field"],
        extra={"errors": errors, "error_count": len(found)},
    )


def _unreadable_body(cause: BaseException | None) -> ApiProblem:
    """FastAPI's 400 for a body it could not decode, with the reason named."""
    if isinstance(cause, UnicodeDecodeError):
        reason = "it is not valid UTF-8"
    elif isinstance(cause, RecursionError):
        reason = "it is nested too deeply"
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        reason = "it holds an integer with too many digits"
    else:
        reason = "it is not valid JSON"
    return ApiProblem(
        400,
        "invalid_body",
        f"body: the request body cannot be read as JSON: {reason}",
        title="The request body cannot be read",
        field="body",
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one error type becomes a problem: the status, code and title are fixed; the detail,
    the field at fault (the error's ``field`` attribute) and any extra members come from it."""

    status: int
    code: str
    title: str
    detail: Callable[[Any], str] = str
    extra: Callable[[Any], dict[str, Any]] | None = None
    retry_after: Callable[[Any], float | None] | None = None
    field: str | None = None
    field_of: Callable[[str], str] | None = None
    """The error's own field as the request body names it (a domain error knows only its part)."""


def _order_of(exc: Any) -> dict[str, Any]:
    """The order an error carries, as the API shows it, and its client order id. Its status is
    `order_status` (and `order.status`): the problem's own `status` is the HTTP status."""
    from mexcbot.api.schemas import OrderOut

    order = exc.order
    return {
        "client_order_id": order.client_order_id,
        "order_status": order.status,
        "order": OrderOut.of(order).model_dump(mode="json"),
    }


def _mexc(code_of: Callable[[Any], int | None], message_of: Callable[[Any], str]) -> Any:
    return lambda exc: {"mexc_code": code_of(exc), "mexc_message": message_of(exc)}


def _as_sent(text: str) -> str:
    """A rule's field as the API body spells it: the domain's `trigger.window` and `cooldown`
    are the body's `trigger.window_seconds` and `cooldown_seconds`."""
    text = re.sub(r"\btrigger\.window\b(?!_)", "trigger.window_seconds", text)
    return re.sub(r"^cooldown\b(?!_)", "cooldown_seconds", text)


_UNREACHABLE = "The exchange could not be reached or kept failing; try again shortly."
_OUTCOME_UNKNOWN = "The exchange did not answer in time; the order state is being reconciled."

#: Error type -> problem. Looked up along the error's MRO, so a subclass listed here wins over
#: its base. The one place an error's HTTP meaning is decided.
_RULES: dict[type[Exception], _Rule] = {
    OrderRuleViolation: _Rule(
        422,
        "order_rule_violation",
        "The order breaks a trading rule of the symbol",
        extra=lambda exc: {"rule": exc.rule},
    ),
    InvalidOrder: _Rule(422, "invalid_order", "The order is invalid"),
    InvalidTokenName: _Rule(422, "validation_error", "The request is invalid"),
    engine_errors.UnknownSymbol: _Rule(404, "unknown_symbol", "No such symbol"),
    engine_errors.OrderNotFound: _Rule(404, "order_not_found", "No such order", field="orderId"),
    engine_errors.RiskRejected: _Rule(
        422, "risk_rejected", "Refused by a risk limit", extra=lambda exc: {"limit": exc.limit}
    ),
    engine_errors.OrderRejectedByExchange: _Rule(
        400,
        "exchange_rejected",
        "The exchange rejected the order",
        detail=lambda exc: f"MEXC rejected the order: {exc.msg}",
        extra=lambda exc: {"mexc_code": exc.code, "mexc_message": exc.msg, **_order_of(exc)},
    ),
    engine_errors.OrderNeverReceived: _Rule(
        503,
        "order_not_received",
        "The order did not reach the exchange",
        detail=lambda exc: f"{exc} The order is stored as REJECTED; placing it again is safe.",
        extra=_order_of,
        retry_after=lambda _: 1.0,
    ),
    engine_errors.ExchangeNotReached: _Rule(
        503,
        "exchange_unreachable",
        "The exchange could not be reached",
        detail=lambda _: (
            "The exchange could not be reached; the order was not sent and is stored as REJECTED."
        ),
        extra=_order_of,
        retry_after=lambda _: 1.0,
    ),
    engine_errors.OrderNotCancelable: _Rule(
        409, "order_not_cancelable", "The order cannot be canceled", extra=_order_of
    ),
    engine_errors.CancelNotConfirmed: _Rule(
        503,
        "cancel_not_confirmed",
        "The exchange did not confirm the cancel",
        detail=lambda exc: f"{exc} The cancel is safe to repeat.",
        extra=_order_of,
        retry_after=lambda _: 1.0,
    ),
    engine_errors.IdempotencyConflict: _Rule(
        409,
        "idempotency_key_reused",
        "The Idempotency-Key was used for a different order",
        extra=lambda exc: {"client_order_id": exc.order.client_order_id},
        field="Idempotency-Key",
    ),
    engine_errors.PositionNotFound: _Rule(404, "position_not_found", "No such position"),
    engine_errors.AdoptionRefused: _Rule(
        422, "adoption_refused", "The position cannot adopt these fills or holdings"
    ),
    engine_errors.ListingNotFound: _Rule(404, "listing_not_found", "No such listing"),
    engine_errors.RuleNotFound: _Rule(404, "rule_not_found", "No such auto-buy rule"),
    InvalidRule: _Rule(
        422,
        "invalid_rule",
        "The auto-buy rule is invalid",
        detail=lambda exc: _as_sent(str(exc)),
        field_of=_as_sent,
    ),
    PositionError: _Rule(409, "position_conflict", "The position's state forbids this"),
    InvalidExitPlan: _Rule(
        422,
        "invalid_exits",
        "The exit rules are invalid",
        detail=lambda exc: f"exits.{exc}",
        field_of=lambda field: f"exits.{field}",  # every body has its exits under "exits"
    ),
    InvalidRiskLimits: _Rule(422, "invalid_risk_limits", "The risk limits are invalid"),
    ConcurrentPositionUpdate: _Rule(
        409, "concurrent_update", "The position changed meanwhile; reload and retry"
    ),
    engine_errors.TokenNameTaken: _Rule(409, "token_name_taken", "The token name is taken"),
    engine_errors.TokenNotFound: _Rule(404, "token_not_found", "No such token"),
    ports.ExchangeBusy: _Rule(
        503,
        "exchange_busy",
        "The exchange's request budget is spent for now",
        detail=lambda _: (
            "Answering would mean waiting too long for the exchange's rate limit; orders and "
            "cancels keep their own budget. Try again after Retry-After seconds."
        ),
        retry_after=lambda exc: exc.retry_after,
    ),
    ports.ExchangeThrottled: _Rule(
        503,
        "exchange_rate_limited",
        "The exchange is unavailable",
        detail=lambda _: "The exchange asked us to slow down; try again shortly.",
        extra=lambda exc: {"mexc_code": exc.code},
        retry_after=lambda exc: exc.retry_after,
    ),
    ports.ExchangeRejection: _Rule(
        502,
        "exchange_error",
        "The exchange refused the request",
        detail=lambda exc: f"The exchange refused the request: {exc.message}",
        extra=_mexc(lambda exc: exc.code, lambda exc: exc.message),
    ),
    ports.ExchangeOrderMissing: _Rule(404, "order_not_found", "No such order", field="orderId"),
    ports.SubmitOutcomeUnknown: _Rule(
        503,
        "exchange_unavailable",
        "The exchange is unavailable",
        detail=lambda _: _OUTCOME_UNKNOWN,
        retry_after=lambda _: 1.0,
    ),
    ports.ExchangePortError: _Rule(  # ExchangeUnreachable, SubmitNotSent: an outage, never a 500
        503,
        "exchange_unavailable",
        "The exchange is unavailable",
        detail=lambda _: _UNREACHABLE,
        retry_after=lambda _: 1.0,
    ),
}


def problem_for(exc: BaseException) -> ApiProblem | None:
    """The problem for a known exception; ``None`` for an unexpected one (a bug: 500)."""
    if isinstance(exc, ApiProblem):
        return exc
    rule = next((_RULES[kind] for kind in type(exc).__mro__ if kind in _RULES), None)
    if rule is None:
        return None
    headers: dict[str, str] = {}
    if rule.retry_after is not None:
        wait = rule.retry_after(exc)
        headers["Retry-After"] = str(1 if wait is None else max(1, math.ceil(wait)))
    return ApiProblem(
        rule.status,
        rule.code,
        rule.detail(exc),
        title=rule.title,
        field=rule.field or _own_field(rule, exc),
        headers=headers,
        extra=rule.extra(exc) if rule.extra is not None else None,  # noqa: S610
    )


def _own_field(rule: _Rule, exc: BaseException) -> str | None:
    field = getattr(exc, "field", None)
    if field is None or rule.field_of is None:
        return field
    return rule.field_of(field)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    problem = problem_for(exc)
    if problem is not None:
        return problem_response(problem)
    # An unexpected error reaches this handler outside the telemetry middleware, which has
    # already reset the request id variable: take the id it left in the request state, so the
    # log line and the answer carry the id the message promises.
    request_id = getattr(request.state, "request_id", None)
    token = request_id_var.set(request_id)
    try:
        log.exception("unexpected error on %s %s", request.method, _route_of(request))
    finally:
        request_id_var.reset(token)
    problem = ApiProblem(
        500,
        "internal_error",
        "An unexpected error happened; it has been logged with the request_id of this answer.",
        headers={"X-Request-ID": request_id} if request_id else None,
    )
    return problem_response(problem, request_id)


def _route_of(request: Request) -> str:
    return getattr(request.scope.get("route"), "path", None) or "unmatched"


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(exc))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    detail = str(exc.detail)
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        return problem_response(_unreadable_body(exc.__cause__))
    if exc.status_code == 404:
        detail = f"No route matches {request.method} {request.url.path}"
    return problem_response(
        ApiProblem(exc.status_code, code, detail, headers=dict(exc.headers or {}))
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(ApiProblem, _on_problem)
    for known in _RULES:
        app.add_exception_handler(known, _on_problem)
    app.add_exception_handler(Exception, _on_problem)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem answers of a route."""
    from mexcbot.api.schemas import Problem

    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Problem"}
        for status in statuses
    }
