"""Numbers as the API reads them: plain ASCII digits, nothing a parser would merely tolerate.

Python's ``int()`` and ``Decimal()`` (and so pydantic's lax mode) accept ``1_000``, ``+100``,
surrounding spaces, ``1e3`` and digits of other scripts (Arabic-Indic, full-width): a quantity
typed as ``1_000`` was sent on to the exchange. Every number the API takes, in a body, a query or
a path, is one of these types instead, so the rule lives in one place:

- ``PlainDecimal``: a string of ASCII digits with an optional fraction (``25``, ``0.001``), or a
  JSON integer. No sign: every amount the API takes (quantity, price, quote amount) is positive,
  which the fields say with ``gt=0``. A JSON fraction (``0.1``) is refused: JSON parsers read it
  as a binary float, which rounds money; send it as a string.
- ``PlainInt``: ASCII digits only (counts, limits, offsets), or a JSON integer.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Final

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from mexcbot.domain.decimals import decimal_text

MAX_DIGITS: Final = 40
PLAIN_DECIMAL_PATTERN: Final = rf"^[0-9]{{1,{MAX_DIGITS}}}(\.[0-9]{{1,{MAX_DIGITS}}})?$"
PLAIN_INT_PATTERN: Final = rf"^[0-9]{{1,{MAX_DIGITS}}}$"
_PLAIN_DECIMAL = re.compile(PLAIN_DECIMAL_PATTERN.strip("^$"))
_PLAIN_INT = re.compile(PLAIN_INT_PATTERN.strip("^$"))

PLAIN_DECIMAL_RULE: Final = (
    "must be a plain decimal number: ASCII digits 0-9 with an optional '.' and fraction, "
    "like 25 or 0.001, in a JSON string (no sign, exponent, spaces, '_' or other digits)"
)
PLAIN_INT_RULE: Final = (
    "must be a plain whole number: ASCII digits 0-9 only, like 100 "
    "(no sign, fraction, exponent, spaces, '_' or other digits)"
)


#: `decimal_text` computes in a 78-digit context: a text this short has no digit it could round.
_PLAIN_TEXT_MAX = 78


def decimal_json(value: Decimal) -> str:
    """`decimal_text` (the canonical plain digits), what every amount the API writes goes through.

    Most amounts print without an exponent (``0.001000``, ``30000``, ``0``): their canonical
    text is that print without the fraction's trailing zeros (``0.001``; ``30000.00`` ->
    ``30000``; ``-0.0`` -> ``0``), which is what the normalisation of `decimal_text` ends in.
    Anything else (an exponent, a non-finite value, more than 78 characters) takes
    `decimal_text`. The same text for every Decimal (tests/mexcbot/api/test_numbers.py compares
    them over hypothesis' decimals). Hot loop (timeit, median of 5 runs, loaded box, same minute):
    per amount (``0.001000``) 1.1-2.5 -> 0.3-0.45 us; a placement's ``OrderOut.model_dump_json``
    (five amounts, written by the engine as 0.001000, 30000.00, 0.0100, 0, 0) 21.6-29.5 ->
    7.5-9.5 us.
    """
    text = str(value)
    if len(text) > _PLAIN_TEXT_MAX or "E" in text or "e" in text or "N" in text or text[-1] == "y":
        return decimal_text(value)  # exponent (either case), NaN, sNaN, Infinity, too long
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _is_json_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plain_decimal(value: object) -> object:
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return value
    if _is_json_integer(value) or (isinstance(value, Decimal) and value.is_finite()):
        return value
    raise PydanticCustomError("plain_decimal", PLAIN_DECIMAL_RULE)


def _plain_int(value: object) -> object:
    if isinstance(value, str) and _PLAIN_INT.fullmatch(value):
        return value
    if _is_json_integer(value):
        return value
    raise PydanticCustomError("plain_int", PLAIN_INT_RULE)


PlainDecimal = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    PlainSerializer(decimal_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PLAIN_DECIMAL_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
            "examples": ["0.001"],
        }
    ),
]
PlainInt = Annotated[int, BeforeValidator(_plain_int)]
