"""One written form per amount: the canonical decimal, and its text.

An amount computed by the bot keeps the exponent of what made it (a quantity rounded to a step of
0.000001 is ``0.001000``), while the store keeps every decimal canonical (``0.001``). So without one
form the same order read back said ``0.001`` where its placement had answered ``0.001000``: equal
numbers, different strings for any client that compares them. Everything that writes an amount
out (the store's columns, the API's JSON, the live updates) uses `decimal_text`.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Final

#: Wide enough for any amount the bot holds (38 digits in the store) and the steps below.
_WIDE: Final = Context(prec=78)
_ONE: Final = Decimal(1)
_ZERO: Final = Decimal(0)


def canonical_decimal(value: Decimal) -> Decimal:
    """The value without trailing zeros and without exponent notation: 1.500 -> 1.5, 1E+2 -> 100.

    Computed in a wide context: the default 28-digit context would round 38-digit values. (The
    context is passed to each operation rather than installed with `localcontext`, which costs
    more than the arithmetic; this runs for every decimal column of every write.)
    """
    normalized = value.normalize(_WIDE)
    if normalized.as_tuple().exponent > 0:  # type: ignore[operator]
        normalized = normalized.quantize(_ONE, context=_WIDE)
    if normalized.is_zero():
        return _ZERO
    return normalized


def decimal_text(value: Decimal) -> str:
    """The canonical value as plain digits: ``0.001000`` -> ``"0.001"``, ``3E+4`` -> ``"30000"``."""
    return format(canonical_decimal(value), "f")
