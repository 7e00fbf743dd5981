"""Signed-request authentication exactly as MEXC does it (reference §1 and §8).

The signature is the lowercase hex HMAC-SHA256, keyed by the account's secret, of the query
string immediately followed by the request body, both *as received* and each with its
``signature=...`` pair removed. Verifying the raw bytes (never re-encoded parameters) is what makes
the simulator catch a client that signs something other than what it sends: percent-encoding case,
parameter order, query/body split.

Every failure is HTTP 400 with MEXC's ``{"code", "msg"}``; messages never contain the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mexcsim.errors import SimError, missing_param

API_KEY_HEADER = "X-MEXC-APIKEY"
SIGNATURE_PARAM = "signature"
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
#: A request may be stamped at most this far in the server's future.
MAX_CLOCK_AHEAD_MS = 1000

# MEXC's codes and messages for authentication failures, in one place.
API_KEY_REQUIRED = (400, "api key required")
INVALID_API_KEY = (10072, "Api key info invalid")
SIGNATURE_INVALID = (700002, "Signature for this request is not valid.")
OUTSIDE_RECV_WINDOW = (700003, "Timestamp for this request is outside of the recvWindow.")
MANDATORY_PARAM_CODE = 700004
RECV_WINDOW_TOO_LARGE = (700005, "recvWindow must less than 60000")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that authentication looks at."""

    api_key: str | None
    raw_query: str
    raw_body: str
    params: Mapping[str, str]
    """Parameters decoded from query and body (query wins)."""


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Remove the ``signature`` pair from a raw ``a=1&b=2`` string, keeping every other byte as is.

    Returns the remaining string and the (raw) signature value, or None when there was none.
    """
    if not raw:
        return raw, None
    kept: list[str] = []
    signature: str | None = None
    for pair in raw.split("&"):
        key, _, value = pair.partition("=")
        if key == SIGNATURE_PARAM:
            if signature is None:
                signature = value
            continue
        kept.append(pair)
    return "&".join(kept), signature


def sign(secret: str, total_params: str) -> str:
    """MEXC's request signature: lowercase hex HMAC-SHA256 of ``total_params`` under ``secret``."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def authenticate(
    request: SignedRequest,
    secret_for: Callable[[str], str | None],
    now_ms: int,
) -> str:
    """Check key, signature, timestamp and recvWindow; return the authenticated API key.

    Raises SimError with MEXC's code for the first rule the request breaks.
    """
    if not request.api_key:
        raise SimError(*API_KEY_REQUIRED)
    secret = secret_for(request.api_key)
    if secret is None:
        raise SimError(*INVALID_API_KEY)

    query, query_signature = strip_signature(request.raw_query)
    body, body_signature = strip_signature(request.raw_body)
    provided = query_signature if query_signature is not None else body_signature
    if not provided:
        raise SimError(MANDATORY_PARAM_CODE, _mandatory(SIGNATURE_PARAM))

    timestamp = _int_param(request.params, "timestamp")
    if timestamp is None:
        raise missing_param("timestamp")
    recv_window = _int_param(request.params, "recvWindow")
    if recv_window is None:
        recv_window = DEFAULT_RECV_WINDOW_MS
    if recv_window > MAX_RECV_WINDOW_MS:
        raise SimError(*RECV_WINDOW_TOO_LARGE)
    if recv_window <= 0:
        raise SimError(*OUTSIDE_RECV_WINDOW)
    if not (timestamp < now_ms + MAX_CLOCK_AHEAD_MS and now_ms - timestamp <= recv_window):
        raise SimError(*OUTSIDE_RECV_WINDOW)

    expected = sign(secret, query + body)
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise SimError(*SIGNATURE_INVALID)
    return request.api_key


def _mandatory(name: str) -> str:
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()):
        raise missing_param(name)
    return int(raw)
