"""`Fresh`: a value with the moment it was true on the exchange. A leaf (stdlib only), so the
`Exchange` port, the read caches and the API can all speak it without an import circle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

V = TypeVar("V")

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Fresh(Generic[V]):
    """A value and the moment it was true on the exchange (as far as the bot can tell)."""

    value: V
    as_of: datetime

    def age_s(self, now: datetime) -> float:
        return max(0.0, (now - self.as_of).total_seconds())
