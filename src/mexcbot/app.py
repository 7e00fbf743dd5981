"""The composition root: the one place that builds and wires everything a running bot needs.

``async with start_bot(settings) as bot:`` builds, in order: the mode (refusing live trading
without an explicit ``--live``), the embedded paper exchange in paper mode (its paper account,
with a secret generated on the first run, persists in ``paper_state_file``; there is no default
secret anywhere), the migrated database, the MEXC client and its `Exchange` adapter, the engine's
services, the API (serving at once; ``/ready`` answers 503 meanwhile), the first admin token on a
fresh database, and the engine task: startup (clock sync, symbol rules, last prices,
reconciliation) with retries, then periodic reconciliation beside the two exchange streams: the
account feed (orders, fills, balances; every (re)connect reconciles) and the price feed (the
symbols of ``MEXCBOT_STREAM_SYMBOLS`` and of every stored order). ``/ready`` turns 200 when startup
has finished.

Every resource registers its close on one ``AsyncExitStack`` as it is built, so a failure at any
step closes exactly what was built, and stopping is closing the stack. Nothing depends on a clean
stop (crash-only): every order is committed before it is sent and reconciled at the next start,
which is the same path as recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI

from mexcbot.api.application import STOP_TIMEOUT_S, build_api, serve
from mexcbot.api.auth import RequestRateLimit, TokenAuthority
from mexcbot.api.context import ApiContext, AutoBuyServices, ReconciliationState
from mexcbot.api.limits import FailedAuthLimit
from mexcbot.api.live_feed import LiveFeed
from mexcbot.config import Mode, Settings
from mexcbot.domain.autobuy import ExecutionOutcome
from mexcbot.domain.listings import Listing, ListingSource
from mexcbot.domain.risk import TradingState
from mexcbot.engine.account_feed import AccountFeed
from mexcbot.engine.autobuy.buying import AutoBuyer
from mexcbot.engine.autobuy.evaluation import DryRun
from mexcbot.engine.autobuy.executions import ExecutionLog
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.autobuy.triggers import TriggerWatch
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import (
    ListingChanged,
    OrderUpdated,
    OrderUpdateKind,
    PositionChanged,
    ReconciliationFinished,
    RuleExecuted,
    SnipeFinished,
    StreamStatusChanged,
    TradingStateChanged,
)
from mexcbot.engine.health import ExchangeHealth
from mexcbot.engine.listings.book import ListingBook
from mexcbot.engine.listings.detector import ListingDetector
from mexcbot.engine.listings.first_trade import FirstTradeWatch
from mexcbot.engine.listings.service import ListingService, ListingView
from mexcbot.engine.listings.sniper import Sniper, SniperSettings
from mexcbot.engine.listings.sources import ListingFeedSource
from mexcbot.engine.market import MarketData
from mexcbot.engine.orders.report import DISCREPANCY_KINDS
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.book import PositionBook
from mexcbot.engine.positions.exits import ExitMonitor
from mexcbot.engine.positions.trading import PositionService
from mexcbot.engine.price_feed import PriceFeed
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.engine.stream_health import StreamHealth
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.engine.tokens import TokenService
from mexcbot.mexc.constants import DEFAULT_WEB_URL, DEFAULT_WS_URL
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.listings import (
    AnnouncementsSource,
    CalendarSource,
    ExchangeInfoSource,
    WebSession,
    WebSymbolsSource,
)
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.mexc.streams import StreamConfig
from mexcbot.paper import (
    ADMIN_TOKEN_SUFFIX,
    exchange_credentials,
    start_paper_exchange,
)
from mexcbot.store import OrderJournal, UnitOfWork, create_engine, normalize_database_url, upgrade
from mexcbot.store.audit_writer import AuditWriter
from mexcbot.store.loop_sqlite import LoopSqliteWriter
from mexcbot.telemetry import Metrics, log_order_update, redactor
from mexcsim import SimServer

log = logging.getLogger(__name__)

STOP_HINT = "press Ctrl+C to stop"
STARTUP_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: The largest message a live API client may send (its requests are a few hundred bytes).


def package_version() -> str:
    try:
        return version("mexcbot")
    except PackageNotFoundError:
        return "0+unknown"


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


@contextlib.asynccontextmanager
async def start_bot(settings: Settings) -> AsyncIterator[Bot]:
    """Build and run a bot until the block ends (see the module docstring)."""
    mode = settings.resolved_mode()  # raises ConfigurationError before anything starts
    async with contextlib.AsyncExitStack() as stack:
        yield await _build(settings, mode, stack)


async def _build(settings: Settings, mode: Mode, stack: contextlib.AsyncExitStack) -> Bot:
    metrics = Metrics()
    events = EventBus()
    paper = await start_paper_exchange(settings, stack) if mode is Mode.PAPER else None
    exchange_url, key, secret = exchange_credentials(settings, paper)
    redactor.add(key, secret)

    database_url = normalize_database_url(settings.database_url)
    await upgrade(database_url)
    db = create_engine(database_url)
    stack.push_async_callback(db.dispose)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(db)

    hot_writes = LoopSqliteWriter(db)  # shared: one page cache (store/audit_writer.py says why)
    stack.callback(hot_writes.close)
    journal = OrderJournal(db, on_loop=hot_writes)  # the placement hot path (store/journal.py)
    stack.push_async_callback(journal.close)
    audit = AuditWriter(db, on_loop=hot_writes)  # each mutating request's audit entry
    stack.callback(audit.close)
    client = MexcClient(
        MexcClientConfig(
            api_key=key,
            api_secret=secret,
            base_url=exchange_url,
            recv_window_ms=settings.recv_window,
            timeout_s=settings.request_timeout,
            rate_limit=settings.exchange_rate_limit,
            read_wait_limit_s=settings.read_wait_limit,
        ),
        on_rate_limit_wait=metrics.observe_rate_limit_wait,
        on_request=metrics.observe_exchange_request,
    )
    stack.push_async_callback(client.close)

    exchange = MexcExchange(client, StreamConfig(url=_ws_url(settings, paper)))
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
    market_data.follow(events)
    reconciliation = ReconciliationState()
    streams = {
        name: StreamHealth(name, on_message=metrics.stream_message_counter(name))
        for name in ("user", "market")
    }
    account_feed = AccountFeed(
        exchange,
        execution.order_sync,
        uow_factory,
        events,
        reconcile=execution.reconcile,
        health=streams["user"],
    )

    autobuy_rules = AutoBuyRules(uow_factory, _utc_now)
    await autobuy_rules.load()
    autobuy_log = ExecutionLog(uow_factory, events, _utc_now, on_stats=autobuy_rules.note_stats)
    buyer = AutoBuyer(
        autobuy_rules, autobuy_log, position_service, catalog, market_data, risk_policy, _utc_now
    )
    async with uow_factory() as uow:
        feed_symbols = set(await uow.orders.symbols()) | set(settings.stream_symbols)
    feed = PriceFeed(
        exchange,
        prices,
        events,
        feed_symbols | set(autobuy_rules.watched_symbols()),
        health=streams["market"],
    )
    trigger_watch = TriggerWatch(
        autobuy_rules, buyer, prices=prices, follow=feed.follow, clock=_utc_now
    )
    trigger_watch.attach(events)
    dry_run = DryRun(autobuy_rules, buyer, market_data, _utc_now, watch=trigger_watch)

    listing_book = ListingBook(uow_factory, events, _utc_now)
    await listing_book.load()
    web = WebSession(_web_url(settings, paper), timeout_s=settings.request_timeout)
    stack.push_async_callback(web.close)
    detector = ListingDetector(_listing_sources(settings, client, web), listing_book, _utc_now)

    async def upcoming_listings() -> list[Listing]:
        return [found.listing for found in await listings.list(ListingView.UPCOMING)]

    dry_run.upcoming_listings = upcoming_listings
    first_trades = (
        FirstTradeWatch(exchange, listing_book, _utc_now, lambda: _exchange_ms(client))
        if ListingSource.MARKET_STREAM in settings.listing_sources
        else None
    )
    if first_trades is not None:
        first_trades.attach(events)
    listings = ListingService(
        listing_book, detector, uow_factory, _utc_now, lambda: client.time_offset_ms
    )

    _subscribe_telemetry(events, metrics, reconciliation)
    live = LiveFeed(
        buffer_size=settings.api_ws_buffer, ticker_interval=1.0 / settings.api_ws_ticker_rate
    )
    live.attach(events)
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
        live=live,
        auth_failures=FailedAuthLimit(
            settings.api_auth_failure_limit, settings.api_auth_failure_window
        ),
        streams=streams,
        positions=position_service,
        risk=risk_policy,
        listings=listings,
        autobuy=AutoBuyServices(autobuy_rules, autobuy_log, dry_run),
    )
    api = build_api(ctx)
    api_url = await serve(api, settings, stack)
    admin_token = await tokens.first_admin()
    sniper = Sniper(
        listing_book,
        autobuy_rules,
        autobuy_log,
        buyer,
        execution,
        book,
        catalog,
        events,
        uow_factory,
        clock_offset_ms=lambda: client.time_offset_ms,
        resync_clock=client.sync_time,
        settings=SniperSettings(
            arm_lead_s=settings.snipe_arm_lead,
            deadline_s=settings.snipe_deadline,
            late_window_s=settings.snipe_late_window,
        ),
        observe=lambda step, seconds: metrics.snipe_latency_seconds.labels(step).observe(seconds),
    )
    sniper.attach(events)
    workers = Workers(
        execution=execution,
        monitor=monitor,
        account_feed=account_feed,
        price_feed=feed,
        buyer=buyer,
        triggers=trigger_watch,
        detector=detector,
        first_trades=first_trades,
        sniper=sniper,
    )
    engine = _run_engine(
        workers,
        reconcile_interval=settings.reconcile_interval,
        exit_check_interval=settings.exit_check_interval,
    )
    _start_task(stack, engine, "mexcbot-engine")
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


@dataclass(frozen=True)
class Workers:
    """Everything the engine task starts (see `_run_engine`)."""

    execution: ExecutionService
    monitor: ExitMonitor
    account_feed: AccountFeed
    price_feed: PriceFeed
    buyer: AutoBuyer
    triggers: TriggerWatch
    detector: ListingDetector
    first_trades: FirstTradeWatch | None
    sniper: Sniper


def _ws_url(settings: Settings, paper: SimServer | None) -> str:
    """The configured websocket, else the embedded simulator's (paper) or MEXC's (live)."""
    if settings.exchange_ws_url:
        return settings.exchange_ws_url
    if paper is not None:
        return paper.url.replace("http://", "ws://", 1) + "/ws"
    return DEFAULT_WS_URL


def _exchange_ms(client: MexcClient) -> float:
    """The exchange's clock now (epoch ms): the local clock plus the measured offset."""
    return time.time() * 1000 + client.time_offset_ms


def _web_url(settings: Settings, paper: SimServer | None) -> str:
    """The configured web host, else the embedded simulator (paper) or MEXC's (live)."""
    if settings.exchange_web_url:
        return settings.exchange_web_url
    return paper.url if paper is not None else DEFAULT_WEB_URL


def _listing_sources(
    settings: Settings, client: MexcClient, web: WebSession
) -> list[ListingFeedSource]:
    quote, every = settings.listing_quote_asset, settings.listing_poll_interval
    built: dict[ListingSource, ListingFeedSource] = {
        ListingSource.CALENDAR: CalendarSource(
            web, interval_s=every, quote_asset=quote, clock=_utc_now
        ),
        ListingSource.WEB_SYMBOLS: WebSymbolsSource(web, interval_s=every, clock=_utc_now),
        ListingSource.EXCHANGE_INFO: ExchangeInfoSource(
            client, interval_s=settings.listing_symbols_interval, clock=_utc_now
        ),
        ListingSource.ANNOUNCEMENT: AnnouncementsSource(
            client, interval_s=every, quote_asset=quote, clock=_utc_now
        ),
    }
    return [built[source] for source in settings.listing_sources if source in built]


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

    def on_stream(event: StreamStatusChanged) -> None:
        metrics.observe_stream_status(event.stream, event.connected, event.reconnects)

    for stream in ("user", "market"):
        metrics.observe_stream_status(stream, connected=False, reconnects=0)

    def on_position(event: PositionChanged) -> None:
        metrics.position_events.labels(event.kind.value).inc()

    def on_rule_executed(event: RuleExecuted) -> None:
        outcome = event.execution.outcome
        if outcome is not ExecutionOutcome.PENDING:
            metrics.autobuy_executions.labels(outcome.value.lower()).inc()

    def on_trading_state(event: TradingStateChanged) -> None:
        for state in TradingState:
            metrics.trading_state.labels(state.value).set(1 if state is event.state else 0)

    events.subscribe(ReconciliationFinished, on_reconciled)
    events.subscribe(StreamStatusChanged, on_stream)
    events.subscribe(OrderUpdated, on_order)
    events.subscribe(PositionChanged, on_position)
    events.subscribe(TradingStateChanged, on_trading_state)
    events.subscribe(
        ListingChanged, lambda event: metrics.listing_events.labels(event.kind.value).inc()
    )
    events.subscribe(
        SnipeFinished,
        lambda event: metrics.snipes.labels(event.execution.outcome.value).inc(),
    )
    events.subscribe(RuleExecuted, on_rule_executed)
    events.subscribe(OrderUpdated, log_order_update)


def _start_task(
    stack: contextlib.AsyncExitStack, work: Coroutine[Any, Any, None], name: str
) -> None:
    """Run `work` until the stack closes, which cancels it and waits for it to end."""
    task = asyncio.create_task(work, name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=STOP_TIMEOUT_S)

    stack.push_async_callback(stop)


async def _run_engine(
    workers: Workers,
    *,
    reconcile_interval: float,
    exit_check_interval: float,
) -> None:
    """Startup (clock, rules, prices, reconciliation, the exits re-armed) with retries, then
    periodic reconciliation beside the two stream feeds and the exit monitor (stream prices and
    a REST timer). The feeds start after startup, so their first reconciliation runs on a synced
    clock; the price feed follows the symbols known then."""
    execution, monitor = workers.execution, workers.monitor
    for attempt, delay in enumerate(_retry_delays(), start=1):
        try:
            await execution.start()
            await monitor.rearm()
            await workers.buyer.recover()
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
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(execution.run_reconciliation_loop(reconcile_interval))
        tasks.create_task(workers.account_feed.run(), name="mexcbot-account-feed")
        tasks.create_task(workers.price_feed.run(), name="mexcbot-price-feed")
        tasks.create_task(monitor.run(), name="mexcbot-exits")
        tasks.create_task(monitor.run_timer(exit_check_interval), name="mexcbot-exit-timer")
        tasks.create_task(workers.triggers.run(), name="mexcbot-autobuy-triggers")
        tasks.create_task(
            workers.triggers.run_timer(exit_check_interval), name="mexcbot-autobuy-trigger-timer"
        )
        tasks.create_task(workers.detector.run(), name="mexcbot-listings")
        tasks.create_task(workers.sniper.run(), name="mexcbot-sniper")
        if workers.first_trades is not None:
            tasks.create_task(workers.first_trades.run(), name="mexcbot-first-trades")


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
        out(f"dashboard: {started.api_url}/")
        if started.admin_token is not None:
            out("first run: an admin token was created. It is shown ONCE; keep it safe:")
            out(started.admin_token)
        out(STOP_HINT)
        await stop.wait()
        out("stopping")
