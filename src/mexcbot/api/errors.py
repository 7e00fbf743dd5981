"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response has the same shape: ``type``, ``title``, ``status``, ``detail`` (a sentence a
person understands), a stable machine-readable ``code``, the ``field`` at fault when there is one,
and the request id. A MEXC rejection keeps MEXC's own code and message (``mexc_code``,
``mexc_message``). The mapping from exceptions to problems lives here, in one table, so routes raise
domain errors and never build responses for failures themselves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mexcbot.domain.orders import InvalidOrder
from mexcbot.domain.symbols import OrderRuleViolation
from mexcbot.engine import errors as engine_errors
from mexcbot.engine import ports
from mexcbot.mexc import errors as mexc_errors
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
    body.update(problem.extra)
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
        errors.append({"field": field, "message": message, "rule": str(error.get("type"))})
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


_ORDER_FIELDS = ("quantity", "quote_amount", "price", "symbol", "time_in_force", "type", "side")


def _invalid_order_field(message: str) -> str | None:
    """InvalidOrder messages start with the field they are about, or mention it."""
    for name in _ORDER_FIELDS:
        if message.startswith(name) or f" {name} " in f" {message} ":
            return name
    return None


def problem_for(exc: BaseException) -> ApiProblem | None:
    """The problem for a known exception; ``None`` for an unexpected one (a bug: 500)."""
    if isinstance(exc, ApiProblem):
        return exc
    if isinstance(exc, OrderRuleViolation):
        return ApiProblem(
            422,
            "order_rule_violation",
            str(exc),
            title="The order breaks a trading rule of the symbol",
            field=exc.field,
            extra={"rule": exc.rule},
        )
    if isinstance(exc, InvalidOrder):
        return ApiProblem(
            422,
            "invalid_order",
            str(exc),
            title="The order is invalid",
            field=_invalid_order_field(str(exc)),
        )
    if isinstance(exc, engine_errors.OrderNotFound):
        return ApiProblem(404, "order_not_found", str(exc), title="No such order", field="orderId")
    if isinstance(exc, engine_errors.RiskRejected):
        return ApiProblem(422, "risk_rejected", str(exc), title="Refused by a risk limit")
    if isinstance(exc, engine_errors.OrderRejectedByExchange):
        return ApiProblem(
            400,
            "exchange_rejected",
            f"MEXC rejected the order: {exc.msg}",
            title="The exchange rejected the order",
            extra={
                "mexc_code": exc.code,
                "mexc_message": exc.msg,
                "client_order_id": exc.order.client_order_id,
            },
        )
    if isinstance(exc, engine_errors.OrderNotCancelable):
        return ApiProblem(
            409,
            "order_not_cancelable",
            str(exc),
            title="The order cannot be canceled",
            extra={"client_order_id": exc.order.client_order_id, "status": exc.order.status},
        )
    if isinstance(exc, engine_errors.CancelNotConfirmed):
        return ApiProblem(
            503,
            "cancel_not_confirmed",
            f"{exc} The cancel is safe to repeat.",
            title="The exchange did not confirm the cancel",
            headers={"Retry-After": "1"},
            extra={"client_order_id": exc.order.client_order_id, "status": exc.order.status},
        )
    if isinstance(exc, engine_errors.IdempotencyConflict):
        return ApiProblem(
            409,
            "idempotency_key_reused",
            str(exc),
            title="The Idempotency-Key was used for a different order",
            field="Idempotency-Key",
            extra={"client_order_id": exc.order.client_order_id},
        )
    if isinstance(exc, engine_errors.ExchangeNotReached):
        return ApiProblem(
            503,
            "exchange_unreachable",
            "The exchange could not be reached; the order was not sent and is stored as REJECTED.",
            headers={"Retry-After": "1"},
            extra={"client_order_id": exc.order.client_order_id},
        )
    return _port_problem(exc) or _exchange_problem(exc)


_UNREACHABLE = "The exchange could not be reached or kept failing; try again shortly."
_OUTCOME_UNKNOWN = "The exchange did not answer in time; the order state is being reconciled."


def _unavailable(detail: str) -> ApiProblem:
    """An exchange outage: the caller did nothing wrong and may retry (never a 500)."""
    return ApiProblem(
        503,
        "exchange_unavailable",
        detail,
        title="The exchange is unavailable",
        headers={"Retry-After": "1"},
    )


def _rate_limited(code: int | None, retry_after: float | None) -> ApiProblem:
    retry = 1 if retry_after is None else max(1, math.ceil(retry_after))
    return ApiProblem(
        503,
        "exchange_rate_limited",
        "The exchange asked us to slow down; try again shortly.",
        headers={"Retry-After": str(retry)},
        extra={"mexc_code": code},
    )


def _port_problem(exc: BaseException) -> ApiProblem | None:
    """The engine's exchange-port failures that reach a route (e.g. a price quote or symbol
    rules needed to answer, while the exchange is down)."""
    if not isinstance(exc, ports.ExchangePortError):
        return None
    if isinstance(exc, ports.ExchangeThrottled):
        return _rate_limited(exc.code, exc.retry_after)
    if isinstance(exc, ports.ExchangeRejection):
        return ApiProblem(
            502,
            "exchange_error",
            f"The exchange refused the request: {exc.message}",
            extra={"mexc_code": exc.code, "mexc_message": exc.message},
        )
    if isinstance(exc, ports.ExchangeOrderMissing):
        return ApiProblem(404, "order_not_found", str(exc), title="No such order", field="orderId")
    if isinstance(exc, ports.SubmitOutcomeUnknown):
        return _unavailable(_OUTCOME_UNKNOWN)
    return _unavailable(_UNREACHABLE)  # ExchangeUnreachable, SubmitNotSent


def _exchange_problem(exc: BaseException) -> ApiProblem | None:
    if isinstance(exc, mexc_errors.RateLimited):
        return _rate_limited(exc.code, exc.retry_after)
    if isinstance(exc, mexc_errors.OutcomeUnknown):
        return _unavailable(_OUTCOME_UNKNOWN)
    if isinstance(exc, mexc_errors.ExchangeUnavailable):
        return _unavailable(_UNREACHABLE)
    if isinstance(exc, mexc_errors.OrderRejected):
        return ApiProblem(
            400,
            "exchange_rejected",
            f"MEXC rejected the request: {exc.msg}",
            extra={"mexc_code": exc.code, "mexc_message": exc.msg},
        )
    if isinstance(exc, mexc_errors.MexcError):
        return ApiProblem(
            502,
            "exchange_error",
            f"The exchange answered with an error: {exc.msg}",
            extra={"mexc_code": exc.code, "mexc_message": exc.msg},
        )
    return None


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
    for known in (
        ApiProblem,
        OrderRuleViolation,
        InvalidOrder,
        engine_errors.OrderNotFound,
        engine_errors.RiskRejected,
        engine_errors.OrderRejectedByExchange,
        engine_errors.OrderNotCancelable,
        engine_errors.CancelNotConfirmed,
        engine_errors.IdempotencyConflict,
        engine_errors.ExchangeNotReached,
        ports.ExchangePortError,
        mexc_errors.MexcError,
    ):
        app.add_exception_handler(known, _on_problem)
    app.add_exception_handler(Exception, _on_problem)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem answers of a route."""
    from mexcbot.api.schemas import Problem

    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Problem"}
        for status in statuses
    }
