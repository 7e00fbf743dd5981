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
    admin_token: str | None = None
    """When set (at least 16 characters), every ``/_sim/`` request needs ``Authorization: Bearer
    <admin_token>`` (compared in constant time; 401 otherwise). The CLI reads it from
    ``MEXCSIM_ADMIN_TOKEN`` or ``--admin-token-file``."""
    tick_interval: float = 0.25
    """Seconds between ``exchange.advance()`` calls (the market's heartbeat)."""
    rate_limits: bool = True
    """MEXC's rate limits; benchmarks may turn them off."""
    reject_taking_limit_maker: bool = False
    """Answer a LIMIT_MAKER that would take with -2010 (Binance's code; the simulator's old
    behaviour). By default it is accepted with an orderId and then CANCELED, which is what real
    MEXC most likely does (see ``mexcsim.errors``)."""
    state_file: str | None = None
    """Keep the exchange's complete state (accounts, balances, orders, fills, market) in this JSON
    file plus ``<state_file>.journal``: loaded at start when it exists (an unreadable one is a
    startup error); every change is journaled before its answer is sent, so a SIGKILL loses nothing
    acknowledged. See ``mexcsim.state.keeper``."""
    state_save_interval: float = 30.0
    """Compaction: at most one snapshot per this many seconds (only when something changed); the
    journal makes changes durable in between, so this only bounds the journal's length."""
    state_fsync: bool = False
    """Also fsync the journal after every command: survives a power loss, not only a crash of the
    process, at the cost of one disk flush per change."""
    ws_max_subscriptions: int = 30
    """Subscriptions one ``/ws`` connection may hold; more are refused with "Blocked"."""
    ws_no_sub_timeout: float = 30.0
    """Seconds a ``/ws`` connection may go without a valid subscription before it is closed."""
    ws_idle_timeout: float = 60.0
    """Seconds a ``/ws`` connection may go without any frame from the client before it is closed."""
    ws_max_lifetime: float = 24 * 3600.0
    """Seconds after which MEXC closes every ``/ws`` connection, however busy."""
    ws_kline_interval: float = 1.0
    """Seconds between kline pushes (MEXC pushes them about once a second)."""
    clock_skew_ms: int = 0
    """The simulator's clock runs this many ms ahead of real time (negative: behind). It is the
    one clock of everything: ``/api/v3/time``, the timestamp/recvWindow check of signed requests,
    ``transactTime`` and order times, stream times, listing opens, the acceptance log. A bot that
    does not measure and correct the offset fires early or late."""
    listing_book_ramp_s: float = 10.0
    """Seconds a new listing's book takes to fill in from a thin opening book (a few small levels
    near the initial price) to the full ladder, unless the listing's schedule says otherwise."""
