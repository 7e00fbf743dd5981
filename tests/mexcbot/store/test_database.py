"""Database URLs and the SQLite connection settings."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mexcbot.store import UnsupportedDatabaseUrl, create_engine, normalize_database_url
from mexcbot.store.database import DEFAULT_DATABASE_URL, database_url_from_env


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/bot", "postgresql+asyncpg://u:p@db:5432/bot"),
        ("postgresql://u@db/bot", "postgresql+asyncpg://u@db/bot"),
        ("postgresql+asyncpg://u@db/bot", "postgresql+asyncpg://u@db/bot"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_urls_are_mapped_to_the_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://u@db/bot", "postgresql+psycopg2://u@db/bot", "bot.db"])
def test_unsupported_urls_are_refused_with_the_accepted_forms(bad: str) -> None:
    with pytest.raises(UnsupportedDatabaseUrl, match="database url"):
        normalize_database_url(bad)


def test_env_url_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEXCBOT_DATABASE_URL", raising=False)
    assert database_url_from_env() == DEFAULT_DATABASE_URL
    monkeypatch.setenv("MEXCBOT_DATABASE_URL", "postgres://u@db/bot")
    assert database_url_from_env() == "postgresql+asyncpg://u@db/bot"


async def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/pragmas.db")
    try:
        async with engine.connect() as connection:

            async def pragma(name: str) -> object:
                return (await connection.execute(text(f"PRAGMA {name}"))).scalar()

            assert await pragma("journal_mode") == "wal"
            assert await pragma("synchronous") == 1  # NORMAL
            assert await pragma("foreign_keys") == 1
            assert await pragma("busy_timeout") == 10_000
    finally:
        await engine.dispose()
