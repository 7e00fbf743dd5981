"""The composition root's helpers (`mexcbot.app` builds, these answer its questions): where the
exchange, its websocket and its web host are, which listing sources run, what the metrics follow,
and the summaries remote control reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from mexcbot.api.context import ReconciliationState
from mexcbot.config import Settings
from mexcbot.domain.autobuy import ExecutionOutcome
from mexcbot.domain.listings import ListingSource
from mexcbot.domain.risk import TradingState
from mexcbot.engine.autobuy.rules import AutoBuyRules
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
from mexcbot.engine.listings.service import ListingService, ListingView
from mexcbot.engine.listings.sources import ListingFeedSource
from mexcbot.engine.orders.report import DISCREPANCY_KINDS
from mexcbot.mexc.constants import DEFAULT_WEB_URL, DEFAULT_WS_URL
from mexcbot.mexc.listings import (
    AnnouncementsSource,
    CalendarSource,
    ExchangeInfoSource,
    WebSession,
    WebSymbolsSource,
)
from mexcbot.mexc.rest import MexcClient
from mexcbot.telemetry import Metrics, log_order_update
from mexcsim import SimServer


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def rule_lines(rules: AutoBuyRules) -> list[str]:
    """The auto-buy rules in a line each (Telegram's /rules)."""
    page = await rules.list(limit=50)
    return [
        f"#{item.rule.id} {item.rule.name}: {item.rule.trigger.type.value} {item.rule.symbol}, "
        f"{item.rule.buy_amount_quote} quote, {'on' if item.rule.enabled else 'off'}"
        for item in page.rules
    ]


async def listing_lines(listings: ListingService) -> list[str]:
    """Upcoming and recent listings in a line each (Telegram's /listings)."""
    lines = []
    for view in (ListingView.UPCOMING, ListingView.RECENT):
        for found in await listings.list(view, limit=10):
            listing = found.listing
            opens = listing.open_time.isoformat() if listing.open_time else "time unknown"
            outcome = ", ".join(s.outcome.value for s in found.snipes) or "no snipe"
            lines.append(f"{listing.symbol} {listing.status.value} opens {opens}: {outcome}")
    return lines


def notification_secrets(settings: Settings) -> list[str]:
    """The Telegram token and the webhooks' secrets and URLs (a URL may hold a credential, as
    Slack's do), masked in every log line."""
    found = [hook.secret.get_secret_value() for hook in settings.webhooks]
    found += [hook.url for hook in settings.webhooks]
    if settings.telegram_bot_token is not None:
        found.append(settings.telegram_bot_token.get_secret_value())
    return found


def ws_url(settings: Settings, paper: SimServer | None) -> str:
    """The configured websocket, else the embedded simulator's (paper) or MEXC's (live)."""
    if settings.exchange_ws_url:
        return settings.exchange_ws_url
    if paper is not None:
        return paper.url.replace("http://", "ws://", 1) + "/ws"
    return DEFAULT_WS_URL


def exchange_ms(client: MexcClient) -> float:
    """The exchange's clock now (epoch ms): the local clock plus the measured offset."""
    return time.time() * 1000 + client.time_offset_ms


def web_url(settings: Settings, paper: SimServer | None) -> str:
    """The configured web host, else the embedded simulator (paper) or MEXC's (live)."""
    if settings.exchange_web_url:
        return settings.exchange_web_url
    return paper.url if paper is not None else DEFAULT_WEB_URL


def listing_sources(
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


def subscribe_telemetry(events: EventBus, metrics: Metrics, state: ReconciliationState) -> None:
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

    # built once: three `OrderUpdateKind.X` reads per order event were ~0.6 us (EnumType's
    # `__getattr__` makes a member read slow on 3.11): on_order 0.44 -> ~0.1 us in-process
    counted = frozenset(
        {OrderUpdateKind.EXCHANGE_UPDATE, OrderUpdateKind.CANCELED, OrderUpdateKind.LOST}
    )

    def on_order(event: OrderUpdated) -> None:
        if event.kind in counted:
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
    # a report only: written after the API's response rather than before it (engine/bus.py)
    events.subscribe(OrderUpdated, log_order_update, deferred=True)
