"""Scheduled new listings: symbols announced with an opening time and a starting price.

Before its opening a listed symbol is absent from defaultSymbols, appears in exchangeInfo with
status "2" (paused) so a sniper can read its rules in advance, and orders on it get HTTP 400
{"code":10007,"msg":"symbol not support api"}. From `open_time_ms` on it trades normally.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal

from mexcsim.market.symbols import SymbolSpec


@dataclass(frozen=True, slots=True)
class Listing:
    spec: SymbolSpec
    open_time_ms: int
    initial_price: Decimal

    @property
    def vcoin_id(self) -> str:
        """A stable id for the coin, shaped like MEXC's 32-hex-digit vcoinId."""
        digest = zlib.crc32(self.spec.base_asset.encode())
        return f"{digest:08x}" * 4


class ListingSchedule:
    def __init__(self) -> None:
        self._pending: dict[str, Listing] = {}
        self._opened: dict[str, Listing] = {}

    def schedule(self, listing: Listing) -> None:
        self._pending[listing.spec.symbol] = listing

    def is_pending(self, symbol: str) -> bool:
        return symbol in self._pending

    def pending(self) -> list[Listing]:
        return list(self._pending.values())

    def opened(self) -> list[Listing]:
        return list(self._opened.values())

    def restore(self, pending: list[Listing], opened: list[Listing]) -> None:
        """Replace the schedule with a saved one."""
        self._pending = {item.spec.symbol: item for item in pending}
        self._opened = {item.spec.symbol: item for item in opened}

    def pop_due(self, now_ms: int) -> list[Listing]:
        """Listings whose opening time has come, removed from the pending set, earliest first."""
        due = sorted(
            (item for item in self._pending.values() if item.open_time_ms <= now_ms),
            key=lambda item: item.open_time_ms,
        )
        for item in due:
            del self._pending[item.spec.symbol]
            self._opened[item.spec.symbol] = item
        return due

    def calendar(self, now_ms: int) -> dict[str, object]:
        """The new-coin calendar (reference §7.1): upcoming openings and those of the last 24 h."""
        recent = [item for item in self._opened.values() if now_ms - item.open_time_ms < 86_400_000]
        coins = sorted([*self._pending.values(), *recent], key=lambda item: item.open_time_ms)
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
                    for item in coins
                ]
            }
        }
