"""Request signing for MEXC's signed endpoints (reference §1).

``signature = lowercase hex(HMAC_SHA256(secret, totalParams))`` where totalParams is the query
string followed by the body. This client always sends every parameter in the query string with an
empty body, so totalParams is exactly the encoded query string that goes on the wire.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import quote

#: Characters left unencoded in values; everything else is percent-encoded with UPPERCASE hex,
#: which MEXC requires for batchOrders' JSON value.
_SAFE = "-_.~"
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + _SAFE)

ParamValue = str | int | Decimal


def sign(secret: bytes, total_params: str) -> str:
    """HMAC-SHA256 of ``total_params`` under ``secret`` as lowercase hex."""
    return hmac.new(secret, total_params.encode(), hashlib.sha256).hexdigest()


def format_value(value: ParamValue) -> str:
    """The wire text of one parameter value; Decimals never use exponent notation and never carry
    trailing zeros (MEXC counts them as decimals: "1.50" on a 1-decimal symbol is "scale is
    invalid")."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return str(value)


def encode_query(params: Iterable[tuple[str, ParamValue]]) -> str:
    """``k=v&k=v`` in the given order, values percent-encoded (uppercase hex)."""
    parts = []
    for key, value in params:
        text = format_value(value)
        if not _PLAIN.issuperset(text):
            text = quote(text, safe=_SAFE)
        parts.append(f"{key}={text}")
    return "&".join(parts)


def signed_query(secret: bytes, query: str) -> str:
    """``query`` with ``&signature=<hex>`` appended (signature is always the last pair)."""
    signature = sign(secret, query)
    return f"{query}&signature={signature}" if query else f"signature={signature}"
