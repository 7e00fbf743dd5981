"""Statements compiled once and executed with driver-level parameters.

SQLAlchemy caches compiled statements by a cache key, but some constructs have none (2.0's
INSERT .. ON CONFLICT): those are compiled on every execution (~0.5 ms). And the hot-path
writes of `OrderJournal` skip SQLAlchemy's execution entirely. Both compile the statement once
per dialect and set of value keys, from the same table definitions, and encode each value with
the dialect's own bind processor of its column type (the same `ExactDecimal`/`UtcDateTime`
encoding a normal execution applies), so the row written is exactly the row SQLAlchemy writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable


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
        self._encoders: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in self.names
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
