"""Statements compiled once and executed with driver-level parameters.

SQLAlchemy caches compiled statements by a cache key, but some constructs have none (2.0's
INSERT .. ON CONFLICT): those are compiled on every execution (~0.5 ms). And the hot-path
writes of `OrderJournal` skip SQLAlchemy's execution entirely. Both compile the statement once
per dialect and set of value keys, from the same table definitions, and encode each value with
the dialect's own bind processor of its column type (the same `ExactDecimal`/`UtcDateTime`
encoding a normal execution applies), so the row written is exactly the row SQLAlchemy writes.

Encoding was ~1/4 of the journal's loop time per order (~40 us a write between network waits),
so two encoders are cheaper equivalents of SQLAlchemy's (measured on the place_order box):

- `ExactDecimal`: the processor's results are memoized per value (prices, quantities and zeros
  repeat from order to order): ~3 us -> ~0.3 us. Equal Decimals have one canonical form, so
  the cache cannot change a result; only exact `Decimal` instances are looked up (1, True and
  1.0 equal Decimal(1) but must still be refused), and only values the processor accepted are
  stored, so the range checks are unchanged.
- `UtcDateTime` on SQLite: `isoformat(" ", "microseconds")` of the UTC time without its
  "+00:00", the text of SQLite's DATETIME storage format, without the naive copy and the
  %-dict formatting: ~3.5 us -> ~1.5 us. Checked
  against SQLAlchemy's own processor for sample values each time a statement is prepared, so
  a different storage format falls back to SQLAlchemy's encoder instead of writing other text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

from mexcbot.store.types import ExactDecimal, UtcDateTime

Encoder = Callable[[Any], Any]

#: Distinct decimals remembered per encoder; the cache is emptied when full (a day's prices and
#: quantities of a few symbols fit many times over).
DECIMAL_CACHE_SIZE = 4096
#: Datetimes the fast SQLite encoder must encode exactly as SQLAlchemy does before it is used.
_DATETIME_SAMPLES = (
    datetime(2025, 3, 1, 12, 30, 0, 123456, tzinfo=UTC),
    datetime(2025, 3, 1, 12, 30, 0, 0, tzinfo=UTC),
    datetime(9, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2025, 3, 1, 14, 30, 0, 7, tzinfo=timezone(timedelta(hours=2))),  # converted
)


def decimal_encoder(encode: Encoder) -> Encoder:
    """`encode` (an `ExactDecimal` bind processor) memoized per Decimal value (see above)."""
    cache: dict[Decimal, Any] = {}

    def encode_decimal(value: Any) -> Any:
        if type(value) is not Decimal:
            return encode(value)  # refuses it, naming the type
        try:
            return cache[value]
        except KeyError:
            pass
        except TypeError:  # signalling NaN is unhashable: the processor refuses it
            return encode(value)
        encoded = encode(value)
        if len(cache) >= DECIMAL_CACHE_SIZE:
            cache.clear()
        cache[value] = encoded
        return encoded

    return encode_decimal


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not UTC:  # the bot's clocks give UTC: no conversion for those
        if value.tzinfo is None:
            raise ValueError(f"datetime {value.isoformat()} must be timezone-aware")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"


def column_encoder(type_: TypeEngine[Any], dialect: Dialect) -> Encoder | None:
    """The encoder of one bound column: SQLAlchemy's bind processor or its cheaper equivalent."""
    encode = type_.dialect_impl(dialect).bind_processor(dialect)
    if encode is None:
        return None
    if isinstance(type_, ExactDecimal):
        return decimal_encoder(encode)
    if (
        isinstance(type_, UtcDateTime)
        and dialect.name == "sqlite"
        and all(_sqlite_datetime(sample) == encode(sample) for sample in _DATETIME_SAMPLES)
    ):
        return _sqlite_datetime
    return encode


class PreparedWrite:
    """One statement compiled for `dialect` and one set of value keys, with the dialect's bind
    processors for its parameters.

    `parameters(values)` turns column values (as the repository's mapping produces them) into
    the positional parameters the driver takes, encoded exactly as SQLAlchemy encodes them.
    """

    def __init__(self, statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise RuntimeError(f"dialect {dialect.name} does not bind positional parameters")
        self.sql: str = compiled.string
        self.names = tuple(compiled.positiontup)
        if set(self.names) != set(keys):  # every value is written, nothing else is bound
            raise RuntimeError(f"statement binds {self.names}; values are {keys}")
        self._encoders: list[tuple[str, Encoder | None]] = [
            (name, column_encoder(compiled.binds[name].type, dialect)) for name in self.names
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            [
                values[name]
                if encode is None
                else (None if (value := values[name]) is None else encode(value))
                for name, encode in self._encoders
            ]
        )


class PreparedStatements:
    """A statement compiled on first use for each set of value keys (the caller's mapping decides
    the columns, so the SQL cannot drift from it; in practice there is one set per statement)."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        self._statement = statement
        self._dialect = dialect
        self._by_keys: dict[tuple[str, ...], PreparedWrite] = {}

    def __call__(self, values: Mapping[str, Any]) -> PreparedWrite:
        keys = tuple(values)
        prepared = self._by_keys.get(keys)
        if prepared is None:
            prepared = self._by_keys[keys] = PreparedWrite(self._statement, self._dialect, keys)
        return prepared
