"""MEXC's listing discovery routes (reference section 7), each one `ListingFeedSource`.

The web routes (calendar, symbol list) are unofficial and change shape without notice: every
reader takes only the few fields it needs, skips an entry it cannot read, and raises
`ListingSourceError` (which degrades that one source) only when the answer as a whole is not
what it expects. They live on the web host (`web_url`), not the API host, and are polled at a
modest interval by one shared session. The official routes go through the `MexcClient`, inside
its rate-limit budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import aiohttp

from mexcbot.domain.listings import ListingSighting, ListingSource, ListingStatus
from mexcbot.domain.symbols import SymbolStatus
from mexcbot.engine.listings.sources import ListingSourceError
from mexcbot.mexc.constants import WEB_CALENDAR_PATH, WEB_SYMBOLS_PATH
from mexcbot.mexc.rest import MexcClient

_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
#: Listings opened longer ago than this are history, not news.
RECENT = timedelta(hours=24)


def _ms(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        ms = int(value)
    except ValueError:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC) if ms > 0 else None


def _asset(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    asset = value.strip().upper()
    return asset if _ASSET.match(asset) else None


def _object(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ListingSourceError(f"{where} is not an object (the web shape changed?)")
    return value


def _announced(
    base: str,
    quote: str,
    source: ListingSource,
    now: datetime,
    opens: datetime,
    name: object,
) -> ListingSighting:
    return ListingSighting(
        base_asset=base,
        quote_asset=quote,
        source=source,
        seen_at=now,
        open_time=opens,
        full_name=name if isinstance(name, str) else None,
    )


class WebSession:
    """One aiohttp session for the web host, opened on first use."""

    def __init__(self, web_url: str, timeout_s: float = 10.0) -> None:
        self.web_url = web_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> object:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self.web_url + path, params=params) as response:
                if response.status != 200:
                    raise ListingSourceError(f"GET {path} answered HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ListingSourceError(f"GET {path} failed: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class CalendarSource:
    """The new-coin calendar: base asset and open time (the quote is assumed)."""

    source = ListingSource.CALENDAR

    def __init__(
        self,
        web: WebSession,
        *,
        interval_s: float,
        quote_asset: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._web = web
        self.interval_s = interval_s
        self._quote = quote_asset
        self._clock = clock

    async def poll(self) -> Sequence[ListingSighting]:
        now = self._clock()
        payload = await self._web.get_json(
            WEB_CALENDAR_PATH, {"timestamp": str(int(time.time() * 1000))}
        )
        data = _object(_object(payload, "the calendar").get("data"), "the calendar's data")
        coins = data.get("newCoins")
        if not isinstance(coins, list):
            raise ListingSourceError("the calendar has no newCoins list (the web shape changed?)")
        found = []
        for coin in coins:
            if not isinstance(coin, dict):
                continue
            base = _asset(coin.get("vcoinName"))
            opens = _ms(coin.get("firstOpenTime"))
            if base is None or opens is None or opens < now - RECENT:
                continue
            found.append(
                _announced(base, self._quote, self.source, now, opens, coin.get("vcoinNameFull"))
            )
        return found


class WebSymbolsSource:
    """The web symbol list, grouped by quote: every coin with an opening time (`ot`)."""

    source = ListingSource.WEB_SYMBOLS

    def __init__(
        self, web: WebSession, *, interval_s: float, clock: Callable[[], datetime]
    ) -> None:
        self._web = web
        self.interval_s = interval_s
        self._clock = clock

    async def poll(self) -> Sequence[ListingSighting]:
        now = self._clock()
        payload = await self._web.get_json(WEB_SYMBOLS_PATH)
        data = _object(_object(payload, "symbolsV2").get("data"), "symbolsV2's data")
        groups = _object(data.get("symbols"), "symbolsV2's symbols")
        found = []
        for quote_name, entries in groups.items():
            quote = _asset(quote_name)
            if quote is None or not isinstance(entries, list):
                continue
            for entry in entries:
                if not isinstance(entry, dict):
                    continue
                base = _asset(entry.get("vn"))
                opens = _ms(entry.get("ot"))
                if base is None or opens is None or opens < now - RECENT:
                    continue
                name = entry.get("fne") or entry.get("fn")
                found.append(_announced(base, quote, self.source, now, opens, name))
        return found


class ExchangeInfoSource:
    """The official symbol lists: a symbol new in defaultSymbols is OPEN to the API (checked
    every poll, weight 1); exchangeInfo (weight 10, every `info_every` polls) names paused symbols
    with a future `firstOpenTime` (announced) and gives new symbols their assets.

    The first poll takes what is listed as the baseline: a coin that was open before the bot
    started is not a new listing, unless exchangeInfo says it opened within `RECENT`.
    """

    source = ListingSource.EXCHANGE_INFO

    def __init__(
        self,
        client: MexcClient,
        *,
        interval_s: float,
        clock: Callable[[], datetime],
        info_every: int = 12,
    ) -> None:
        self._client = client
        self.interval_s = interval_s
        self._clock = clock
        self._info_every = info_every
        self._polls = 0
        self._baseline: set[str] | None = None
        self._assets: dict[str, tuple[str, str]] = {}

    async def poll(self) -> Sequence[ListingSighting]:
        now = self._clock()
        found: list[ListingSighting] = []
        try:
            tradable = set(await self._client.default_symbols())
            new = tradable - (self._baseline or set())
            if self._polls % self._info_every == 0 or (
                self._baseline is not None and new - set(self._assets)
            ):
                found.extend(await self._announced(now))
        except Exception as exc:
            raise ListingSourceError(f"{type(exc).__name__}: {exc}") from exc
        self._polls += 1
        if self._baseline is None:
            self._baseline = tradable
            return found
        for symbol in sorted(new):
            assets = self._assets.get(symbol)
            if assets is None:
                continue
            found.append(
                ListingSighting(
                    base_asset=assets[0],
                    quote_asset=assets[1],
                    source=self.source,
                    seen_at=now,
                    status=ListingStatus.OPEN,
                )
            )
        self._baseline |= {s for s in new if s in self._assets}
        return found

    async def _announced(self, now: datetime) -> list[ListingSighting]:
        found = []
        for rules in await self._client.exchange_info():
            self._assets[rules.symbol] = (rules.base_asset, rules.quote_asset)
            opens = rules.first_open_time
            if opens is None or opens < now - RECENT:
                continue
            announced = rules.status is not SymbolStatus.ONLINE and opens > now
            if not announced and self._baseline is not None:
                continue  # an open symbol is reported by the defaultSymbols difference
            found.append(
                ListingSighting(
                    base_asset=rules.base_asset,
                    quote_asset=rules.quote_asset,
                    source=self.source,
                    seen_at=now,
                    open_time=opens,
                    status=ListingStatus.ANNOUNCED if announced else ListingStatus.OPEN,
                )
            )
        return found


_TITLE_ASSET = re.compile(r"\(([A-Z0-9]{1,20})\)")
_TITLE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?\s*\(?UTC\)?")


class AnnouncementsSource:
    """`GET /api/v3/announcements`: titles like "MEXC Will List Foo (FOO) ... 2026-12-01 14:00
    (UTC)". A title without an asset in brackets and a UTC time is not a listing for us."""

    source = ListingSource.ANNOUNCEMENT

    def __init__(
        self,
        client: MexcClient,
        *,
        interval_s: float,
        quote_asset: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self.interval_s = interval_s
        self._quote = quote_asset
        self._clock = clock

    async def poll(self) -> Sequence[ListingSighting]:
        now = self._clock()
        try:
            payload = await self._client.announcements()
        except Exception as exc:
            raise ListingSourceError(f"{type(exc).__name__}: {exc}") from exc
        pages = _object(payload, "the announcements").get("data")
        if not isinstance(pages, list):
            raise ListingSourceError("the announcements have no data list (shape changed?)")
        found = []
        for page in pages:
            details = page.get("details") if isinstance(page, dict) else None
            for item in details if isinstance(details, list) else []:
                title = item.get("title") if isinstance(item, dict) else None
                sighting = self._read(title, now) if isinstance(title, str) else None
                if sighting is not None:
                    found.append(sighting)
        return found

    def _read(self, title: str, now: datetime) -> ListingSighting | None:
        if "list" not in title.lower():
            return None
        asset = _TITLE_ASSET.search(title)
        moment = _TITLE_TIME.search(title)
        if asset is None or moment is None:
            return None
        day, hour, minute, second = moment.groups()
        try:
            opens = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second or '00'}+00:00")
        except ValueError:
            return None
        if opens < now - RECENT:
            return None
        return ListingSighting(
            base_asset=asset.group(1),
            quote_asset=self._quote,
            source=self.source,
            seen_at=now,
            open_time=opens,
        )
