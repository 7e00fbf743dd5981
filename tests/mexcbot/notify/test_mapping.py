"""How engine events become notifications: once per change (deterministic ids), one message
per stream outage, the daily-loss switch as "limit hit", an exit's reason from its client order
id, listings and snipes; and what a channel's level does."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from mexcbot.config import Settings, WebhookSettings
from mexcbot.domain.autobuy import ExecutionOutcome, RuleExecution, TriggerType
from mexcbot.domain.exits import ExitTrigger
from mexcbot.domain.listings import Listing, ListingSource, ListingStatus
from mexcbot.domain.orders import Order, OrderOrigin, OrderSide, OrderStatus, OrderType
from mexcbot.domain.performance import performance
from mexcbot.domain.positions import Position, PositionStatus, PositionType
from mexcbot.domain.risk import RiskLimits, TradingState
from mexcbot.engine.events import (
    ListingChanged,
    ListingChangeKind,
    OrderUpdated,
    OrderUpdateKind,
    PositionChanged,
    PositionChangeKind,
    ReconciliationFinished,
    SnipeFinished,
    StreamStatusChanged,
    TradingStateChanged,
)
from mexcbot.engine.orders.report import ReconciliationReport
from mexcbot.notify.daily import next_summary_at, run_daily_summary
from mexcbot.notify.events import (
    Notification,
    NotificationMapper,
    daily_summary,
    exit_trigger_of,
)
from mexcbot.notify.kinds import NotificationType, NotifyLevel
from mexcbot.store import PositionPage

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
D = Decimal


def mapper() -> NotificationMapper:
    return NotificationMapper(lambda: T0)


def stream(connected: bool, seconds: int, name: str = "user") -> StreamStatusChanged:
    return StreamStatusChanged(
        name, connected, None if connected else "closed", 0, 0, T0 + timedelta(seconds=seconds)
    )


def filled(order: Order) -> Order:
    return replace(
        order, status=OrderStatus.FILLED, executed_qty=D("0.1"), cumulative_quote_qty=D("320")
    )


def test_a_stream_outage_is_one_stale_and_one_recovered_message() -> None:
    m = mapper()
    seen = [m.map(stream(False, 0))]  # the first connect has not happened: no alarm
    seen += [m.map(stream(True, 1)), m.map(stream(False, 2)), m.map(stream(False, 3))]
    seen += [m.map(stream(False, 4)), m.map(stream(True, 9)), m.map(stream(True, 10))]
    found = [(n.type, n.event_id) for n in seen if n is not None]
    since = (T0 + timedelta(seconds=2)).isoformat()
    assert found == [
        (NotificationType.STREAM_STALE, f"stream_stale:user:{since}"),
        (NotificationType.STREAM_RECOVERED, f"stream_recovered:user:{since}"),
    ]
    recovered = [n for n in seen if n is not None][1]
    assert recovered.data["down_seconds"] == 7.0


def test_the_daily_loss_switch_is_a_limit_hit_and_an_admin_change_a_risk_change() -> None:
    m = mapper()
    by_switch = TradingStateChanged(
        TradingState.REDUCING, RiskLimits(), "daily loss 12 reached the limit of 10", "system", T0
    )
    by_admin = TradingStateChanged(TradingState.HALTED, RiskLimits(), None, "ops-admin", T0)
    switch, admin = m.map(by_switch), m.map(by_admin)
    assert switch is not None
    assert admin is not None
    assert switch.type is NotificationType.LIMIT_HIT
    assert "daily loss 12" in switch.text
    assert admin.type is NotificationType.RISK_CHANGED
    assert "HALTED" in admin.text
    assert "ops-admin" in admin.text


def test_an_exit_fill_says_which_exit_from_its_client_order_id_alone() -> None:
    key = "position:7:tp:1"
    exit_order = Order.place(
        symbol="ETHUSDT",
        side=OrderSide.SELL,
        type=OrderType.MARKET,
        quantity=D("0.1"),
        created_at=T0,
        idempotency_key=key,
        origin=OrderOrigin.POSITION_EXIT,
        origin_ref="position:7",
    )
    assert exit_trigger_of(exit_order) is not None
    note = mapper().map(OrderUpdated(filled(exit_order), OrderUpdateKind.EXCHANGE_UPDATE))
    assert note is not None
    assert note.event_id == f"order_filled:{exit_order.client_order_id}"
    assert (note.data["leg"], note.data["reason"]) == ("exit", "take profit 2")
    assert note.data["position_id"] == 7
    unfilled = mapper().map(OrderUpdated(exit_order, OrderUpdateKind.ACKNOWLEDGED))
    assert unfilled is None


def test_reconciliation_tells_only_about_discrepancies() -> None:
    clean = ReconciliationReport(started_at=T0, finished_at=T0, orders_checked=5)
    found = replace(clean, status_corrections=2, lost_on_exchange=1)
    assert mapper().map(ReconciliationFinished(clean)) is None
    note = mapper().map(ReconciliationFinished(found))
    assert note is not None
    assert note.type is NotificationType.RECONCILIATION_DISCREPANCY
    assert "3 discrepancies" in note.text


def test_listing_detected_and_snipe_result() -> None:
    listing = Listing(
        symbol="NEWUSDT",
        base_asset="NEW",
        quote_asset="USDT",
        status=ListingStatus.ANNOUNCED,
        source=ListingSource.CALENDAR,
        first_seen_at=T0,
        open_time=T0 + timedelta(hours=2),
    )
    m = mapper()
    detected = m.map(ListingChanged(listing, ListingChangeKind.DETECTED))
    assert m.map(ListingChanged(listing, ListingChangeKind.UPDATED)) is None
    assert detected is not None
    assert detected.type is NotificationType.LISTING_DETECTED
    assert "NEWUSDT" in detected.text
    execution = RuleExecution(
        rule_id=3,
        symbol="NEWUSDT",
        trigger_type=TriggerType.NEW_LISTING,
        key="listing:1",
        reason="new listing",
        outcome=ExecutionOutcome.FILLED,
        created_at=T0,
    )
    snipe = m.map(SnipeFinished(listing, execution, -500.0, 2.0, 14.5, 30.0, 1))
    assert snipe is not None
    assert snipe.event_id == "snipe:3:listing:1"
    assert "accepted +14 ms" in snipe.text or "accepted +15 ms" in snipe.text
    assert snipe.data["filled_ms"] == 30.0


def test_levels_per_channel() -> None:
    hook = WebhookSettings(
        url="http://127.0.0.1:9/hook",
        secret="0123456789abcdef",
        events={"startup": "silent", "order_filled": "on"},
    )
    assert hook.level(NotificationType.STARTUP) is NotifyLevel.SILENT
    assert hook.level(NotificationType.RISK_CHANGED) is NotifyLevel.OFF
    listed = WebhookSettings(url="http://h", secret="0123456789abcdef", events=["startup"])
    assert listed.level(NotificationType.STARTUP) is NotifyLevel.ON
    assert listed.level(NotificationType.SHUTDOWN) is NotifyLevel.OFF
    everything = WebhookSettings(url="http://h", secret="0123456789abcdef")
    assert everything.level(NotificationType.DAILY_SUMMARY) is NotifyLevel.ON


def test_settings_refuse_what_cannot_work_with_the_field_named() -> None:
    cases = {
        "telegram_base_url": {"telegram_bot_token": "1:x", "telegram_base_url": "ftp://x"},
        "MEXCBOT_TELEGRAM_BOT_TOKEN": {"telegram_chat_ids": [1]},
        "webhooks names must be unique": {
            "webhooks": [
                {"url": "http://a", "secret": "0123456789abcdef", "name": "x"},
                {"url": "http://b", "secret": "0123456789abcdef", "name": "x"},
            ]
        },
        "secret": {"webhooks": [{"url": "http://a", "secret": "short"}]},
        "telegram_users": {"telegram_bot_token": "1:x", "telegram_users": {"5": "root"}},
    }
    for needle, values in cases.items():
        with pytest.raises(ValidationError) as caught:
            Settings(**values)
        assert needle in str(caught.value), (needle, str(caught.value))
        assert "0123456789abcdef" not in str(caught.value)


def test_the_daily_summary_covers_the_day_before_its_time() -> None:
    assert next_summary_at(T0, datetime(2026, 1, 1, 0, 5).time()) == datetime(
        2026, 12, 2, 0, 5, tzinfo=UTC
    )
    assert next_summary_at(T0, datetime(2026, 1, 1, 18, 0).time()) == datetime(
        2026, 12, 1, 18, 0, tzinfo=UTC
    )
    note = daily_summary(T0, performance([]), open_positions=2)
    assert note.event_id == f"daily_summary:{T0.isoformat()}"
    assert "2 open" in note.text
    assert "win rate n/a" in note.text


def position(**fields: object) -> Position:
    values: dict[str, object] = {
        "symbol": "ETHUSDT",
        "base_asset": "ETH",
        "quote_asset": "USDT",
        "type": PositionType.MANUAL,
        "opened_at": T0,
        "id": 4,
        "quantity": D("0.1"),
    }
    values.update(fields)
    return Position(**values)  # type: ignore[arg-type]


def test_exit_failed_once_per_failure_and_dust_left_once() -> None:
    m = mapper()
    failing = position(exit_failures=2, exit_failed_reason="market sell refused")
    first = m.map(PositionChanged(failing, PositionChangeKind.EXIT_FAILED))
    again = m.map(PositionChanged(failing, PositionChangeKind.EXIT_FAILED))
    assert first is not None
    assert again is not None
    assert first.event_id == again.event_id == "exit_failed:4:2"  # one outbox row
    assert "EXIT FAILED" in first.text
    assert "market sell refused" in first.text
    dusty = position(status=PositionStatus.CLOSED, dust_quantity=D("0.0004"))
    dust = m.map(PositionChanged(dusty, PositionChangeKind.CLOSED))
    assert dust is not None
    assert (dust.type, dust.event_id) == (NotificationType.DUST_LEFT, "dust_left:4")
    assert "0.0004 ETH" in dust.text
    clean = position(status=PositionStatus.CLOSED)
    assert m.map(PositionChanged(clean, PositionChangeKind.CLOSED)) is None


def test_the_exit_placed_trigger_names_the_fill() -> None:
    m = mapper()
    exit_order = Order.place(
        symbol="ETHUSDT",
        side=OrderSide.SELL,
        type=OrderType.MARKET,
        quantity=D("0.1"),
        created_at=T0,
        client_order_id="mxbmanual0001",
        origin=OrderOrigin.POSITION_EXIT,
        origin_ref="position:4",
    )
    placed = position(
        exit_order_id=exit_order.client_order_id, exit_trigger=ExitTrigger.TRAILING_STOP
    )
    assert m.map(PositionChanged(placed, PositionChangeKind.EXIT_PLACED)) is None
    note = m.map(OrderUpdated(filled(exit_order), OrderUpdateKind.EXCHANGE_UPDATE))
    assert note is not None
    assert note.data["reason"] == "trailing stop"


async def test_the_daily_summary_loop_sends_one_summary_per_day() -> None:
    now = [T0]
    sent: list[str] = []
    closed_today = position(
        status=PositionStatus.CLOSED,
        quantity=D(0),
        spent_quote=D(100),
        realised_pnl=D(5),
        closed_at=T0 + timedelta(hours=3),
        opened_at=T0 - timedelta(days=2),
    )

    class Positions:
        async def list(self, **_: object) -> PositionPage:
            return PositionPage([closed_today], 1)

        def open_positions(self) -> list[Position]:
            return [position(id=9)]

    async def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)
        if len(sent) >= 2:
            raise asyncio.CancelledError

    def submit(note: Notification) -> None:
        sent.append(note.text)

    with contextlib.suppress(asyncio.CancelledError):
        await run_daily_summary(
            Positions(),  # type: ignore[arg-type]
            submit,
            datetime(2026, 1, 1, 0, 0).time(),
            lambda: now[0],
            sleep,
        )
    assert sent[0].startswith("Daily summary to 2026-12-02 00:00 UTC: realised PnL 5")
    assert "1 closed (1 won, win rate 100%), 1 open" in sent[0]
    assert sent[1].startswith("Daily summary to 2026-12-03 00:00 UTC: realised PnL 0")
