"""Migrations create the schema (and only they do), re-run as no-ops, and match tables.py."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from mexcbot.store import create_engine, current_revision, head_revision, upgrade
from mexcbot.store.migrate import MIGRATIONS_DIR
from mexcbot.store.tables import metadata

EXPECTED_TABLES = {
    "orders",
    "fills",
    "positions",
    "position_fills",
    "trading_state",
    "autobuy_rules",
    "autobuy_executions",
    "listings",
    "snipes",
    "api_tokens",
    "audit_log",
    "notification_outbox",
    "notification_state",
    "retired_ids",
    "alembic_version",
}


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_creates_every_table_and_rerun_is_a_no_op(database_url: str) -> None:
    assert await current_revision(database_url) is None
    await upgrade(database_url)
    await upgrade(database_url)
    assert await current_revision(database_url) == head_revision()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_table_names) == EXPECTED_TABLES
            assert await connection.run_sync(_schema_diff) == []
            versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
            assert len(versions) == 1
    finally:
        await engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert any((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert MIGRATIONS_DIR.parent.name == "store"
