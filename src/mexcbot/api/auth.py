"""Bearer-token authentication, role authorization and the per-token request rate limit.

Tokens and their hashes are `mexcbot.engine.tokens`'; roles are `mexcbot.domain.tokens`'. The stored
hash is compared with ``hmac.compare_digest``.

A verified token is cached for ``CACHE_SECONDS`` so a request costs no database round trip; a
token revoked through the API is dropped from the cache at once, one revoked with the CLI (another
process) stops working within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from mexcbot.api.errors import ApiProblem
from mexcbot.domain.tokens import ApiToken, TokenRole, role_allows
from mexcbot.engine.tokens import hash_token
from mexcbot.store import UnitOfWork

CACHE_SECONDS: Final = 2.0
_TOUCH_EVERY: Final = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name (for the audit log) and its role. Never the token."""

    token_id: int
    name: str
    role: TokenRole


class _Bucket:
    """A token bucket: ``capacity`` requests, refilled at ``rate`` per second."""

    __slots__ = ("level", "stamp")

    def __init__(self, capacity: float, now: float) -> None:
        self.level = capacity
        self.stamp = now


class RequestRateLimit:
    """Per-token request budget: ``per_minute`` requests a minute, bursts up to the same."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def take(self, token_id: int) -> float:
        """Spend one request; 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.get(token_id)
        if bucket is None:
            bucket = self._buckets[token_id] = _Bucket(self._capacity, now)
        bucket.level = min(self._capacity, bucket.level + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        if bucket.level >= 1.0:
            bucket.level -= 1.0
            return 0.0
        return (1.0 - bucket.level) / self._rate


class TokenAuthority:
    """Resolves a presented bearer token to a ``Principal`` or a 401/403/429 problem."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        rate_limit: RequestRateLimit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self._rate_limit = rate_limit
        self._clock = clock
        self._cache: dict[str, tuple[ApiToken, float]] = {}

    def forget(self, name: str | None = None) -> None:
        """Drop cached tokens (one by name, or all) so a revocation takes effect now."""
        if name is None:
            self._cache.clear()
            return
        for key, (token, _) in list(self._cache.items()):
            if token.name == name:
                del self._cache[key]

    async def authenticate(self, presented: str | None) -> Principal:
        if not presented:
            raise ApiProblem(
                401,
                "unauthenticated",
                "This route needs a token: send the header 'Authorization: Bearer <token>'",
                field="Authorization",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hash_token(presented)
        token = await self._lookup(digest)
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise ApiProblem(
                401,
                "invalid_token",
                "The token is not valid (unknown or mistyped)",
                field="Authorization",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not token.is_active:
            raise ApiProblem(
                401,
                "token_revoked",
                f"The token {token.name!r} was revoked; ask an admin for a new one",
                field="Authorization",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        wait = self._rate_limit.take(token.id)
        if wait > 0:
            raise ApiProblem(
                429,
                "rate_limited",
                f"Too many requests for token {token.name!r}; retry after the Retry-After seconds",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return Principal(token.id, token.name, token.role)

    async def _lookup(self, digest: str) -> ApiToken | None:
        cached = self._cache.get(digest)
        now = self._clock()
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        async with self._uow_factory() as uow:
            token = await uow.tokens.get_by_hash(digest)
            if token is None:
                return None
            last = token.last_used_at
            if token.is_active and (last is None or datetime.now(UTC) - last > _TOUCH_EVERY):
                await uow.tokens.touch(token.id)
                await uow.commit()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (token, now)
        return token


def authorize(principal: Principal, needed: TokenRole) -> None:
    if not role_allows(principal.role, needed):
        raise ApiProblem(
            403,
            "forbidden",
            f"The token {principal.name!r} has role {principal.role}; this needs role {needed}",
            field="Authorization",
        )
