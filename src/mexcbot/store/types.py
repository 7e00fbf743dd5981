"""Column types that keep money exact and times in UTC on both SQLite and PostgreSQL.

SQLite has no decimal type and SQLAlchemy's Numeric goes through float there, so `ExactDecimal`
stores a canonical decimal string on SQLite and NUMERIC(38, 18) on PostgreSQL. Both dialects refuse
values the PostgreSQL column could not hold exactly, so a value that round-trips on one database
round-trips on the other. Consequence for callers: on SQLite these columns compare as text, so
never filter or sort on them in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from mexcbot.domain.decimals import canonical_decimal

__all__ = ["DecimalOutOfRange", "ExactDecimal", "UtcDateTime", "canonical_decimal"]

PRECISION = 38
SCALE = 18
_MAX_INTEGER_DIGITS = PRECISION - SCALE


class DecimalOutOfRange(ValueError):
    """A Decimal the store cannot hold exactly (too many digits, NaN, infinity)."""


def _checked(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal):
        raise DecimalOutOfRange(f"expected a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise DecimalOutOfRange(f"cannot store {value}: only finite decimals are allowed")
    canonical = canonical_decimal(value)
    _, digits, exponent = canonical.as_tuple()
    assert isinstance(exponent, int)
    if exponent < -SCALE:
        raise DecimalOutOfRange(f"cannot store {value} exactly: more than {SCALE} decimal places")
    if len(digits) + exponent > _MAX_INTEGER_DIGITS:
        raise DecimalOutOfRange(
            f"cannot store {value} exactly: more than {_MAX_INTEGER_DIGITS} integer digits"
        )
    return canonical


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimal stored exactly: canonical text on SQLite, NUMERIC(38, 18) on PostgreSQL."""

    impl = Numeric(PRECISION, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(PRECISION + 3))
        return dialect.type_descriptor(Numeric(PRECISION, SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        canonical = _checked(value)
        if dialect.name == "sqlite":
            return format(canonical, "f")
        return canonical

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical_decimal(Decimal(value) if isinstance(value, str) else value)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, out and in between (naive UTC text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime(timezone=False))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"datetime {value.isoformat()} must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
