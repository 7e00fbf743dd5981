"""Which symbols can hold open orders the bot does not know: an account scan, no market sweep.

MEXC lists open orders per symbol only (openOrders, weight 3), so asking every market would cost
thousands of weight per pass. An open order locks what it trades: a SELL locks the base asset, a
BUY the quote asset. So one account request (`GET /api/v3/account`, weight 10) names the assets
with a locked balance, and the `SymbolCatalog` maps each to the listed symbols whose base or
quote it is. Those candidates are asked for their open orders, at most `max_symbols` a pass, in
this order:

1. symbols whose base asset is locked (a sell rests there; few symbols share a base; should
   they not fit, they rotate pass by pass);
2. the quote-locked symbols, busiest first (24 h quote volume, one ticker request made only when
   they do not all fit): half of the remaining slots (rounded down) to the busiest, the other
   half rotating through the rest (in symbol order) pass by pass, so every candidate is asked
   within about 2 * candidates / max_symbols passes.

Symbols the bot has orders on (recent account activity, including every order adopted here) are
not candidates: reconciliation scans them on every pass anyway, open and recent orders.

MEXC offers no account-wide trade list (myTrades needs a symbol), so "symbols of recent account
trades" is not cheaply available and is not used; the user data stream will report new orders at
once later.

The bound: MEXC gives each endpoint 500 weight per 10 s (per IP and per UID). The default of
`DEFAULT_MAX_SYMBOLS` = 50 symbols costs 150 weight of openOrders a pass: 30 % of that budget, so
the bot's own symbols (scanned in the same pass) and its live reads keep 350, even when two
passes happen within one 10-second window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from mexcbot.engine.ports import Exchange, ExchangePortError
from mexcbot.engine.symbols import SymbolCatalog

log = logging.getLogger(__name__)

#: openOrders weight per symbol on MEXC (mexc/constants.py OPEN_ORDERS).
OPEN_ORDERS_WEIGHT = 3
#: Symbols asked per pass: 50 x 3 = 150 weight of the 500 per 10 s openOrders budget.
DEFAULT_MAX_SYMBOLS = 50
#: The account endpoint allows 2 requests a second (mexc/constants.py ACCOUNT): passes closer
#: together than this skip the scan instead of queueing for that budget.
DEFAULT_MIN_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class AccountScan:
    """The symbols one account scan chose to ask for open orders."""

    at: datetime
    locked_assets: tuple[str, ...]
    candidates: int
    """Listed symbols a locked asset points at (beyond those the bot tracks anyway)."""
    symbols: tuple[str, ...] = field(default_factory=tuple)
    """The symbols asked this pass (at most the bound)."""

    @property
    def truncated(self) -> bool:
        return self.candidates > len(self.symbols)


class AccountScanner:
    """Chooses, once per reconciliation pass, the untracked symbols worth an openOrders call."""

    def __init__(
        self,
        exchange: Exchange,
        catalog: SymbolCatalog,
        *,
        max_symbols: int = DEFAULT_MAX_SYMBOLS,
        min_interval: float = DEFAULT_MIN_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_symbols < 1:
            raise ValueError(f"max_symbols must be at least 1; got {max_symbols}")
        self._exchange = exchange
        self._catalog = catalog
        self.max_symbols = max_symbols
        self._min_interval = min_interval
        self._monotonic = monotonic
        self._last_scan: float | None = None
        self._base_cursor = 0
        self._cursor = 0

    async def scan(self, *, tracked: Collection[str], at: datetime) -> AccountScan | None:
        """The symbols to ask this pass; None when the last scan is under `min_interval` old
        (a pass right after another). Raises the port's errors (the caller counts them)."""
        now = self._monotonic()
        if self._last_scan is not None and now - self._last_scan < self._min_interval:
            return None
        balances = await self._exchange.balances()
        self._last_scan = now
        locked = sorted({b.asset for b in balances if b.locked > 0})
        if not locked:
            return AccountScan(at=at, locked_assets=(), candidates=0)
        locked_set = set(locked)
        skip = set(tracked)
        base_side: list[str] = []
        quote_side: list[str] = []
        for rules in await self._catalog.all():
            if rules.symbol in skip:
                continue
            if rules.base_asset in locked_set:
                base_side.append(rules.symbol)
            elif rules.quote_asset in locked_set:
                quote_side.append(rules.symbol)
        candidates = len(base_side) + len(quote_side)
        chosen = _rotate(base_side, self.max_symbols, self._base_cursor)
        self._base_cursor += len(chosen)
        room = self.max_symbols - len(chosen)
        if room > 0 and quote_side:
            chosen += await self._quote_side(quote_side, room)
        return AccountScan(
            at=at, locked_assets=tuple(locked), candidates=candidates, symbols=tuple(chosen)
        )

    async def _quote_side(self, symbols: list[str], room: int) -> list[str]:
        if len(symbols) <= room:
            return symbols
        ranked = await self._by_volume(symbols)
        busiest = ranked[: room // 2]  # the rotating half gets the odd slot: room 1 rotates
        chosen = set(busiest)
        tail = sorted(s for s in symbols if s not in chosen)  # a stable order to rotate through
        rotating = _rotate(tail, room - len(busiest), self._cursor)
        self._cursor += len(rotating)
        return busiest + rotating

    async def _by_volume(self, symbols: list[str]) -> list[str]:
        try:
            tickers = await self._exchange.tickers()
        except ExchangePortError as exc:  # only an optimisation: the rotation still covers all
            log.warning("account scan: no 24 h volumes to rank symbols by: %s", exc)
            return symbols
        volume = {t.symbol: t.quote_volume or Decimal(0) for t in tickers}
        return sorted(symbols, key=lambda s: (-volume.get(s, Decimal(0)), s))


def _rotate(symbols: list[str], limit: int, cursor: int) -> list[str]:
    """`limit` of `symbols` starting at `cursor` (wrapping), or all of them when they fit."""
    if len(symbols) <= limit:
        return symbols
    start = cursor % len(symbols)
    return (symbols[start:] + symbols[:start])[:limit]
