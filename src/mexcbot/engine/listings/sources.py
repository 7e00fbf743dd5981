"""The port every listing source implements; the MEXC adapter (`mexcbot.mexc.listings`) has one
per discovery route (calendar, web symbol list, exchangeInfo, announcements)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mexcbot.domain.listings import ListingSighting, ListingSource


class ListingSourceError(Exception):
    """A source could not be read or its answer no longer has the shape it expects: that
    source degrades (one log line), the others go on."""


class ListingFeedSource(Protocol):
    """One way of discovering listings, polled every `interval_s` seconds."""

    @property
    def source(self) -> ListingSource: ...

    @property
    def interval_s(self) -> float: ...

    async def poll(self) -> Sequence[ListingSighting]:
        """What the source reports now (raises `ListingSourceError` when it cannot say)."""
        ...
