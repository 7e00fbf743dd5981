"""The simulator as a running HTTP server: MEXC's REST v3, the ``/_sim/`` admin API, a market clock.

``SimServer`` is what tests start in-process (``async with SimServer(SimConfig()) as sim``) and
what ``python -m mexcsim`` runs. It owns the aiohttp application, the fault injector, the rate
limiter and a background task that moves the market (``exchange.advance()``) every
``tick_interval`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from aiohttp import web

from mexcsim.admin import AdminApi
from mexcsim.faults import FaultInjector
from mexcsim.persistence import StateFileError, StateKeeper
from mexcsim.ratelimit import RateLimiter
from mexcsim.rest import ORDER_FAULT_ABORTED, RestApi, error_response, throttled_response

if TYPE_CHECKING:
    from mexcsim.exchange import SimExchange

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_sim/"
DEFAULT_CLI_PORT = 18080


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
    while running and at stop. See ``mexcsim.persistence``."""
    state_save_interval: float = 1.0
    """At most one save per this many seconds while running (only when something changed)."""


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown paths, wrong methods and crashes answer in MEXC's JSON error shape, never HTML."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(
            exc.status, f"{exc.reason}: {request.method} {request.path}", exc.status
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "Internal error in the simulator", 500)


class SimServer:
    """One running simulator on ``config.host``; ``url`` is valid once ``start()`` has returned."""

    def __init__(
        self,
        config: SimConfig,
        exchange: SimExchange | None = None,
        *,
        now_ms: Callable[[], int] | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        """``now_ms`` is the clock for server time and signature windows: pass the same clock the
        exchange uses when a test controls time. ``rate_limiter`` replaces the default one (e.g. to
        inject a clock); it is ignored when ``config.rate_limits`` is off."""
        self.config = config
        self._now_ms = now_ms or _wall_clock_ms
        if exchange is None:
            # imported here so that importing the server (e.g. as a pytest plugin) stays cheap
            from mexcsim.exchange import SimExchange

            exchange = SimExchange(seed=config.seed, now_ms=self._now_ms)
        self.exchange = exchange
        self.faults = FaultInjector()
        self.rate_limiter = (rate_limiter or RateLimiter()) if config.rate_limits else None
        if (config.api_key is None) != (config.api_secret is None):
            raise ValueError("api_key and api_secret must be given together")
        self.state_keeper = (
            StateKeeper(exchange, config.state_file, config.state_save_interval)
            if config.state_file is not None
            else None
        )
        """Saves the exchange to ``config.state_file``; None when no state file is configured."""
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        """The base URL clients use (``http://127.0.0.1:<port>``)."""
        if self._port is None:
            raise RuntimeError("SimServer.url is only known after start()")
        return f"http://{self.config.host}:{self._port}"

    def now_ms(self) -> int:
        """The server clock (epoch ms), used by ``/api/v3/time`` and signature windows."""
        return self._now_ms()

    @property
    def admin_url(self) -> str:
        return f"{self.url}{ADMIN_PREFIX.rstrip('/')}"

    def build_app(self) -> web.Application:
        """The aiohttp application: admin routes, MEXC routes and the fault/error middlewares."""
        app = web.Application(middlewares=[_json_errors, self._apply_faults])
        AdminApi(self.exchange, self.faults).install(app)
        RestApi(self.exchange, self.faults, self.rate_limiter, self._now_ms).install(app)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("SimServer already started")
        keeper = self.state_keeper
        if keeper is not None:
            keeper.check_writable()
            keeper.load()
        key, secret = self.config.api_key, self.config.api_secret
        if key is not None and secret is not None:
            known = self.exchange.secret_for(key)
            if known is None:
                self.exchange.create_account(key, secret)
            elif keeper is not None and known != secret:
                raise StateFileError(
                    f"the state file {keeper.path} holds api key {key!r} with a different secret"
                )
        runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._ticker = asyncio.create_task(self._tick(), name="mexcsim-market-clock")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            if self.state_keeper is not None:
                await self.state_keeper.save_at_stop()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _tick(self) -> None:
        """Move the market forever; one bad tick is logged, never fatal to the server."""
        while True:
            await asyncio.sleep(self.config.tick_interval)
            try:
                self.exchange.advance()
            except Exception:
                log.exception("exchange.advance() failed")
            if self.state_keeper is not None:
                try:
                    await self.state_keeper.save_if_due()
                except StateFileError:
                    log.exception("saving the simulator state failed; retrying at the next tick")

    @web.middleware
    async def _apply_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Burst throttling and read errors before, latency after the request is processed (MEXC
        paths only)."""
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            return await handler(request)
        if self.faults.take_rate_limit(path):
            return throttled_response(1, "Too many requests (simulated rate-limit burst)")
        if self.faults.take_read_error(request.method, path):
            status = self.faults.plan.error_status
            msg = "Service unavailable (simulated fault: read_error)"
            return error_response(status, msg, status)
        response = await handler(request)
        delay = self.faults.latency_for(path)
        if delay > 0 and not request.get(ORDER_FAULT_ABORTED, False):
            await asyncio.sleep(delay)
        return response


async def serve(config: SimConfig, *, out: Callable[[str], None] = print) -> None:
    """Run a simulator until SIGINT/SIGTERM, announcing where it listens (never the secret)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows event loops have no add_signal_handler (it raises NotImplementedError there);
        # Ctrl+C still arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(config) as server:
        out(f"mexcsim listening on {server.url}")
        out(f"mexcsim admin API at {server.admin_url}")
        if config.api_key is not None:
            out(f"mexcsim api key: {config.api_key}")
        if config.state_file is not None:
            out(f"mexcsim state file: {config.state_file}")
        await stop.wait()


def parse_args(argv: Sequence[str] | None) -> SimConfig:
    parser = argparse.ArgumentParser(
        prog="mexcsim", description="A MEXC-compatible spot exchange simulator (REST v3)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_CLI_PORT,
        help="port (default 18080; 0 picks a free one)",
    )
    parser.add_argument("--api-key", help="create an account with this API key (default funding)")
    parser.add_argument("--api-secret", help="the secret for --api-key")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the market (default 1)")
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=0.25,
        help="seconds between market ticks (default 0.25)",
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="turn MEXC's rate limits off (benchmarks)"
    )
    parser.add_argument(
        "--state-file",
        metavar="PATH",
        help="keep accounts, orders and the market in this JSON file across restarts",
    )
    parser.add_argument(
        "--state-save-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="at most one state save per this many seconds (default 1.0)",
    )
    args = parser.parse_args(argv)
    if (args.api_key is None) != (args.api_secret is None):
        parser.error("--api-key and --api-secret must be given together")
    if args.tick_interval <= 0:
        parser.error("--tick-interval must be > 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.state_save_interval < 0:
        parser.error("--state-save-interval must be >= 0")
    return SimConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        api_key=args.api_key,
        api_secret=args.api_secret,
        tick_interval=args.tick_interval,
        rate_limits=not args.no_rate_limits,
        state_file=args.state_file,
        state_save_interval=args.state_save_interval,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The ``python -m mexcsim`` entry point; returns the process exit status."""
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        asyncio.run(serve(config, out=announce))
    except StateFileError as exc:
        print(f"mexcsim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mexcsim: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
