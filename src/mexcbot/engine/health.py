"""ExchangeHealth: is the exchange answering, and how is the connection doing (for /status)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mexcbot.engine.ports import Exchange, ExchangeDiagnostics

REACHABILITY_TTL_S = 5.0
PING_TIMEOUT_S = 2.0


class ExchangeHealth:
    def __init__(self, exchange: Exchange, clock: Callable[[], float] = time.monotonic) -> None:
        self._exchange = exchange
        self._clock = clock
        self._reachable = False
        self._checked_at: float | None = None

    async def reachable(self) -> bool:
        """Ping the exchange, cached a few seconds so /status never floods it."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < REACHABILITY_TTL_S:
            return self._reachable
        try:
            await asyncio.wait_for(self._exchange.ping(), timeout=PING_TIMEOUT_S)
            self._reachable = True
        except Exception:
            self._reachable = False
        self._checked_at = now
        return self._reachable

    def diagnostics(self) -> ExchangeDiagnostics:
        return self._exchange.diagnostics()
