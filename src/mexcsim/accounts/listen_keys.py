"""User-data-stream listen keys: valid 60 minutes, extended by keepalive, at most 60 per account."""

from __future__ import annotations

import hashlib

from mexcsim import errors
from mexcsim.errors import SimError

LISTEN_KEY_TTL_MS = 60 * 60 * 1000
MAX_LISTEN_KEYS = 60


class ListenKeys:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._issued = 0
        self._expiry: dict[str, int] = {}  # key -> expiry ms
        self._owner: dict[str, str] = {}  # key -> api key

    def _valid(self, api_key: str, now: int) -> list[str]:
        return [k for k, exp in self._expiry.items() if exp > now and self._owner[k] == api_key]

    def create(self, api_key: str, now: int) -> str:
        if len(self._valid(api_key, now)) >= MAX_LISTEN_KEYS:
            raise SimError(
                errors.TOO_MANY_LISTEN_KEYS,
                f"listenKey: at most {MAX_LISTEN_KEYS} valid listen keys per account",
            )
        self._issued += 1
        key = hashlib.sha256(f"{self._seed}:{self._issued}:{api_key}".encode()).hexdigest()
        self._expiry[key] = now + LISTEN_KEY_TTL_MS
        self._owner[key] = api_key
        return key

    def _require(self, api_key: str, key: str, now: int) -> None:
        if self._owner.get(key) != api_key or self._expiry.get(key, 0) <= now:
            raise SimError(errors.UNKNOWN_LISTEN_KEY, "This listenKey does not exist.")

    def keepalive(self, api_key: str, key: str, now: int) -> None:
        self._require(api_key, key, now)
        self._expiry[key] = now + LISTEN_KEY_TTL_MS

    def close(self, api_key: str, key: str, now: int) -> None:
        self._require(api_key, key, now)
        del self._expiry[key]
        del self._owner[key]

    def valid_keys(self, api_key: str, now: int) -> list[str]:
        return self._valid(api_key, now)

    def owner_of(self, key: str, now: int) -> str | None:
        """The api key a valid listen key belongs to (for the user-data websocket)."""
        if self._expiry.get(key, 0) <= now:
            return None
        return self._owner.get(key)

    @property
    def issued(self) -> int:
        """How many keys were ever issued (the next key's sequence number minus one)."""
        return self._issued

    def keys(self) -> list[tuple[str, str, int]]:
        """(key, owner api key, expiry ms) for every key not closed."""
        return [(key, self._owner[key], expiry) for key, expiry in self._expiry.items()]

    def restore(self, issued: int, keys: list[tuple[str, str, int]]) -> None:
        self._issued = issued
        self._expiry = {key: expiry for key, _, expiry in keys}
        self._owner = {key: owner for key, owner, _ in keys}
