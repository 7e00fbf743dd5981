"""The composition root: the one place that builds and wires everything a running bot needs.

``async with start_bot(settings) as bot:`` builds, in order: the mode (refusing live trading
without an explicit ``--live``), the embedded paper exchange in paper mode (its paper account,
with a secret generated on the first run, persists in ``paper_state_file``; there is no default
secret anywhere), the migrated database, the MEXC client and its `Exchange` adapter, the engine's
services, the API (serving at once; ``/ready`` answers 503 meanwhile), the first admin token on a
fresh database, and the engine task: startup (clock sync, symbol rules, last prices,
reconciliation) with retries, then periodic reconciliation beside the two exchange streams: the
account feed (orders, fills, balances; every (re)connect reconciles) and the price feed (the
symbols of ``MEXCBOT_STREAM_SYMBOLS`` and of every stored order), which shares the live market's
stream with the symbols watched because someone reads them (books, trades, best prices; idle ones
unwatched by the market interest's sweep). ``/ready`` turns 200 when startup has finished.

Every resource registers its close on one ``AsyncExitStack`` as it is built, so a failure at any
step closes exactly what was built, and stopping is closing the stack. Nothing depends on a clean
stop (crash-only): every order is committed before it is sent and reconciled at the next start,
which is the same path as recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
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
from mexcbot.domain.listings import Listing, ListingSource
from mexcbot.engine.account_feed import AccountFeed
from mexcbot.engine.autobuy.buying import AutoBuyer
from mexcbot.engine.autobuy.evaluation import DryRun
from mexcbot.engine.autobuy.executions import ExecutionLog
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.autobuy.triggers import TriggerWatch
from mexcbot.engine.bus import EventBus
from mexcbot.engine.collector import CollectorHold
from mexcbot.engine.health import ExchangeHealth
from mexcbot.engine.listings.book import ListingBook
from mexcbot.engine.listings.detector import ListingDetector
from mexcbot.engine.listings.first_trade import FirstTradeWatch
from mexcbot.engine.listings.service import ListingService, ListingView
from mexcbot.engine.listings.sniper import Sniper, SniperSettings
from mexcbot.engine.market import MarketData
from mexcbot.engine.market_interest import MarketInterest
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
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.listings import (
    WebSession,
)
from mexcbot.mexc.live_market import MexcLiveMarket
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.mexc.streams import StreamConfig
from mexcbot.notify.center import NotificationCenter
from mexcbot.notify.telegram.commands import ControlServices
from mexcbot.paper import (
    ADMIN_TOKEN_SUFFIX,
    exchange_credentials,
    start_paper_exchange,
)
from mexcbot.runtime import Workers, run_engine
from mexcbot.store import OrderJournal, UnitOfWork, create_engine, normalize_database_url, upgrade
from mexcbot.store.audit_writer import AuditWriter
from mexcbot.store.checkpoint import WalCheckpointer
from mexcbot.store.fill_writer import FillWriter
from mexcbot.store.loop_sqlite import LoopSqliteWriter
from mexcbot.telemetry import Metrics, redactor
from mexcbot.wiring import (
    exchange_ms,
    listing_lines,
    listing_sources,
    notification_secrets,
    rule_lines,
    subscribe_telemetry,
    web_url,
    ws_url,
)
from mexcsim import SimServer

log = logging.getLogger(__name__)

STOP_HINT = "press Ctrl+C to stop"
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
    notifications: NotificationCenter


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
    redactor.add(*notification_secrets(settings))

    database_url = normalize_database_url(settings.database_url)
    await upgrade(database_url)
    db = create_engine(database_url)
    stack.push_async_callback(db.dispose)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(db)

    # Deferred SQLite transactions (store/database.py): a read takes no write lock. For units of
    # work that only read, so the token lookups and the account stream's reads no longer hold
    # the lock the loop's commits need (each one sent a commit down the busy fallback), and for
    # the notification outbox, whose writes start with their write.
    deferred_db = create_engine(database_url, immediate=False)
    stack.push_async_callback(deferred_db.dispose)

    def read_uow_factory() -> UnitOfWork:
        return UnitOfWork(deferred_db)

    hot_writes = LoopSqliteWriter(db)  # shared: one page cache (store/audit_writer.py says why)
    stack.callback(hot_writes.close)
    journal = OrderJournal(db, on_loop=hot_writes)  # the placement hot path (store/journal.py)
    stack.push_async_callback(journal.close)
    audit = AuditWriter(db, on_loop=hot_writes)  # each mutating request's audit entry
    stack.callback(audit.close)
    fill_writer = FillWriter(db)  # the account stream's fills (store/fill_writer.py)
    stack.callback(fill_writer.close)
    checkpointer = WalCheckpointer(db)  # the WAL's checkpoints off the loop (store/checkpoint.py)
    if checkpointer.enabled:  # a SQLite file
        stack.push_async_callback(checkpointer.close)
        _start_task(stack, checkpointer.run(), "mexcbot-wal-checkpoint")
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

    stream_config = StreamConfig(url=ws_url(settings, paper))
    exchange = MexcExchange(client, stream_config)
    # books, trades and best prices of the symbols being read, on one shared market stream
    live_market = MexcLiveMarket(
        client, stream_config, stale_after_s=settings.live_market_stale_after
    )
    stack.push_async_callback(live_market.close)
    catalog = SymbolCatalog(exchange)
    prices = PriceBook(exchange)
    risk_policy = RiskLimitsPolicy(uow_factory, events, prices, _utc_now)
    await risk_policy.load()
    collector = CollectorHold()  # the process's one: garbage collection waits for orders
    execution = ExecutionService(
        exchange,
        uow_factory,
        events=events,
        writer=journal,
        fill_writer=fill_writer,
        catalog=catalog,
        prices=prices,
        risk=risk_policy,
        collector=collector,
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
    position_service = PositionService(book, monitor, execution, uow_factory, risk_policy)
    authority = TokenAuthority(
        uow_factory, RequestRateLimit(settings.api_rate_limit_per_minute), reads=read_uow_factory
    )
    tokens = TokenService(uow_factory, on_revoked=authority.forget)
    interest = (
        MarketInterest(
            live_market,
            idle_s=settings.live_market_idle,
            max_symbols=settings.live_market_max_symbols,
            pinned=lambda: feed.symbols,  # what positions and rules follow stays watched
        )
        if settings.live_market_max_symbols > 0
        else None
    )
    market_data = MarketData(
        exchange,
        catalog,
        prices,
        interest=interest,
        ticker_stats_s=settings.live_market_ticker_refresh,
    )
    risk_policy.watch_volume(market_data)
    position_service.watch_balances(market_data.free_balance)
    risk_policy.watch_equity(market_data.balance_of, settings.listing_quote_asset)
    market_data.follow(events)
    reconciliation = ReconciliationState()
    streams = {
        name: StreamHealth(name, on_message=metrics.stream_message_counter(name))
        for name in ("user", "market")
    }
    account_feed = AccountFeed(
        exchange,
        execution.order_sync,
        read_uow_factory,  # its own units of work only read (the merges are OrderSync's)
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
        live=live_market,  # one shared stream: a followed symbol is one more subscription
    )
    feed.follow_trading(events)
    trigger_watch = TriggerWatch(
        autobuy_rules, buyer, prices=prices, follow=feed.follow, clock=_utc_now
    )
    trigger_watch.attach(events)
    dry_run = DryRun(autobuy_rules, buyer, market_data, _utc_now, watch=trigger_watch)

    listing_book = ListingBook(uow_factory, events, _utc_now)
    await listing_book.load()
    web = WebSession(web_url(settings, paper), timeout_s=settings.request_timeout)
    stack.push_async_callback(web.close)
    detector = ListingDetector(listing_sources(settings, client, web), listing_book, _utc_now)

    async def upcoming_listings() -> list[Listing]:
        return [found.listing for found in await listings.list(ListingView.UPCOMING)]

    dry_run.upcoming_listings = upcoming_listings
    first_trades = (
        FirstTradeWatch(exchange, listing_book, _utc_now, lambda: exchange_ms(client))
        if ListingSource.MARKET_STREAM in settings.listing_sources
        else None
    )
    if first_trades is not None:
        first_trades.attach(events)
    listings = ListingService(
        listing_book, detector, uow_factory, _utc_now, lambda: client.time_offset_ms
    )

    subscribe_telemetry(events, metrics, reconciliation)
    notifications = NotificationCenter(
        settings,
        deferred_db,
        metrics,
        ControlServices(
            execution=execution,
            positions=position_service,
            risk=risk_policy,
            market=market_data,
            audit=audit,
            mode=mode.value,
            rules=lambda: rule_lines(autobuy_rules),
            listings=lambda: listing_lines(listings),
        ),
        _utc_now,
    )
    stack.push_async_callback(notifications.close)
    notifications.attach(events)
    for work, name in notifications.tasks():  # never awaited here: a channel may be down
        _start_task(stack, work, name)
    notifications.announce_startup(mode.value, package_version())
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
        collector=collector,
        positions=position_service,
        risk=risk_policy,
        listings=listings,
        autobuy=AutoBuyServices(autobuy_rules, autobuy_log, dry_run),
        notifications=notifications,
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
        market_interest=interest,
    )
    engine = run_engine(
        workers,
        reconcile_interval=settings.reconcile_interval,
        exit_check_interval=settings.exit_check_interval,
    )
    _start_task(stack, engine, "mexcbot-engine")
    stack.push_async_callback(notifications.announce_shutdown)  # first to run when stopping
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
        notifications=notifications,
    )


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
