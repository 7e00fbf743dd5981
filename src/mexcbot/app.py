"""The composition root: the one place that builds and wires everything a running bot needs.

``async with start_bot(settings) as bot:`` builds, in order: the mode (refusing live trading
without an explicit ``--live``), the embedded paper exchange in paper mode (its paper account,
with a secret generated on the first run, persists in ``paper_state_file``; there is no default
secret anywhere), the migrated database, the MEXC client and its `Exchange` adapter, the engine's
services, the API (serving at once; ``/ready`` answers 503 meanwhile), the first admin token on a
fresh database, and the engine task: startup (clock sync, symbol rules, last prices,
reconciliation) with retries, then periodic reconciliation. ``/ready`` turns 200 when startup has
finished.

Every resource registers its close on one ``AsyncExitStack`` as it is built, so a failure at any
step closes exactly what was built, and stopping is closing the stack. Nothing depends on a clean
stop (crash-only): every order is committed before it is sent and reconciled at the next start,
which is the same path as recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from mexcbot.api.auth import RequestRateLimit, TokenAuthority
from mexcbot.api.context import ApiContext, ReconciliationState
from mexcbot.api.errors import install_error_handlers
from mexcbot.api.gate import install_request_gate
from mexcbot.api.http_protocol import bounded_httptools
from mexcbot.api.middleware import RequestTelemetry
from mexcbot.api.routers import admin, market, positions, risk, system, trades
from mexcbot.config import Mode, Settings
from mexcbot.domain.risk import TradingState
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import (
    OrderUpdated,
    OrderUpdateKind,
    PositionChanged,
    ReconciliationFinished,
    TradingStateChanged,
)
from mexcbot.engine.health import ExchangeHealth
from mexcbot.engine.market import MarketData
from mexcbot.engine.orders.report import DISCREPANCY_KINDS
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.book import PositionBook
from mexcbot.engine.positions.exits import ExitMonitor
from mexcbot.engine.positions.trading import PositionService
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.engine.tokens import TokenService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.store import OrderJournal, UnitOfWork, create_engine, normalize_database_url, upgrade
from mexcbot.store.audit_writer import AuditWriter
from mexcbot.telemetry import Metrics, log_order_update, redactor
from mexcsim import SimConfig, SimServer

log = logging.getLogger(__name__)

PAPER_API_KEY = "mexcbot-paper"
#: Beside the paper state file: the paper exchange's admin token of the current run.
ADMIN_TOKEN_SUFFIX = ".admin-token"
STOP_HINT = "press Ctrl+C to stop"
STARTUP_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
_STOP_TIMEOUT_S = 10.0


def package_version() -> str:
    try:
        return version("mexcbot")
    except PackageNotFoundError:
        return "0+unknown"


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the bot decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class Started:
    """What ``mexcbot run`` prints once the API listens."""

    api_url: str
    docs_url: str
    mode: Mode
    exchange_url: str
    admin_token: str | None
    """Only on the first run (a database without tokens); shown once, never stored in clear."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_api(ctx: ApiContext) -> FastAPI:
    """The FastAPI application over ``ctx``: routers, problem+json errors, telemetry, CORS."""
    docs = ctx.settings.docs_public
    api = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="mexcbot",
        version=ctx.version,
        description="A self-hosted trading bot for the MEXC spot exchange. "
        "Every route but /health and /ready needs `Authorization: Bearer <token>`.",
        redirect_slashes=False,  # a redirect would build its Location from the Host header
    )
    api.state.ctx = ctx
    for router in (
        system.router,
        trades.router,
        positions.router,
        risk.router,
        market.router,
        admin.router,
    ):
        api.include_router(router)
    install_error_handlers(api)
    install_request_gate(api, ctx.authority, ctx.settings)  # before CORS: runs inside it
    if ctx.settings.cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=ctx.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        )
    api.add_middleware(RequestTelemetry, metrics=ctx.metrics, audit=ctx.audit)
    return api


@dataclass(frozen=True)
class Bot:
    """A running bot: every component built and wired; none is missing or optional.

    `paper` is the embedded paper exchange (mexcsim), present exactly in paper mode.
    """

    settings: Settings
    mode: Mode
    started: Started
    execution: ExecutionService
    market: MarketData
    tokens: TokenService
    api: FastAPI
    uow_factory: Callable[[], UnitOfWork]
    metrics: Metrics
    events: EventBus
    paper: SimServer | None

    @property
    def sim(self) -> SimServer | None:
        return self.paper


@contextlib.asynccontextmanager
async def start_bot(settings: Settings) -> AsyncIterator[Bot]:
    """Build and run a bot until the block ends (see the module docstring)."""
    mode = settings.resolved_mode()  # raises ConfigurationError before anything starts
    async with contextlib.AsyncExitStack() as stack:
        yield await _build(settings, mode, stack)


async def _build(settings: Settings, mode: Mode, stack: contextlib.AsyncExitStack) -> Bot:
    metrics = Metrics()
    events = EventBus()
    paper = await _paper_exchange(settings, stack) if mode is Mode.PAPER else None
    exchange_url, key, secret = _credentials(settings, paper)
    redactor.add(key, secret)

    database_url = normalize_database_url(settings.database_url)
    await upgrade(database_url)
    db = create_engine(database_url)
    stack.push_async_callback(db.dispose)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(db)

    journal = OrderJournal(db)  # the placement hot path (store/journal.py)
    stack.push_async_callback(journal.close)
    audit = AuditWriter(db)  # each mutating request's audit entry
    stack.callback(audit.close)
    client = MexcClient(
        MexcClientConfig(
            api_key=key,
            api_secret=secret,
            base_url=exchange_url,
            recv_window_ms=settings.recv_window,
            timeout_s=settings.request_timeout,
            rate_limit=settings.exchange_rate_limit,
        ),
        on_rate_limit_wait=metrics.observe_rate_limit_wait,
        on_request=metrics.observe_exchange_request,
    )
    stack.push_async_callback(client.close)

    exchange = MexcExchange(client)
    catalog = SymbolCatalog(exchange)
    prices = PriceBook(exchange)
    risk_policy = RiskLimitsPolicy(uow_factory, events, prices, _utc_now)
    await risk_policy.load()
    execution = ExecutionService(
        exchange,
        uow_factory,
        events=events,
        writer=journal,
        catalog=catalog,
        prices=prices,
        risk=risk_policy,
    )
    book = PositionBook(uow_factory, events, catalog, prices, _utc_now)
    risk_policy.watch(book)
    monitor = ExitMonitor(
        book,
        execution,
        events=events,
        prices=prices,
        catalog=catalog,
        risk=risk_policy,
        clock=_utc_now,
    )
    position_service = PositionService(book, monitor, execution, uow_factory)
    authority = TokenAuthority(uow_factory, RequestRateLimit(settings.api_rate_limit_per_minute))
    tokens = TokenService(uow_factory, on_revoked=authority.forget)
    market_data = MarketData(exchange, catalog, prices)
    reconciliation = ReconciliationState()
    _subscribe_telemetry(events, metrics, reconciliation)
    ctx = ApiContext(
        settings=settings,
        mode=mode,
        version=package_version(),
        execution=execution,
        market=market_data,
        health=ExchangeHealth(exchange),
        tokens=tokens,
        uow_factory=uow_factory,
        audit=audit,
        authority=authority,
        metrics=metrics,
        exchange_url=exchange_url,
        reconciliation=reconciliation,
        positions=position_service,
        risk=risk_policy,
    )
    api = build_api(ctx)
    api_url = await _serve(api, settings, stack)
    admin_token = await tokens.first_admin()
    _start_task(
        stack,
        _run_engine(execution, monitor, settings.reconcile_interval, settings.exit_check_interval),
        "mexcbot-engine",
    )
    started = Started(
        api_url=api_url,
        docs_url=f"{api_url}/docs",
        mode=mode,
        exchange_url=exchange_url,
        admin_token=admin_token,
    )
    return Bot(
        settings=settings,
        mode=mode,
        started=started,
        execution=execution,
        market=market_data,
        tokens=tokens,
        api=api,
        uow_factory=uow_factory,
        metrics=metrics,
        events=events,
        paper=paper,
    )


async def _paper_exchange(settings: Settings, stack: contextlib.AsyncExitStack) -> SimServer:
    """The embedded paper exchange. Its admin API (`/_sim/`: funding, faults) needs a token that
    is new on every run and written, owner-only, beside the state file: a web page in the
    user's browser cannot use the loopback admin API, the user can."""
    admin_token = secrets.token_urlsafe(32)
    redactor.add(admin_token)
    if settings.paper_state_file:
        _write_private(Path(settings.paper_state_file + ADMIN_TOKEN_SUFFIX), admin_token + "\n")
    sim = SimServer(
        SimConfig(
            port=0,
            seed=settings.paper_seed,
            tick_interval=settings.paper_tick_interval,
            state_file=settings.paper_state_file or None,
            admin_token=admin_token,
        )
    )
    await sim.start()
    stack.push_async_callback(sim.stop)
    return sim


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (also when it existed)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)


def _credentials(settings: Settings, paper: SimServer | None) -> tuple[str, str, str]:
    """Paper: the embedded exchange's persistent paper account (its secret generated on the
    first run, kept in the state file). Live: the user's keys (`resolved_mode` checked them)."""
    if paper is None:
        if settings.api_key is None or settings.api_secret is None:  # pragma: no cover
            raise RuntimeError("live mode without keys: Settings.resolved_mode() refuses this")
        return (
            settings.exchange_url,
            settings.api_key.get_secret_value(),
            settings.api_secret.get_secret_value(),
        )
    secret = paper.exchange.secret_for(PAPER_API_KEY)
    if secret is None:
        secret = secrets.token_hex(32)
        paper.exchange.create_account(PAPER_API_KEY, secret)
    return paper.url, PAPER_API_KEY, secret


def _subscribe_telemetry(events: EventBus, metrics: Metrics, state: ReconciliationState) -> None:
    def on_reconciled(event: ReconciliationFinished) -> None:
        report = event.report
        metrics.reconciliation_runs.inc()
        for kind in DISCREPANCY_KINDS:
            count = report.count(kind)
            if count:
                metrics.reconciliation_discrepancies.labels(kind).inc(count)
        state.runs += 1
        state.last_finished_at = report.finished_at
        state.last_report = report.summary()
        state.lost_on_exchange += report.lost_on_exchange

    def on_order(event: OrderUpdated) -> None:
        if event.kind in (
            OrderUpdateKind.EXCHANGE_UPDATE,
            OrderUpdateKind.CANCELED,
            OrderUpdateKind.LOST,
        ):
            metrics.count_order_update(event.order.status.value.lower())

    def on_position(event: PositionChanged) -> None:
        metrics.position_events.labels(event.kind.value).inc()

    def on_trading_state(event: TradingStateChanged) -> None:
        for state in TradingState:
            metrics.trading_state.labels(state.value).set(1 if state is event.state else 0)

    events.subscribe(ReconciliationFinished, on_reconciled)
    events.subscribe(OrderUpdated, on_order)
    events.subscribe(PositionChanged, on_position)
    events.subscribe(TradingStateChanged, on_trading_state)
    events.subscribe(OrderUpdated, log_order_update)


async def _serve(api: FastAPI, settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    """Serve the API on the configured address; its URL once it accepts connections."""
    config = uvicorn.Config(
        api,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        http=bounded_httptools(settings.api_max_header_bytes, settings.api_body_timeout),
    )
    server = _Uvicorn(config)
    host = settings.api_host
    listener = _bind(host, settings.api_port)
    task = asyncio.create_task(server.serve(sockets=[listener]), name="mexcbot-api")

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=_STOP_TIMEOUT_S)

    stack.push_async_callback(stop)
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"the API server on {host} stopped during start-up")
        await asyncio.sleep(0.01)
    port = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _start_task(
    stack: contextlib.AsyncExitStack, work: Coroutine[Any, Any, None], name: str
) -> None:
    """Run `work` until the stack closes, which cancels it and waits for it to end."""
    task = asyncio.create_task(work, name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=_STOP_TIMEOUT_S)

    stack.push_async_callback(stop)


async def _run_engine(
    execution: ExecutionService,
    monitor: ExitMonitor,
    reconcile_interval: float,
    exit_check_interval: float,
) -> None:
    """Startup (clock, rules, prices, reconciliation, the exits re-armed) with retries, then
    periodic reconciliation beside the exit monitor (stream prices and a REST timer)."""
    for attempt, delay in enumerate(_retry_delays(), start=1):
        try:
            await execution.start()
            await monitor.rearm()
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "engine start-up failed (attempt %d, %s: %s); retrying in %.0f s",
                attempt,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
    log.info("ready: startup reconciliation finished, exits armed")
    async with asyncio.TaskGroup() as group:
        group.create_task(monitor.run(), name="mexcbot-exits")
        group.create_task(monitor.run_timer(exit_check_interval), name="mexcbot-exit-timer")
        group.create_task(execution.run_reconciliation_loop(reconcile_interval))


def _bind(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound here so a port in use is an OSError naming it (uvicorn
    would call sys.exit). The explicit IPPROTO_TCP matters: asyncio only turns Nagle off
    (TCP_NODELAY) on sockets that say they are TCP; without it every response waited ~40 ms for
    a delayed ACK (measured: GET /health 44 ms -> 1 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise OSError(f"the API cannot listen on {host}:{port}: {exc}") from None
    return listener


def _retry_delays() -> Iterator[float]:
    yield from STARTUP_RETRY_SECONDS
    while True:
        yield STARTUP_RETRY_SECONDS[-1]


async def run_until_stopped(
    settings: Settings, stop: asyncio.Event, out: Callable[[str], None]
) -> None:
    """Run a bot until ``stop`` is set, announcing where it listens."""
    async with start_bot(settings) as bot:
        started = bot.started
        out(f"mexcbot {package_version()} running in {started.mode.value.upper()} mode")
        if started.mode is Mode.PAPER:
            out(f"paper exchange (mexcsim): {started.exchange_url}")
            if settings.paper_state_file:
                token_file = settings.paper_state_file + ADMIN_TOKEN_SUFFIX
                out(
                    f"paper admin API: {started.exchange_url}/_sim/ "
                    f"with the bearer token in {token_file}"
                )
        else:
            out(f"exchange: {started.exchange_url}")
        out(f"API:  {started.api_url}/api/v1")
        out(f"docs: {started.docs_url}")
        if started.admin_token is not None:
            out("first run: an admin token was created. It is shown ONCE; keep it safe:")
            out(started.admin_token)
        out(STOP_HINT)
        await stop.wait()
        out("stopping")
