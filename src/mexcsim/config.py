"""How to run one simulator: the frozen settings a `SimServer` (and ``python -m mexcsim``) uses.

Kept apart from the HTTP server so that building a configuration never imports aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimConfig:
    """How to run one simulator. Frozen: a running server's configuration never changes."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    api_key: str | None = None
    api_secret: str | None = None
    """When both are given, an account with default funding is created for them at start."""
    tick_interval: float = 0.25
    """Seconds between ``exchange.advance()`` calls (the market's heartbeat)."""
    rate_limits: bool = True
    """MEXC's rate limits; benchmarks may turn them off."""
    state_file: str | None = None
    """Keep the exchange's complete state (accounts, balances, orders, fills, market) in this JSON
    file: loaded at start when it exists (an unreadable one is a startup error), saved atomically
    while running and at stop. See ``mexcsim.state.keeper``."""
    state_save_interval: float = 1.0
    """At most one save per this many seconds while running (only when something changed)."""
