"""Client-side rate limiting in MEXC's model: the client waits for budget instead of getting 429.

MEXC budgets each endpoint separately: 500 weight per 10 s per IP and, for signed endpoints, also
per UID; ``batchOrders`` and ``account`` are further capped at 2 requests per second. Each budget
is a sliding-window log here, and a request proceeds only when every budget it draws on has room. A
429's Retry-After blocks the endpoint until it has passed. The clock and sleep are injectable so
tests can drive the limiter with a fake clock.

Two lanes share each budget. ``Priority.TRADING`` (placement, cancels and the reads that resolve or
reconcile orders) may use all of it; ``Priority.READ`` (what users look at: balances, tickers,
books, candles) may use only what leaves ``reserve_share`` of the budget free, so a crowd of readers
can never spend the weight a cancel or an exit needs. A read also has a wait bound: when the budget
would not admit it within ``max_wait`` seconds (counting the reads already queued ahead of it), it
is refused at once with ``BudgetExhausted`` instead of hanging for minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Final

from mexcbot.mexc.constants import WEIGHT_BUDGET, WEIGHT_WINDOW_S, Endpoint
from mexcbot.mexc.errors import BudgetExhausted

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: Called with (endpoint key, seconds waited) whenever a request had to wait for budget.
WaitObserver = Callable[[str, float], None]

_IN_FLIGHT_POLL_S = 0.005
#: Share of every weight budget that reads may not use: the order path's headroom.
DEFAULT_RESERVE_SHARE: Final = 0.2


class Priority(Enum):
    """Which lane of the budget a request draws on (see the module docstring)."""

    TRADING = "trading"
    READ = "read"


class _Window:
    """A sliding window over completed requests plus the cost of those still in flight.

    A request is stamped when its answer arrives, not when it is sent: the exchange counts it on
    arrival, which lies between the two, so the local stamp is never earlier than the exchange's
    and the local window never frees budget before the exchange's does. While in flight a request
    counts against the budget without expiring.
    """

    __slots__ = ("budget", "done", "in_flight", "length", "used")

    def __init__(self, budget: int, length: float) -> None:
        self.budget = budget
        self.length = length
        self.done: deque[tuple[float, int]] = deque()
        self.used = 0  # cost of ``done``
        self.in_flight = 0

    def wait_for(self, now: float, cost: int, reserve: int = 0) -> float:
        """Seconds until ``cost`` fits while leaving ``reserve`` free (0.0 if it fits now);
        forgets entries past the window."""
        done = self.done
        horizon = now - self.length
        while done and done[0][0] <= horizon:
            self.used -= done.popleft()[1]
        budget = self.budget - reserve
        excess = self.used + self.in_flight + cost - budget
        if excess <= 0:
            return 0.0
        if cost > budget and not done and not self.in_flight:
            return 0.0  # larger than the whole budget: let it go alone rather than never
        for stamp, spent in done:
            excess -= spent
            if excess <= 0:
                return stamp + self.length - now
        return _IN_FLIGHT_POLL_S  # only in-flight requests can free room: look again shortly

    def reserve(self, cost: int) -> None:
        self.in_flight += cost

    def complete(self, now: float, cost: int) -> None:
        self.in_flight -= cost
        done = self.done
        if done and done[-1][0] > now:
            now = done[-1][0]  # keep stamps ordered (clocks only move forward, but be safe)
        done.append((now, cost))
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
        reserve_share: float = DEFAULT_RESERVE_SHARE,
        read_wait_limit_s: float | None = None,
    ) -> None:
        """``read_wait_limit_s`` bounds how long a ``Priority.READ`` request may wait for budget
        (``None``: unbounded, the old behaviour)."""
        if not 0.0 <= reserve_share < 1.0:
            raise ValueError(f"reserve_share must be in [0, 1), got {reserve_share}")
        self._reserve_share = reserve_share
        self.read_wait_limit_s = read_wait_limit_s
        self._budget = budget
        self._window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._windows: dict[tuple[str, str], _Window] = {}
        self._blocked_until: dict[str, float] = {}
        self._queued_reads: dict[str, int] = {}  # endpoint key -> reads waiting for budget now
        self.total_wait_s = 0.0
        self.reads_refused = 0

    def _windows_for(self, endpoint: Endpoint) -> list[tuple[_Window, int]]:
        """The windows a call draws on, each with its cost there (-1: the weight; else requests)."""
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

    def _reserve_of(self, window: _Window, priority: Priority) -> int:
        if priority is Priority.TRADING:
            return 0
        return int(window.budget * self._reserve_share)

    def _delay(self, endpoint: Endpoint, weight: int, priority: Priority, now: float) -> float:
        windows = self._windows_for(endpoint)
        delay = self._blocked_until.get(endpoint.key, 0.0) - now
        for window, cost in windows:
            spent = weight if cost < 0 else cost
            delay = max(delay, window.wait_for(now, spent, self._reserve_of(window, priority)))
        return delay

    def _queue_estimate(self, endpoint: Endpoint, weight: int) -> float:
        """Seconds the reads already queued on ``endpoint`` need before one more gets its turn,
        at the rate the tightest of its budgets refills."""
        ahead = self._queued_reads.get(endpoint.key, 0)
        if not ahead:
            return 0.0
        slowest = 0.0
        for window, cost in self._windows_for(endpoint):
            spent = weight if cost < 0 else cost
            usable = max(1, window.budget - self._reserve_of(window, Priority.READ))
            slowest = max(slowest, ahead * spent * window.length / usable)
        return slowest

    async def acquire(
        self, endpoint: Endpoint, weight: int, priority: Priority = Priority.TRADING
    ) -> float:
        """Wait until ``endpoint`` has room for ``weight``, reserve it, return the wait (s).

        A ``Priority.READ`` request that would wait longer than ``read_wait_limit_s`` raises
        ``BudgetExhausted`` (nothing reserved) as soon as that is known.
        """
        limit = self.read_wait_limit_s if priority is Priority.READ else None
        key = endpoint.key
        waited = 0.0
        queued = False
        try:
            while True:
                now = self._clock()
                delay = self._delay(endpoint, weight, priority, now)
                if delay <= 0:
                    for window, cost in self._windows_for(endpoint):
                        window.reserve(weight if cost < 0 else cost)
                    break
                if limit is not None:
                    ahead = 0.0 if queued else self._queue_estimate(endpoint, weight)
                    if waited + delay + ahead > limit:
                        self.reads_refused += 1
                        raise BudgetExhausted(key, max(delay + ahead, _IN_FLIGHT_POLL_S))
                    if not queued:
                        queued = True
                        self._queued_reads[key] = self._queued_reads.get(key, 0) + 1
                await self._sleep(delay)
                waited += delay
        finally:
            if queued:
                self._queued_reads[key] -= 1
        if waited:
            self.total_wait_s += waited
            if self._on_wait is not None:
                self._on_wait(key, waited)
        return waited

    def queued_reads(self) -> int:
        """Reads waiting for budget right now (for status pages and metrics)."""
        return sum(self._queued_reads.values())

    def headroom(self) -> dict[str, float]:
        """Per endpoint used so far, the fraction of its tightest budget still free right now
        (1.0 idle, 0.0 exhausted), for status pages."""
        now = self._clock()
        free: dict[str, float] = {}
        for (_pool, key), window in self._windows.items():
            window.wait_for(now, 0)  # forget what left the window
            share = max(0.0, 1.0 - (window.used + window.in_flight) / window.budget)
            free[key] = min(free.get(key, 1.0), share)
        return free

    def release(self, endpoint: Endpoint, weight: int) -> None:
        """The request ``acquire`` admitted has been answered (or failed): stamp it now.

        Every ``acquire`` must be followed by exactly one ``release``, whatever the outcome.
        """
        now = self._clock()
        for window, cost in self._windows_for(endpoint):
            window.complete(now, weight if cost < 0 else cost)

    def block(self, endpoint: Endpoint, seconds: float) -> None:
        """Hold every further call to ``endpoint`` for ``seconds`` (a 429's Retry-After)."""
        until = self._clock() + seconds
        if until > self._blocked_until.get(endpoint.key, 0.0):
            self._blocked_until[endpoint.key] = until
