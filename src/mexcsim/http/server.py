"""The simulator as a running HTTP server: MEXC's REST v3, the ``/_sim/`` admin API, a market clock.

``SimServer`` is what tests start in-process (``async with SimServer(SimConfig()) as sim``) and
what ``python -m mexcsim`` runs. It owns the aiohttp application, the fault injector, the rate
limiter and a background task that moves the market (``exchange.advance()``) every
``tick_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

from aiohttp import web

from mexcsim.config import SimConfig
from mexcsim.http.admin import AdminApi
from mexcsim.http.admin_guard import ADMIN_PREFIX, AdminGuard
from mexcsim.http.faults import FaultInjector
from mexcsim.http.rate_limits import RateLimiter, ThrottleCount
from mexcsim.http.rest import ORDER_FAULT_ABORTED, RestApi, error_response, throttled_response
from mexcsim.http.stream_hub import StreamHub
from mexcsim.http.websocket import serve_connection
from mexcsim.state.keeper import StateFileError, StateKeeper

if TYPE_CHECKING:
    from mexcsim.exchange import SimExchange

log = logging.getLogger(__name__)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _skewed(clock: Callable[[], int], skew: int) -> Callable[[], int]:
    return clock if skew == 0 else lambda: clock() + skew


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MARKETS_PER_STEP = 8
"""Markets one step of a tick moves (~1.5 ms); a tick of more markets is split into steps."""


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
        exchange uses when a test controls time. ``config.clock_skew_ms`` is added to it (or to
        the wall clock), and the exchange built here runs on the result. ``rate_limiter`` replaces
        the default one (e.g. to inject a clock); it is ignored when ``config.rate_limits`` is
        off."""
        self.config = config
        skew = config.clock_skew_ms
        self._now_ms = _skewed(now_ms or _wall_clock_ms, skew)
        if exchange is None:
            # imported here so that importing the server (e.g. as a pytest plugin) stays cheap
            from mexcsim.exchange import SimExchange

            now_us = None
            if now_ms is None:  # the acceptance log's microseconds, on the same skewed clock
                now_us = _skewed(lambda: time.time_ns() // 1_000, skew * 1_000)
            exchange = SimExchange(
                seed=config.seed,
                now_ms=self._now_ms,
                now_us=now_us,
                reject_taking_limit_maker=config.reject_taking_limit_maker,
                listing_book_ramp_ms=round(config.listing_book_ramp_s * 1000),
            )
        self.exchange = exchange
        self.faults = FaultInjector()
        self.streams = StreamHub(exchange, self.faults, config.ws_kline_interval)
        """The ``/ws`` pushes; the exchange tells it every trade, order change and command."""
        exchange.add_listener(self.streams)
        self.rate_limiter = (rate_limiter or RateLimiter()) if config.rate_limits else None
        self.throttle_count = ThrottleCount()
        if (config.api_key is None) != (config.api_secret is None):
            raise ValueError("api_key and api_secret must be given together")
        self.state_keeper = (
            StateKeeper(
                exchange, config.state_file, config.state_save_interval, fsync=config.state_fsync
            )
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
        guard = AdminGuard(self.config.host, self.config.admin_token)
        app = web.Application(middlewares=[_json_errors, guard.middleware, self._apply_faults])
        AdminApi(self.exchange, self.faults, self.throttle_count).install(app)
        RestApi(self.exchange, self.faults, self.rate_limiter, self._now_ms).install(app)
        app.router.add_get("/ws", self._websocket)
        return app

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        owner = self.exchange.listen_key_owner
        return await serve_connection(request, self.streams, self.config, owner)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("SimServer already started")
        keeper = self.state_keeper
        if keeper is not None:
            keeper.check_writable()
            keeper.begin_journal(keeper.load())
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
        self.streams.start()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.streams.stop()
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
        """Move the market forever; one bad tick is logged, never fatal to the server. Between
        ticks it also wakes at the next listing's API-open time, so the market opens (and streams
        start) on time even when no request arrives to open it."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + self.config.tick_interval
        while True:
            wait = next_tick - loop.time()
            opens = self.exchange.next_listing_open_ms()
            if opens is not None:
                wait = min(wait, (opens - self.exchange.now_ms()) / 1000)
            if wait > 0:
                await asyncio.sleep(wait)
            if loop.time() < next_tick:
                try:
                    self.exchange.open_due_listings()
                except Exception:
                    log.exception("opening due listings failed")
                    await asyncio.sleep(self.config.tick_interval)
                continue
            next_tick = loop.time() + self.config.tick_interval
            await self._advance_in_steps()
            if self.state_keeper is not None:
                try:
                    await self.state_keeper.save_if_due()
                except StateFileError:
                    log.exception("saving the simulator state failed; retrying at the next tick")

    async def _advance_in_steps(self) -> None:
        """One market tick, `MARKETS_PER_STEP` markets at a time with the loop free in between,
        so an order arriving mid-tick (a sniper's, at a listing's open) waits for one short step,
        not for 50 markets to requote."""
        symbols = self.exchange.market_symbols()
        if len(symbols) <= MARKETS_PER_STEP:
            steps: list[list[str] | None] = [None]  # one full tick, as it always was
        else:
            steps = [
                symbols[i : i + MARKETS_PER_STEP] for i in range(0, len(symbols), MARKETS_PER_STEP)
            ]
        for number, step in enumerate(steps):
            if number:
                await asyncio.sleep(0)
            try:
                self.exchange.advance(step)
            except Exception:
                log.exception("exchange.advance() failed")

    @web.middleware
    async def _apply_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Burst throttling and read errors before, latency after the request is processed, and
        every 429 counted (MEXC paths only)."""
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            return await handler(request)
        response = await self._faulty(request, handler)
        if response.status == 429:
            self.throttle_count.throttled += 1
        return response

    async def _faulty(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
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
