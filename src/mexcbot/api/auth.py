"""Bearer-token authentication, role authorization and the per-token request rate limit.

Tokens and their hashes are `mexcbot.engine.tokens`'; roles are `mexcbot.domain.tokens`'. The stored
hash is compared with ``hmac.compare_digest``.

A verified token is cached for ``CACHE_SECONDS`` so a request costs no database round trip; a
token revoked through the API is dropped from the cache at once, one revoked with the CLI (another
process) stops working within ``CACHE_SECONDS``. The lookup of one token is a single flight, and
an entry older than ``REFRESH_AHEAD_SECONDS`` is refreshed in the background while it still
answers: before, every request that arrived as an entry expired made its own lookup (a SQLite
write transaction each), so 50 clients polling 4 routes made ~2,500 token lookups in 20 s, ~10 %
of the event loop (py-spy, benchmarks/many_clients.py), and queued order writes behind them.

A token that is NOT found is remembered too (``UNKNOWN_CACHE_SECONDS``, at most
``UNKNOWN_CACHE_SIZE`` of them, by hash), so repeating a bad token costs no database lookup. That
can never refuse a token created later: a new token is 256 fresh random bits, so its hash cannot
have been presented (and cached as unknown) before it existed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from mexcbot.api.errors import ApiProblem
from mexcbot.domain.tokens import ApiToken, TokenRole, role_allows
from mexcbot.engine.tokens import hash_token
from mexcbot.store import UnitOfWork

log = logging.getLogger(__name__)

CACHE_SECONDS: Final = 2.0
REFRESH_AHEAD_SECONDS: Final = 1.0
UNKNOWN_CACHE_SECONDS: Final = 300.0
UNKNOWN_CACHE_SIZE: Final = 10_000
_TOUCH_EVERY: Final = timedelta(minutes=1)


def bearer_credentials(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without the header.

    Raises a 401 problem for another scheme, so the caller learns the header's expected form.
    """
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        raise ApiProblem(
            401,
            "unauthenticated",
            "Authorization must use the Bearer scheme: 'Authorization: Bearer <token>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials


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
        *,
        reads: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        """`reads`: units of work for the lookup alone (app.py gives deferred ones, which take
        no write lock on SQLite); `uow_factory`'s write the token's last use."""
        self._uow_factory = uow_factory
        self._reads = reads or uow_factory
        self._rate_limit = rate_limit
        self._clock = clock
        self._cache: dict[str, tuple[ApiToken, float]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._lookups: dict[str, asyncio.Task[ApiToken | None]] = {}

    def forget(self, name: str | None = None) -> None:
        """Drop cached tokens (one by name, or all) so a revocation takes effect now."""
        self._lookups.clear()  # a lookup under way may have read the token before the change
        if name is None:
            self._cache.clear()
            self._unknown.clear()
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
            if now - cached[1] >= REFRESH_AHEAD_SECONDS:
                self._flight(digest)  # refreshed while it still answers: no request waits
            return cached[0]
        unknown_since = self._unknown.get(digest)
        if unknown_since is not None and now - unknown_since < UNKNOWN_CACHE_SECONDS:
            return None
        return await asyncio.shield(self._flight(digest))

    def _flight(self, digest: str) -> asyncio.Task[ApiToken | None]:
        """The one database lookup of ``digest`` under way, started if there is none."""
        flight = self._lookups.get(digest)
        if flight is None:
            flight = asyncio.create_task(self._fetch(digest))
            flight.add_done_callback(_retrieved)
            self._lookups[digest] = flight
        return flight

    async def _fetch(self, digest: str) -> ApiToken | None:
        started = self._clock()
        try:
            async with self._reads() as uow:
                token = await uow.tokens.get_by_hash(digest)
            if token is None:
                self._cache.pop(digest, None)
                self._remember_unknown(digest, started)
                return None
            last = token.last_used_at
            if token.is_active and (last is None or datetime.now(UTC) - last > _TOUCH_EVERY):
                async with self._uow_factory() as uow:
                    await uow.tokens.touch(token.id)
                    await uow.commit()
        finally:
            mine = self._lookups.get(digest) is asyncio.current_task()
            if mine:
                del self._lookups[digest]
        if mine:  # not forgotten (revoked) while under way: its answer may be cached
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (token, started)
        return token

    def _remember_unknown(self, digest: str, now: float) -> None:
        self._unknown[digest] = now
        self._unknown.move_to_end(digest)
        while len(self._unknown) > UNKNOWN_CACHE_SIZE:
            self._unknown.popitem(last=False)


def _retrieved(flight: asyncio.Task[ApiToken | None]) -> None:
    """A refresh nobody awaited may fail (database away): the next request looks up again."""
    error = None if flight.cancelled() else flight.exception()
    if error is not None:  # its type only: the statement's parameters hold a token hash
        log.warning("token lookup failed: %s", type(error).__name__)


def authorize(principal: Principal, needed: TokenRole) -> None:
    if not role_allows(principal.role, needed):
        raise ApiProblem(
            403,
            "forbidden",
            f"The token {principal.name!r} has role {principal.role}; this needs role {needed}",
            field="Authorization",
        )
