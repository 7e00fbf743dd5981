"""Raw request parameters (strings as received) read into typed values, with MEXC's codes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from mexcsim.decimals import ZERO, parse_decimal
from mexcsim.errors import illegal_param, missing_param


def optional_str(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def required_str(params: Mapping[str, object], name: str) -> str:
    value = optional_str(params, name)
    if value is None:
        raise missing_param(name)
    return value


def optional_positive_decimal(params: Mapping[str, object], name: str) -> Decimal | None:
    text = optional_str(params, name)
    if text is None:
        return None
    value = parse_decimal(text)
    if value is None:
        raise illegal_param(name, f"'{text}' is not a decimal number")
    if value <= ZERO:
        raise illegal_param(name, f"must be greater than 0, got '{text}'")
    return value


def optional_int(params: Mapping[str, object], name: str) -> int | None:
    text = optional_str(params, name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise illegal_param(name, f"'{text}' is not an integer") from None


def checked_limit(limit: int | None, name: str, default: int, maximum: int) -> int:
    """A page size: `default` when absent, otherwise 1..maximum."""
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise illegal_param(name, f"must be between 1 and {maximum}, got {limit}")
    return limit
