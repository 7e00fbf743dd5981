"""The journal's cheaper encoders give exactly SQLAlchemy's parameters, and refuse the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from mexcbot.store import tables
from mexcbot.store.prepared import DECIMAL_CACHE_SIZE, column_encoder, decimal_encoder
from mexcbot.store.types import DecimalOutOfRange

DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.asyncpg.dialect()]  # type: ignore[no-untyped-call]


def processors(dialect: Dialect, column: str) -> tuple[Any, Any]:
    type_ = tables.orders.c[column].type
    return column_encoder(type_, dialect), type_.dialect_impl(dialect).bind_processor(dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_decimals_encode_as_sqlalchemy_does_also_from_the_cache(dialect: Dialect) -> None:
    fast, reference = processors(dialect, "price")
    values = ["1.500", "1.5", "-0", "0E-7", "1E+2", "12345678901234567890.123456789012345678"]
    for _ in range(2):  # the second round is served from the cache
        for text in values:
            assert fast(Decimal(text)) == reference(Decimal(text))


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@pytest.mark.parametrize("value", [1, True, 1.0, Decimal("NaN"), Decimal("sNaN"), Decimal("1E+30")])
def test_values_the_column_refuses_stay_refused_after_an_equal_decimal_was_cached(
    dialect: Dialect, value: Any
) -> None:
    fast, _ = processors(dialect, "quantity")
    fast(Decimal(1))
    with pytest.raises(DecimalOutOfRange):
        fast(value)


def test_the_decimal_cache_is_bounded() -> None:
    """Past DECIMAL_CACHE_SIZE distinct values the cache starts over: the first value is
    encoded again (with an unbounded cache it would still be served from memory)."""
    _, reference = processors(sqlite.dialect(), "quantity")
    encoded: list[Decimal] = []

    def counting(value: Any) -> Any:
        encoded.append(value)
        return reference(value)

    fast = decimal_encoder(counting)
    first = Decimal("0.001")
    assert fast(first) == reference(first)
    assert fast(first) == reference(first)
    assert encoded == [first]  # the repeat came from the cache
    for i in range(2, DECIMAL_CACHE_SIZE + 10):
        assert fast(Decimal(i) / 1000) == reference(Decimal(i) / 1000)
    calls = len(encoded)
    assert fast(first) == reference(first)
    assert len(encoded) == calls + 1, "the cache kept more than DECIMAL_CACHE_SIZE values"


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 3, 1, 12, 30, 0, 123456, tzinfo=UTC),
        datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=3))),
    ],
)
def test_sqlite_datetimes_encode_as_sqlalchemy_does(value: datetime) -> None:
    fast, reference = processors(sqlite.dialect(), "created_at")
    assert fast is not reference
    assert fast(value) == reference(value)


def test_naive_datetimes_are_refused() -> None:
    fast, _ = processors(sqlite.dialect(), "created_at")
    with pytest.raises(ValueError, match="timezone-aware"):
        fast(datetime(2025, 3, 1))
