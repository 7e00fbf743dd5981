"""Scheduled new listings: symbols announced with an opening time and a starting price.

Before its opening a listed symbol is absent from defaultSymbols, appears in exchangeInfo with
status "2" (paused) so a sniper can read its rules in advance, its public market data is empty or
zero (see `mexcsim.market.pending_data`), stream subscriptions for it are "Blocked" and orders on it
get HTTP 400 {"code":10007,"msg":"symbol not support api"}. From its API-open time on it trades
normally, starting from a thin book that fills in (see `mexcsim.market.liquidity`).

Two times, because real openings slip: `open_time_ms` is the announced time T, the one the
calendar, the announcement, the web symbol list and exchangeInfo's ``firstOpenTime`` show;
`api_open_ms` = T + `api_open_delay_ms` is when the API really starts taking orders. A bot that
trusts T and never retries 10007 misses a late listing.

Opening due listings is asked on every request, so the schedule keeps its pending listings in a
heap by API-open time: "is anything due?" is one comparison, whatever the number scheduled.
"""

from __future__ import annotations

import heapq
import zlib
from dataclasses import dataclass
from decimal import Decimal

from mexcsim.decimals import fmt
from mexcsim.market.symbols import SymbolSpec

DAY_MS = 86_400_000


def coin_id(asset: str) -> str:
    """A stable id for a coin, shaped like MEXC's 32-hex-digit vcoinId / currency id."""
    digest = zlib.crc32(asset.encode())
    return f"{digest:08x}" * 4


@dataclass(frozen=True, slots=True)
class Listing:
    spec: SymbolSpec
    open_time_ms: int
    """The announced opening time T (epoch ms, UTC)."""
    initial_price: Decimal
    api_open_delay_ms: int = 0
    """How long after T the API really opens (0: on time)."""
    announced_at_ms: int | None = None
    """When the listing was scheduled (the announcement's postTime); None for listings saved
    before it was recorded (their announcement is dated T)."""
    book_ramp_ms: int = 0
    """How long its thin opening book takes to fill in (0: the full book at once)."""

    @property
    def api_open_ms(self) -> int:
        return self.open_time_ms + self.api_open_delay_ms

    @property
    def post_time_ms(self) -> int:
        return self.announced_at_ms if self.announced_at_ms is not None else self.open_time_ms

    @property
    def vcoin_id(self) -> str:
        return coin_id(self.spec.base_asset)


class ListingSchedule:
    def __init__(self) -> None:
        self._pending: dict[str, Listing] = {}
        self._opened: dict[str, Listing] = {}
        self._due: list[tuple[int, str]] = []
        """(api_open_ms, symbol) of every pending listing, a heap."""

    def schedule(self, listing: Listing) -> None:
        symbol = listing.spec.symbol
        self._pending[symbol] = listing
        heapq.heappush(self._due, (listing.api_open_ms, symbol))

    def is_pending(self, symbol: str) -> bool:
        return symbol in self._pending

    def get(self, symbol: str) -> Listing | None:
        """The listing of `symbol`, pending or opened (None for a symbol never listed here)."""
        return self._pending.get(symbol) or self._opened.get(symbol)

    def pending(self) -> list[Listing]:
        return list(self._pending.values())

    def opened(self) -> list[Listing]:
        return list(self._opened.values())

    def restore(self, pending: list[Listing], opened: list[Listing]) -> None:
        """Replace the schedule with a saved one."""
        self._pending = {item.spec.symbol: item for item in pending}
        self._opened = {item.spec.symbol: item for item in opened}
        self._due = [(item.api_open_ms, item.spec.symbol) for item in pending]
        heapq.heapify(self._due)

    @property
    def next_open_ms(self) -> int | None:
        """The earliest API-open time of a pending listing (None when nothing is pending)."""
        return self._due[0][0] if self._due else None

    def is_due(self, now_ms: int) -> bool:
        """O(1): whether some pending listing's API-open time has come."""
        return bool(self._due) and self._due[0][0] <= now_ms

    def pop_due(self, now_ms: int) -> list[Listing]:
        """Listings whose API-open time has come, moved to the opened set, earliest first."""
        due: list[Listing] = []
        while self._due and self._due[0][0] <= now_ms:
            _, symbol = heapq.heappop(self._due)
            listing = self._pending.pop(symbol)
            self._opened[symbol] = listing
            due.append(listing)
        return due

    def upcoming_and_recent(self, now_ms: int) -> list[Listing]:
        """Pending listings and those announced to open in the last 24 h, by announced time."""
        recent = [item for item in self._opened.values() if now_ms - item.open_time_ms < DAY_MS]
        return sorted([*self._pending.values(), *recent], key=lambda item: item.open_time_ms)

    def calendar(self, now_ms: int) -> dict[str, object]:
        """The new-coin calendar (reference §7.1): upcoming openings and those of the last 24 h,
        at their announced time."""
        return {
            "data": {
                "newCoins": [
                    {
                        "vcoinId": item.vcoin_id,
                        "vcoinName": item.spec.base_asset,
                        "vcoinNameFull": item.spec.full_name or item.spec.base_asset,
                        "firstOpenTime": item.open_time_ms,
                        "zone": "NEW",
                    }
                    for item in self.upcoming_and_recent(now_ms)
                ]
            }
        }

    def report(self) -> list[dict[str, object]]:
        """Every listing for the admin API (``GET /_sim/listings``), by announced time."""
        rows = [(item, "pending") for item in self._pending.values()]
        rows += [(item, "open") for item in self._opened.values()]
        rows.sort(key=lambda row: (row[0].open_time_ms, row[0].spec.symbol))
        return [
            {
                "symbol": item.spec.symbol,
                "base_asset": item.spec.base_asset,
                "quote_asset": item.spec.quote_asset,
                "full_name": item.spec.full_name or item.spec.base_asset,
                "vcoin_id": item.vcoin_id,
                "open_time": item.open_time_ms,
                "api_open_delay_ms": item.api_open_delay_ms,
                "api_open_time": item.api_open_ms,
                "initial_price": fmt(item.initial_price),
                "announced_at": item.post_time_ms,
                "book_ramp_ms": item.book_ramp_ms,
                "status": status,
            }
            for item, status in rows
        ]
