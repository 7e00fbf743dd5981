"""Where a listing bot learns of a new coin besides the calendar: MEXC's web symbol list and its
announcements (reference §7.2 and §7.3), built from the simulator's markets and listings.

Both are unofficial or thinly documented shapes, so the values below are plausible choices, not
recorded facts; a detector must treat them as hints (the API's 10007 stays the final word).

Web symbol list, ``GET /api/platform/spot/market-v2/web/symbolsV2`` (no auth):
``{"code":0,"msg":"success","data":{"symbols":{"USDT":[...]}}}``, one entry per open market and
per scheduled listing, grouped by quote asset, each group by symbol:

- ``mcd`` the quote's currency id and ``cd`` the base's (= the calendar's ``vcoinId``, both from
  `coin_id`), ``vn`` the base asset, ``fn`` / ``fne`` its full name;
- ``srt`` the 1-based position in its group; ``tp`` "MAIN" for the markets the simulator starts
  with, "NEW" for listings; ``cp`` / ``ci`` ``["NEW"]`` / ``["1001"]`` for listings, else empty;
- ``ot`` the opening time in ms: a listing's announced time (also while a late API open is still
  pending), `GENESIS_OPEN_MS` for the starting markets;
- state: open markets ``sts=1, st=1, tt=1``; pending listings ``sts=2, st=2, tt=4`` (the "ready"
  pattern one public bot looks for); ``dst=1`` (deposits open) for both;
- ``ps`` price decimals, ``qs`` quantity decimals, ``cdm`` 1, ``in`` an icon URL, ``ca`` "".

Announcements, ``GET /api/v3/announcements`` (no auth here), MEXC's documented envelope
``{"code":0,"data":[{"details":[...],"totalPage":N}],"msg":"success"}``, newest first, 20 per page
(``page`` from 1, ``pageSize`` up to 100). Scheduling a listing posts one, dated when it was
scheduled: title ``MEXC Will List <Full Name> (<BASE>), Trading opens 2026-12-01 14:00 (UTC)``
(announced time T in UTC; seconds are shown when T is not on a whole minute), ``language``
"en-US", ``url`` ``https://www.mexc.com/support/articles/<id>``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime

from mexcsim.market.listings import Listing, coin_id
from mexcsim.market.symbols import SymbolSpec

GENESIS_OPEN_MS = 1_577_836_800_000
"""2020-01-01 00:00 UTC: the opening time shown for the markets the simulator starts with (they
predate any listing scheduled here)."""
ANNOUNCEMENTS_PAGE_SIZE = 20
MAX_ANNOUNCEMENTS_PAGE_SIZE = 100


def _web_entry(
    spec: SymbolSpec, open_ms: int, *, listed: bool, pending: bool, order: int
) -> dict[str, object]:
    name = spec.full_name or spec.base_asset
    return {
        "mcd": coin_id(spec.quote_asset),
        "cd": coin_id(spec.base_asset),
        "vn": spec.base_asset,
        "fn": name,
        "fne": name,
        "srt": order,
        "sts": 2 if pending else 1,
        "tp": "NEW" if listed else "MAIN",
        "in": f"https://www.mexc.com/api/file/download/coin/{spec.base_asset}.png",
        "ot": open_ms,
        "cp": ["NEW"] if listed else [],
        "ci": ["1001"] if listed else [],
        "ps": spec.quote_asset_precision,
        "qs": spec.base_asset_precision,
        "cdm": 1,
        "st": 2 if pending else 1,
        "dst": 1,
        "tt": 4 if pending else 1,
        "ca": "",
    }


def web_symbols(
    open_markets: Iterable[tuple[SymbolSpec, Listing | None]], pending: Iterable[Listing]
) -> dict[str, object]:
    """The web symbol list: open markets (with the listing they came from, if any) and pending
    listings, grouped by quote asset."""
    rows: list[tuple[SymbolSpec, int, bool, bool]] = [
        (spec, GENESIS_OPEN_MS if item is None else item.open_time_ms, item is not None, False)
        for spec, item in open_markets
    ]
    rows += [(item.spec, item.open_time_ms, True, True) for item in pending]
    rows.sort(key=lambda row: (row[0].quote_asset, row[0].symbol))
    groups: dict[str, list[dict[str, object]]] = {}
    for spec, open_ms, listed, is_pending in rows:
        group = groups.setdefault(spec.quote_asset, [])
        group.append(
            _web_entry(spec, open_ms, listed=listed, pending=is_pending, order=len(group) + 1)
        )
    return {"code": 0, "msg": "success", "data": {"symbols": groups}}


def _utc_text(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if ms % 60_000 == 0 else "%Y-%m-%d %H:%M:%S")


def announcement_title(listing: Listing) -> str:
    spec = listing.spec
    name = spec.full_name or spec.base_asset
    opens = _utc_text(listing.open_time_ms)
    return f"MEXC Will List {name} ({spec.base_asset}), Trading opens {opens} (UTC)"


def _article_id(listing: Listing) -> int:
    return zlib.crc32(f"{listing.spec.symbol}:{listing.open_time_ms}".encode())


def announcements(listings: Iterable[Listing], page: int, page_size: int) -> dict[str, object]:
    """One page of listing announcements, newest first (`page` from 1)."""
    ordered = sorted(listings, key=lambda item: (-item.post_time_ms, item.spec.symbol))
    chosen = ordered[(page - 1) * page_size : page * page_size]
    details = [
        {
            "title": announcement_title(item),
            "url": f"https://www.mexc.com/support/articles/{_article_id(item)}",
            "language": "en-US",
            "postTime": item.post_time_ms,
        }
        for item in chosen
    ]
    total_pages = max(1, math.ceil(len(ordered) / page_size))
    return {"code": 0, "data": [{"details": details, "totalPage": total_pages}], "msg": "success"}
