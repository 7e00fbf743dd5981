"""TokenRepository: API tokens, stored as hashes only.

The API layer generates a token, shows it once, and hands this repository only its hash; lookups
are by hash. Names are unique so an operator can revoke a token by name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.domain.tokens import ApiToken, TokenRole
from mexcbot.store import tables
from mexcbot.store.upsert import insert_if_new


class DuplicateToken(Exception):
    """A token with this name (or, astronomically unlikely, this hash) already exists."""


def _token_from_row(row: RowMapping) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        role=TokenRole(row["role"]),
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


class TokenRepository:
    """API tokens of one unit of work (`uow.tokens`)."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def create(self, name: str, role: TokenRole, token_hash: str) -> ApiToken:
        """Store a new token. Raises `DuplicateToken` (the transaction stays usable)."""
        if not name or len(name) > 100:
            raise ValueError(f"token name must be 1 to 100 characters; got {name!r}")
        values = {
            "name": name,
            "role": TokenRole(role).value,
            "token_hash": token_hash,
            "created_at": self._clock(),
        }
        row_id = await insert_if_new(self._connection, tables.api_tokens, values)
        if row_id is None:
            raise DuplicateToken(f"a token named {name!r} already exists")
        token = await self._one(tables.api_tokens.c.id == row_id)
        assert token is not None
        return token

    async def get_by_hash(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, revoked or not: check `is_active`."""
        return await self._one(tables.api_tokens.c.token_hash == token_hash)

    async def get_by_name(self, name: str) -> ApiToken | None:
        return await self._one(tables.api_tokens.c.name == name)

    async def list(self) -> list[ApiToken]:
        """Every token, oldest first."""
        query = select(tables.api_tokens).order_by(tables.api_tokens.c.id)
        rows = (await self._connection.execute(query)).mappings().all()
        return [_token_from_row(row) for row in rows]

    async def revoke(self, name: str) -> bool:
        """Revoke the named token; False if there is no such active token."""
        result = await self._connection.execute(
            update(tables.api_tokens)
            .where(tables.api_tokens.c.name == name)
            .where(tables.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )
        return result.rowcount == 1

    async def touch(self, token_id: int) -> None:
        """Record that the token was just used."""
        await self._connection.execute(
            update(tables.api_tokens)
            .where(tables.api_tokens.c.id == token_id)
            .values(last_used_at=self._clock())
        )

    async def _one(self, condition: object) -> ApiToken | None:
        query = select(tables.api_tokens).where(condition)  # type: ignore[arg-type]
        row = (await self._connection.execute(query)).mappings().one_or_none()
        return None if row is None else _token_from_row(row)
