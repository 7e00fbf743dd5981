"""A token lookup reads in a deferred transaction when the authority is given one (app.py does):
on SQLite it takes no write lock, so it never holds up the commits of orders on the event loop;
recording the token's last use still writes, through the ordinary units of work."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mexcbot.api.auth import RequestRateLimit, TokenAuthority
from mexcbot.engine.tokens import TokenService
from mexcbot.store import TokenRole, UnitOfWork, create_engine, upgrade


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def test_a_lookup_needs_no_write_lock_and_the_touch_writes(database: Path) -> None:
    url = f"sqlite+aiosqlite:///{database}"
    writes, reads = create_engine(url), create_engine(url, immediate=False)
    try:
        stored, secret = await TokenService(lambda: UnitOfWork(writes)).create(
            "script", TokenRole.TRADE, actor="test"
        )
        authority = TokenAuthority(
            lambda: UnitOfWork(writes), RequestRateLimit(600), reads=lambda: UnitOfWork(reads)
        )
        # the first lookup records the token's use (a write, through `writes`)
        assert (await authority.authenticate(secret)).name == "script"
        async with UnitOfWork(writes) as uow:
            touched = await uow.tokens.get_by_hash(stored.token_hash)
        assert touched is not None
        assert touched.last_used_at is not None

        authority.forget()  # the next one reads again; its use was recorded a moment ago
        holder = sqlite3.connect(database, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock meanwhile
            principal = await asyncio.wait_for(authority.authenticate(secret), timeout=2)
            assert principal.name == "script"
        finally:
            holder.rollback()
            holder.close()
    finally:
        await writes.dispose()
        await reads.dispose()
