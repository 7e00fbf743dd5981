"""MEXC's REST rate limits (reference §4): a client that ignores them fails here, not in production.

Every endpoint has its own budget of 500 weight per 10 s, counted separately per IP and per UID
(an authenticated request counts on both pools); ``batchOrders`` and ``account`` are further capped
at 2 requests per second. A request over a limit is refused with HTTP 429 and a ``Retry-After``
telling the client how many whole seconds until it would be accepted. Refused requests do not
consume budget.

The clock is injectable so tests are deterministic.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

WINDOW_SECONDS = 10.0
WEIGHT_PER_WINDOW = 500

#: Requests-per-second caps on top of the weight budget: endpoint -> requests per second.
PER_SECOND_CAPS: Mapping[str, int] = {
    "POST /api/v3/batchOrders": 2,
    "GET /api/v3/account": 2,
}

#: Weight of one request, by endpoint ("METHOD /path"). Endpoints whose weight depends on whether a
#: symbol is given map to (with symbol, without symbol).
ENDPOINT_WEIGHTS: Mapping[str, int | tuple[int, int]] = {
    "GET /api/v3/ping": 1,
    "GET /api/v3/time": 1,
    "GET /api/v3/defaultSymbols": 1,
    "GET /api/v3/exchangeInfo": 10,
    "GET /api/v3/depth": 1,
    "GET /api/v3/trades": 5,
    "GET /api/v3/aggTrades": 1,
    "GET /api/v3/klines": 1,
    "GET /api/v3/avgPrice": 1,
    "GET /api/v3/ticker/24hr": (1, 40),
    "GET /api/v3/ticker/price": (1, 2),
    "GET /api/v3/ticker/bookTicker": (1, 2),
    "POST /api/v3/order": 1,
    "POST /api/v3/order/test": 1,
    "DELETE /api/v3/order": 1,
    "GET /api/v3/order": 2,
    "POST /api/v3/batchOrders": 1,
    "GET /api/v3/openOrders": 3,
    "DELETE /api/v3/openOrders": 1,
    "GET /api/v3/allOrders": 10,
    "GET /api/v3/account": 10,
    "GET /api/v3/myTrades": 10,
    "GET /api/v3/tradeFee": 20,
    "GET /api/v3/selfSymbols": 1,
    "GET /api/v3/capital/config/getall": 10,
    "POST /api/v3/userDataStream": 1,
    "PUT /api/v3/userDataStream": 1,
    "DELETE /api/v3/userDataStream": 1,
    "GET /api/v3/userDataStream": 1,
    "GET /api/operation/new_coin_calendar": 1,
    "GET /api/platform/spot/market-v2/web/symbolsV2": 1,
    "GET /api/v3/announcements": 1,
}


def endpoint_weight(endpoint: str, params: Mapping[str, str]) -> int:
    """The weight of one request to ``endpoint``; unknown endpoints weigh 1."""
    weight = ENDPOINT_WEIGHTS.get(endpoint, 1)
    if isinstance(weight, tuple):
        with_symbol, without_symbol = weight
        return with_symbol if params.get("symbol") else without_symbol
    return weight


@dataclass
class ThrottleCount:
    """HTTP 429 answers sent on MEXC paths since the server started (rate limits and the
    ``rate_limit_burst`` fault alike), for ``GET /_sim/stats``: a benchmark's "429s must be 0"."""

    throttled: int = 0


@dataclass(frozen=True)
class Throttled:
    """A refusal: the client may retry after ``retry_after`` whole seconds."""

    retry_after: int
    msg: str


class _Window:
    """Weights spent in a sliding window, oldest first."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def expire(self, now: float, span: float) -> None:
        while self.entries and self.entries[0][0] <= now - span:
            _, weight = self.entries.popleft()
            self.total -= weight

    def wait_for_room(self, now: float, span: float, needed: int, budget: int) -> float:
        """Seconds until ``needed`` more weight fits under ``budget`` (0 if it fits now)."""
        excess = self.total + needed - budget
        if excess <= 0:
            return 0.0
        freed = 0
        for stamp, weight in self.entries:
            freed += weight
            if freed >= excess:
                return stamp + span - now
        return span

    def spend(self, now: float, weight: int) -> None:
        self.entries.append((now, weight))
        self.total += weight


class RateLimiter:
    """Per-endpoint sliding-window budgets for the IP pool and the UID pool."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        window_seconds: float = WINDOW_SECONDS,
        weight_per_window: int = WEIGHT_PER_WINDOW,
        per_second_caps: Mapping[str, int] = PER_SECOND_CAPS,
    ) -> None:
        self._clock = clock
        self._span = window_seconds
        self._budget = weight_per_window
        self._caps = dict(per_second_caps)
        self._weights: dict[tuple[str, str, str], _Window] = {}
        self._requests: dict[tuple[str, str], _Window] = {}

    def admit(self, endpoint: str, weight: int, *, ip: str, uid: str | None) -> Throttled | None:
        """Spend ``weight`` on both pools and return None, or refuse without spending anything."""
        now = self._clock()
        pools = [("ip", ip)] + ([("uid", uid)] if uid is not None else [])
        waits: list[float] = []
        windows: list[_Window] = []
        for pool, key in pools:
            window = self._weights.setdefault((pool, key, endpoint), _Window())
            window.expire(now, self._span)
            waits.append(window.wait_for_room(now, self._span, weight, self._budget))
            windows.append(window)
        cap = self._caps.get(endpoint)
        cap_window: _Window | None = None
        cap_wait = 0.0
        if cap is not None:
            cap_window = self._requests.setdefault((endpoint, uid or ip), _Window())
            cap_window.expire(now, 1.0)
            cap_wait = cap_window.wait_for_room(now, 1.0, 1, cap)
        worst = max([*waits, cap_wait])
        if worst > 0:
            if cap_wait > 0 and cap_wait >= max(waits):
                msg = f"Too many requests: {endpoint} allows at most {cap} requests per second"
            else:
                msg = (
                    f"Too many requests: {endpoint} allows {self._budget} weight per "
                    f"{self._span:g} s per IP and per UID"
                )
            return Throttled(retry_after=max(1, math.ceil(worst)), msg=msg)
        for window in windows:
            window.spend(now, weight)
        if cap_window is not None:
            cap_window.spend(now, 1)
        return None
