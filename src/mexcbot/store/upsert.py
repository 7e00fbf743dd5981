"""INSERT .. ON CONFLICT DO NOTHING for both dialects.

A unique violation aborts a PostgreSQL transaction, so "insert if new" must never rely on catching
IntegrityError: the conflict is resolved by the database and the transaction carries on.

SQLAlchemy 2.0 gives the ON CONFLICT construct no cache key, so executed the usual way it is
compiled anew on every insert; here it is compiled once per dialect, table and set of columns
(`PreparedStatements`) and executed with driver-level parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.store.prepared import PreparedStatements

_prepared: dict[tuple[str, str], PreparedStatements] = {}


def _statements(connection: AsyncConnection, table: Table) -> PreparedStatements:
    dialect = connection.dialect
    key = (dialect.name, table.name)
    statements = _prepared.get(key)
    if statements is None:
        if dialect.name == "postgresql":
            insert: Any = postgresql.insert(table)
        elif dialect.name == "sqlite":
            insert = sqlite.insert(table)
        else:  # pragma: no cover - create_engine only builds the two dialects above
            raise RuntimeError(f"unsupported dialect {dialect.name}")
        statement = insert.on_conflict_do_nothing().returning(table.c.id)
        statements = _prepared[key] = PreparedStatements(statement, dialect)
    return statements


async def insert_if_new(
    connection: AsyncConnection, table: Table, values: dict[str, Any]
) -> int | None:
    """Insert `values`; the new row's id, or None when a unique constraint already holds the row."""
    prepared = _statements(connection, table)(values)
    result = await connection.exec_driver_sql(prepared.sql, prepared.parameters(values))
    row_id = result.scalar_one_or_none()
    return None if row_id is None else int(row_id)
