"""The API's number types answer exactly as the pydantic forms they stand in for."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from mexcbot.api.numbers import PlainDecimal, decimal_json
from mexcbot.api.schemas import MAX_DECIMAL, PositiveAmount
from mexcbot.domain.decimals import decimal_text

#: What `PositiveAmount` was written as: the constraints as pydantic's Field applies them.
_FIELD_FORM = Annotated[
    PlainDecimal, Field(gt=0, lt=MAX_DECIMAL, decimal_places=18, allow_inf_nan=False)
]
_NEW = TypeAdapter(PositiveAmount)
_OLD = TypeAdapter(_FIELD_FORM)

AMOUNTS: list[Any] = [
    *["0", "00", "0.0", "0.000", "1", "01", "1.0", "1.000000", "0.001000", "25", "30000.00"],
    *[25, 0, 1, 10**15, 10**15 - 1, 2**64, True, False, None, 0.5, 1.0, -1, [], {}],
    *["-1", "+1", "1e3", "1E3", " 1", "1 ", "1_000", "\u0661", "\uff11", "", ".5", "5."],
    *["1000000000000000", "999999999999999", "999999999999999.999999999999999999"],
    *["0.000000000000000001", "0.0000000000000000001", "0.1000000000000000000000"],
    *["1000000000000000.0000000000000000001", "0.0000000000000000000", "0.00000001"],
    *["1" * 40, "1" * 41, "1." + "1" * 40, "1." + "1" * 41, "1" * 40 + "." + "0" * 40],
    *["NaN", "Infinity", "inf", "12345678901234.123456789012345678"],
    *[Decimal("1E+2"), Decimal("1E-19"), Decimal("1.0E-18"), Decimal("NaN"), Decimal("-0")],
    *[Decimal("100E-20"), Decimal("1E+15"), Decimal("0E-30"), Decimal("-1"), Decimal("Infinity")],
]


def _outcome(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        result = adapter.validate_python(value)
    except ValidationError as exc:
        return ("error", exc.errors(include_url=False))
    return ("ok", result, result.as_tuple())


@pytest.mark.parametrize("value", AMOUNTS, ids=repr)
def test_positive_amount_validates_as_its_field_form(value: Any) -> None:
    assert _outcome(_NEW, value) == _outcome(_OLD, value)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"\A[0-9]{1,20}(\.[0-9]{1,25})?\Z"),
        st.integers(min_value=-5, max_value=10**16),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    )
)
def test_positive_amount_validates_as_its_field_form_for_any_input(value: Any) -> None:
    assert _outcome(_NEW, value) == _outcome(_OLD, value)


DECIMALS = [
    *["0", "-0", "0.0", "0.000", "-0.0", "1", "-1", "10", "100", "30000", "30000.00", "0.001"],
    *["0.001000", "0.0010", "1.5", "-1.5", "1E+2", "1E-7", "1.0E-7", "0.000001", "0.0000001"],
    *["1E+30", "123456789012345678901234567890", "9" * 78, "9" * 79, "1." + "1" * 76],
    *["1." + "1" * 77, "0." + "0" * 75 + "1", "-" + "9" * 77, "Infinity", "-Infinity"],
    *["NaN", "NaN123", "-NaN", "sNaN", "0E-30", "5E+0", "12.50", "12.5", "-0.000", "100.000"],
    *["-100.0", "0.10", "10.010", "9" * 77 + ".0", "9" * 76 + ".0"],
]


def _written(write: Any, value: Decimal) -> Any:
    try:
        return write(value)
    except Exception as exc:  # non-finite, or too wide for the context: the same failure
        return type(exc)


@pytest.mark.parametrize("text", DECIMALS)
def test_decimal_json_writes_what_decimal_text_writes(text: str) -> None:
    value = Decimal(text)
    assert _written(decimal_json, value) == _written(decimal_text, value)


@settings(max_examples=1000, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_json_writes_what_decimal_text_writes_for_any_decimal(value: Decimal) -> None:
    assert decimal_json(value) == decimal_text(value)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**90), max_value=10**90), st.integers(-90, 90))
def test_decimal_json_writes_what_decimal_text_writes_for_any_scale(
    coefficient: int, exponent: int
) -> None:
    value = Decimal(coefficient).scaleb(exponent, Context(prec=200))
    assert _written(decimal_json, value) == _written(decimal_text, value)


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"\A-?[0-9]{1,45}(\.[0-9]{0,45})?\Z"))
def test_decimal_json_writes_what_decimal_text_writes_for_any_printed_form(text: str) -> None:
    value = Decimal(text)
    assert _written(decimal_json, value) == _written(decimal_text, value)


def test_decimal_json_sees_an_exponent_in_either_case() -> None:
    # str() writes the exponent as the context says (capitals=0: 1e+2)
    with localcontext(Context(capitals=0)):
        for text in ("1E+2", "1.50E-7", "-0E+3"):
            assert decimal_json(Decimal(text)) == decimal_text(Decimal(text))
