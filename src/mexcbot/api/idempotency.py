"""The ``Idempotency-Key`` header of the routes that buy: how it is read, scoped and documented.

A client that timed out can send the same request again with the same key and gets the first
answer; nothing is bought twice. Keys are scoped to the token's name (two users choosing the same
key never share an order) and to what the route opens (an order's key and a position's key never
meet).
"""

from __future__ import annotations

import re
from typing import Any, Final

from starlette.requests import Request

from mexcbot.api.errors import ApiProblem

IDEMPOTENCY_KEY_PATTERN: Final = r"^[\x21-\x7e]{1,200}$"
_IDEMPOTENCY_KEY: Final = re.compile(IDEMPOTENCY_KEY_PATTERN)


def idempotency_key(request: Request) -> str | None:
    """The request's key; a malformed one is a 422 naming the header."""
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiProblem(
            422,
            "validation_error",
            "Idempotency-Key: must be 1 to 200 printable ASCII characters without spaces "
            f"(pattern {IDEMPOTENCY_KEY_PATTERN})",
            field="Idempotency-Key",
        )
    return key


def scoped_key(request: Request, caller_name: str, scope: str | None = None) -> str | None:
    """The request's key as the engine keeps it (None without one): per caller, per `scope`."""
    key = idempotency_key(request)
    if key is None:
        return None
    return f"api:{caller_name}:{key}" if scope is None else f"api:{caller_name}:{scope}:{key}"


def idempotency_parameter(repeat_returns: str) -> dict[str, Any]:
    """The header as OpenAPI documents it (the routes read it themselves)."""
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": f"Repeat a request with the same key and it returns {repeat_returns}",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    }
