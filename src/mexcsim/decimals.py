"""Exact numbers on the wire: Decimal in, Decimal out, never float, never exponent notation."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal(0)


def fmt(value: Decimal) -> str:
    """Plain decimal text, trailing zeros stripped ("1.50" -> "1.5", 1E+2 -> "100")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("", "-0"):
        return "0"
    return text


def parse_decimal(text: str) -> Decimal | None:
    """A finite Decimal from plain digits (optionally signed, one dot), or None when malformed."""
    stripped = text.strip()
    if not stripped or any(c not in "0123456789.-+" for c in stripped):
        return None
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def written_decimals(value: Decimal) -> int:
    """How many decimals a value was written with, trailing zeros included ("1.50" has 2)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def step(decimals: int) -> Decimal:
    """The smallest increment with `decimals` places: 2 -> Decimal("0.01")."""
    return Decimal(1).scaleb(-decimals)


def round_down(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(step(decimals), rounding=ROUND_DOWN)


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(step(decimals), rounding=ROUND_HALF_UP)
