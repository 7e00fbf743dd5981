"""Connecting to the database: URL normalisation and an engine with the SQLite pragmas applied.

SQLite (via aiosqlite) is the embedded default; PostgreSQL (via asyncpg) is for scale-out. SQLite
runs in WAL mode with synchronous=NORMAL (durable across process crashes, a commit costs ~0.01 ms
instead of ~0.18 ms with FULL), foreign keys on and a busy timeout. Every SQLite transaction starts
with BEGIN IMMEDIATE: a read-modify-write of an order then holds the write lock from its first
read, which is what SELECT .. FOR UPDATE gives on PostgreSQL, and a second writer waits (busy
timeout) instead of failing half-way with SQLITE_BUSY.

The database file holds token hashes, the audit log and every order: it is created owner-only
(0600) before SQLite first opens it, and an existing one (with its -wal and -shm files) is made
owner-only at every start. SQLite creates -wal and -shm with the database file's mode.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./mexcbot.db"
DATABASE_URL_ENV = "MEXCBOT_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 10_000
OWNER_ONLY = 0o600
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class UnsupportedDatabaseUrl(ValueError):
    """The database URL names a backend the bot does not support."""


def database_url_from_env() -> str:
    """`MEXCBOT_DATABASE_URL` normalised, or the embedded SQLite default."""
    return normalize_database_url(os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL)


def normalize_database_url(url: str) -> str:
    """Map the URL forms people paste to the async drivers we use.

    postgres:// and postgresql:// (as hosting providers hand them out) become postgresql+asyncpg://;
    sqlite:// becomes sqlite+aiosqlite://. Other drivers are refused with the accepted forms named.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UnsupportedDatabaseUrl(f"database url must look like scheme://...; got {url!r}")
    mapping = {
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
    }
    try:
        return f"{mapping[scheme.lower()]}://{rest}"
    except KeyError:
        raise UnsupportedDatabaseUrl(
            f"database url scheme {scheme!r} is not supported; use sqlite+aiosqlite://, "
            "postgresql://, postgres:// or postgresql+asyncpg://"
        ) from None


def is_sqlite(url: str) -> bool:
    return make_url(normalize_database_url(url)).get_backend_name() == "sqlite"


def apply_sqlite_pragmas(dbapi_connection: Any, *, busy_timeout_ms: int) -> None:
    """The pragmas every SQLite connection of the bot runs with (see the module docstring);
    also used by the order journal's own connection (store/journal.py)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    finally:
        cursor.close()


def restrict_sqlite_file(url: str) -> None:
    """Create the SQLite database file of ``url`` owner-only if it is missing, and make it and
    its side files owner-only (POSIX; nothing for :memory: or a URI filename)."""
    database = make_url(url).database
    if os.name != "posix" or not database or database == ":memory:":
        return
    if database.startswith("file:"):
        return
    path = os.path.abspath(database)
    if not os.path.isdir(os.path.dirname(path)):
        return  # SQLite's own error names the missing directory
    # Never open (and close) a file SQLite may already hold: closing any descriptor of it drops
    # every POSIX lock this process has on it, the other connections' included. Another
    # process (`mexcbot token ...`) then thinks it is the last user, checkpoints and deletes
    # the WAL this process still writes to, and those writes are lost. Create it only when it
    # does not exist yet (nobody can hold it then); otherwise only chmod, which opens nothing.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY))
    for suffix in _SIDE_FILES:
        try:
            os.chmod(path + suffix, OWNER_ONLY)
        except FileNotFoundError:
            continue


def create_engine(url: str, *, immediate: bool = True, **engine_options: Any) -> AsyncEngine:
    """An async engine for `url` (normalised); SQLite connections get the pragmas above.

    ``immediate=False`` (SQLite): deferred transactions, so a read never takes the write lock
    (WAL readers do not block anyone). Only for a component whose write transactions start with
    their write and never read-then-write (the notification outbox), so the trading path's
    writers are not held up by its polling."""
    url = normalize_database_url(url)
    if not is_sqlite(url):
        engine_options.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **engine_options)
    restrict_sqlite_file(url)
    engine = create_async_engine(url, **engine_options)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        apply_sqlite_pragmas(dbapi_connection, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
