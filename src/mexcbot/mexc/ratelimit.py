"""Client-side rate limiting in MEXC's model, so the client waits for budget instead of tripping 429.

MEXC budgets each endpoint separately: 500 weight per 10 s per IP and, for signed endpoints, also per
UID; ``batchOrders`` and ``account`` are further capped at 2 requests per second. Each budget is a
sliding-window log here, and a request proceeds only when every budget it draws on has room. A 429's
Retry-After blocks the endpoint until it has passed. The clock and sleep are injectable so tests can
drive the limiter with a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from mexcbot.mexc.constants import WEIGHT_BUDGET, WEIGHT_WINDOW_S, Endpoint

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: Called with (endpoint key, seconds waited) whenever a request had to wait for budget.
WaitObserver = Callable[[str, float], None]


class _Window:
    """A sliding window: the (time, cost) of recent requests and the budget they draw from."""

    __slots__ = ("budget", "entries", "length", "used")

    def __init__(self, budget: int, length: float) -> None:
        self.budget = budget
        self.length = length
        self.entries: deque[tuple[float, int]] = deque()
        self.used = 0

    def wait_for(self, now: float, cost: int) -> float:
        """Seconds until ``cost`` fits (0.0 if it fits now); forgets entries that left the window."""
        entries = self.entries
        horizon = now - self.length
        while entries and entries[0][0] <= horizon:
            self.used -= entries.popleft()[1]
        if self.used + cost <= self.budget:
            return 0.0
        excess = self.used + cost - self.budget
        for stamp, spent in entries:
            excess -= spent
            if excess <= 0:
                return stamp + self.length - now
        return self.length  # a cost larger than the whole budget: wait a full window, then allow

    def record(self, now: float, cost: int) -> None:
        self.entries.append((now, cost))
        self.used += cost


class RateLimiter:
    """Per-endpoint IP and UID weight windows plus the per-second request caps.

    ``acquire`` returns how long the request waited; ``total_wait_s`` accumulates it for metrics.
    """

    def __init__(
        self,
        *,
        budget: int = WEIGHT_BUDGET,
        window_s: float = WEIGHT_WINDOW_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_wait: WaitObserver | None = None,
    ) -> None:
        self._budget = budget
        self._window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._windows: dict[tuple[str, str], _Window] = {}
        self._blocked_until: dict[str, float] = {}
        self.total_wait_s = 0.0

    def _windows_for(self, endpoint: Endpoint) -> list[tuple[_Window, int]]:
        """The windows a call draws on, each with the cost it charges there (weight or 1 request)."""
        key = endpoint.key
        pools = ("ip", "uid") if endpoint.signed else ("ip",)
        found: list[tuple[_Window, int]] = []
        for pool in pools:
            window = self._windows.get((pool, key))
            if window is None:
                window = self._windows[(pool, key)] = _Window(self._budget, self._window_s)
            found.append((window, -1))
        if endpoint.per_second is not None:
            window = self._windows.get(("rps", key))
            if window is None:
                window = self._windows[("rps", key)] = _Window(endpoint.per_second, 1.0)
            found.append((window, 1))
        return found

    async def acquire(self, endpoint: Endpoint, weight: int) -> float:
        """Wait until ``endpoint`` has room for ``weight``, record the call, return seconds waited."""
        windows = self._windows_for(endpoint)
        waited = 0.0
        while True:
            now = self._clock()
            delay = self._blocked_until.get(endpoint.key, 0.0) - now
            for window, cost in windows:
                delay = max(delay, window.wait_for(now, weight if cost < 0 else cost))
            if delay <= 0:
                for window, cost in windows:
                    window.record(now, weight if cost < 0 else cost)
                break
            await self._sleep(delay)
            waited += delay
        if waited:
            self.total_wait_s += waited
            if self._on_wait is not None:
                self._on_wait(endpoint.key, waited)
        return waited

    def block(self, endpoint: Endpoint, seconds: float) -> None:
        """Hold every further call to ``endpoint`` for ``seconds`` (a 429's Retry-After)."""
        until = self._clock() + seconds
        if until > self._blocked_until.get(endpoint.key, 0.0):
            self._blocked_until[endpoint.key] = until
