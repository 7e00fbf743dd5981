"""INSERT .. ON CONFLICT DO NOTHING for both dialects.

A unique violation aborts a PostgreSQL transaction, so "insert if new" must never rely on catching
IntegrityError: the conflict is resolved by the database and the transaction carries on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_if_new(
    connection: AsyncConnection, table: Table, values: dict[str, Any]
) -> int | None:
    """Insert `values`; the new row's id, or None when a unique constraint already holds the row."""
    if connection.dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
    elif connection.dialect.name == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - create_engine only builds the two dialects above
        raise RuntimeError(f"unsupported dialect {connection.dialect.name}")
    result = await connection.execute(statement.returning(table.c.id))
    row_id = result.scalar_one_or_none()
    return None if row_id is None else int(row_id)
