"""API tokens as use cases: create, list, revoke, and the first admin token of a fresh database.

The API's admin routes and the `mexcbot token` CLI both call this service, so a token name follows
one rule (`mexcbot.domain.tokens.validate_token_name`) and every change is audited the same way.

Tokens are ``mxb_`` + 43 URL-safe characters from ``secrets`` (256 random bits). Only their SHA-256
is stored. A fast hash is the right tool here: slow password hashes (bcrypt, scrypt) exist to make
guessing LOW-entropy passwords expensive, but nobody can enumerate 2^256 tokens, and a slow hash
would add ~100 ms to every request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Final

from mexcbot.domain.tokens import ApiToken, TokenRole, validate_token_name
from mexcbot.engine.errors import TokenNameTaken, TokenNotFound
from mexcbot.store import DuplicateToken, UnitOfWork

TOKEN_PREFIX: Final = "mxb_"
FIRST_ADMIN_TOKEN_NAME: Final = "admin"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    """`on_revoked(name)` runs after a revocation committed (the API drops its cache entry)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        on_revoked: Callable[[str], None] | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._on_revoked = on_revoked

    async def create(self, name: str, role: TokenRole, *, actor: str) -> tuple[ApiToken, str]:
        """Create and audit a token; the stored row and the token (show it once, never again).

        Raises `InvalidTokenName` or `TokenNameTaken`; nothing is stored then.
        """
        validate_token_name(name)
        token = new_token()
        async with self._uow_factory() as uow:
            try:
                stored = await uow.tokens.create(name, role, hash_token(token))
            except DuplicateToken:
                raise TokenNameTaken(name) from None
            await uow.audit.append(
                actor=actor, action="token.create", target=name, result="ok", detail=f"role={role}"
            )
            await uow.commit()
        return stored, token

    async def list(self) -> list[ApiToken]:
        async with self._uow_factory() as uow:
            return await uow.tokens.list()

    async def revoke(self, name: str, *, actor: str) -> ApiToken:
        """Revoke the active token `name`; `TokenNotFound` if there is none."""
        validate_token_name(name)
        async with self._uow_factory() as uow:
            revoked = await uow.tokens.revoke(name)
            token = await uow.tokens.get_by_name(name)
            if not revoked or token is None:
                raise TokenNotFound(name)
            await uow.audit.append(actor=actor, action="token.revoke", target=name, result="ok")
            await uow.commit()
        if self._on_revoked is not None:
            self._on_revoked(name)
        return token

    async def first_admin(self) -> str | None:
        """On a database without tokens, create the admin token and return it (shown once)."""
        if await self.list():
            return None
        _, token = await self.create(FIRST_ADMIN_TOKEN_NAME, TokenRole.ADMIN, actor="system")
        return token
