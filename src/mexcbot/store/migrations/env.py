"""Alembic environment: runs migrations on the connection `mexcbot.store.migrate` hands over.

Used programmatically (`mexcbot db upgrade`, bot start, tests); when run through the alembic
command line instead, it connects to `sqlalchemy.url` or `MEXCBOT_DATABASE_URL`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from mexcbot.store.database import create_engine, database_url_from_env
from mexcbot.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or database_url_from_env()
    asyncio.run(_run_standalone(url))


_main()
