"""MEXC's JSON values, read tolerantly: the decoder and the field readers both parsers share.

MEXC sends numbers as strings, ints or JSON floats (decoded straight to Decimal), null or "" for a
missing figure, and ``code`` 0 or 200 for success. These readers accept every variant the reference
lists and raise ``KeyError``/``TypeError``/``ValueError`` on anything else; the client turns those
into ``UnexpectedResponse``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from mexcbot.mexc.constants import SUCCESS_CODES

JsonObject = Mapping[str, object]

_ZERO: Final = Decimal(0)
_DECODER: Final = json.JSONDecoder(parse_float=Decimal)


def decode(raw: bytes) -> object:
    """JSON to Python with every non-integer number as an exact Decimal (one shared decoder:
    ``json.loads`` with keyword arguments builds a new decoder per call, which shows on the hot
    path)."""
    return _DECODER.decode(raw.decode())


def error_in(payload: object) -> tuple[int, str] | None:
    """``(code, msg)`` when ``payload`` is a MEXC error body (a code that is neither 0 nor 200)."""
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = opt_int(payload["code"])
    if code is None or code in SUCCESS_CODES:
        return None
    return code, str(payload.get("msg") or "")


def as_object(value: object) -> JsonObject:
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def as_array(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a JSON array, got {type(value).__name__}")
    return value


def as_decimal(value: object) -> Decimal:
    """A required figure; null or "" (MEXC's "not applicable") reads as zero."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value) if value else _ZERO
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if value is None:
        return _ZERO
    raise TypeError(f"expected a number, got {value!r}")


def opt_decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return as_decimal(value)


def as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str | Decimal):
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return as_int(value)


def as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {value!r}")


def opt_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return as_str(value)


def as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def one_or_many(payload: object) -> list[object]:
    return payload if isinstance(payload, list) else [payload]
