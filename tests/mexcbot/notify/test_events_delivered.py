"""A paper bot with a (fake, local) Telegram chat and a signed webhook: startup, an entry fill,
a stop-loss exit fill and a risk change each arrive once on both, the webhook's signatures
verify, and neither the logs nor the API ever show the token or the secret."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest

from mexcbot.app import Bot
from mexcbot.domain.listings import Listing, ListingSource, ListingStatus
from mexcbot.engine.events import ListingChanged, ListingChangeKind
from tests.fixtures.api import MakeBot, tokens_for
from tests.fixtures.telegram import TOKEN, FakeTelegram, WebhookReceiver
from tests.mexcbot.notify.helpers import (
    CHAT,
    HOOK_SECRET,
    SYMBOL,
    Client,
    notify_overrides,
    set_price,
    signature_valid,
    until,
)

D = Decimal
LISTING = Listing(
    symbol="NEWUSDT",
    base_asset="NEW",
    quote_asset="USDT",
    status=ListingStatus.ANNOUNCED,
    source=ListingSource.CALENDAR,
    first_seen_at=datetime(2026, 12, 1, tzinfo=UTC),
)


async def test_each_event_arrives_once_signed_and_without_secrets(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_bot(**notify_overrides(telegram, webhook_receiver)) as bot:
        tokens = await tokens_for(bot)
        await _trade_and_change_risk(bot, http, tokens)
        for _ in range(2):  # published twice (two sources): told once
            bot.events.publish(ListingChanged(LISTING, ListingChangeKind.DETECTED))
        wanted = ["startup", "order_filled", "order_filled", "risk_changed", "listing_detected"]
        await webhook_receiver.wait_received(
            lambda got: sorted(h.payload["type"] for h in got) == sorted(wanted), "webhooks"
        )
        await telegram.wait_sent(lambda sent: len(sent) == len(wanted), "telegram messages")
        status, body = await Client(http, bot, tokens["read"]).raw("GET", "/api/v1/notifications")
        reader = Client(http, bot, tokens["read"])

        async def scrape() -> str:
            return (await reader.raw("GET", "/metrics"))[1]

        delivered = 'mexcbot_notifications_delivered_total{channel="webhook:ops"} 5.0'
        metrics = await until(scrape, lambda text: delivered in text)  # stored after the send
        test_status, test_body = await Client(http, bot, tokens["admin"]).raw(
            "POST", "/api/v1/notifications/test"
        )
        denied, _ = await Client(http, bot, tokens["read"]).raw(
            "POST", "/api/v1/notifications/test"
        )
        config_status, config = await Client(http, bot, tokens["admin"]).raw(
            "GET", "/api/v1/admin/config"
        )
        await telegram.wait_sent(lambda sent: len(sent) == len(wanted) + 1, "the test message")

    hooks = webhook_receiver.received
    assert webhook_receiver.types()[0] == "startup"
    ids = Counter(hook.payload["event_id"] for hook in hooks)
    assert all(count == 1 for count in ids.values()), ids
    for hook in hooks:
        assert signature_valid(HOOK_SECRET, hook.headers, hook.body), hook.headers
        assert not signature_valid(HOOK_SECRET, hook.headers, hook.body + b" ")
        assert not signature_valid("another-secret-of-16+", hook.headers, hook.body)
    fills = [h.payload for h in hooks if h.payload["type"] == "order_filled"]
    legs = {(p["data"]["leg"], p["data"]["reason"].split(" (")[0]) for p in fills}
    assert legs == {("entry", "user"), ("exit", "stop loss")}
    assert all(p["data"]["symbol"] == SYMBOL for p in fills)
    # webhooks carry the shutdown too (sent while stopping, within the grace period)
    assert [t for t in webhook_receiver.types() if t == "shutdown"] == ["shutdown"]

    texts = telegram.texts(CHAT)
    assert texts[0].startswith("mexcbot")
    assert "PAPER" in texts[0]
    assert sum("Entry filled" in t for t in texts) == 1
    assert sum("Exit filled" in t and "stop loss" in t for t in texts) == 1
    risk = [m for m in telegram.sent if "Risk changed" in m.text]
    assert len(risk) == 1
    assert risk[0].silent
    assert all(not m.silent for m in telegram.sent if m not in risk)

    assert status == 200
    assert (test_status, denied) == (202, 403), test_body
    assert 'mexcbot_notifications_queued{channel="telegram:777000"}' in metrics
    assert 'mexcbot_notification_delivery_seconds_count{channel="webhook:ops"} 5.0' in metrics
    assert config_status == 200
    assert '"telegram_bot_token_set":true' in config
    assert '"name":"ops"' in config
    for answer in (body, test_body, config):
        assert TOKEN not in answer
        assert HOOK_SECRET not in answer
        assert webhook_receiver.hook_url not in answer
    assert '"name":"telegram:777000"' in body
    assert '"name":"webhook:ops"' in body
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert TOKEN not in logged
    assert HOOK_SECRET not in logged


async def _trade_and_change_risk(
    bot: Bot, http: aiohttp.ClientSession, tokens: dict[str, str]
) -> None:
    """An entry filled, its stop-loss exit filled, the kill switch set by an admin."""
    trader, admin = Client(http, bot, tokens["trade"]), Client(http, bot, tokens["admin"])
    await set_price(http, bot, D("3200"))
    status, opened = await trader.call(
        "POST",
        "/api/v1/positions",
        {"symbol": SYMBOL, "quote_amount": "320", "exits": {"stop_loss": {"price": "3000"}}},
    )
    assert status == 201, opened
    position_id = opened["position"]["id"]
    await set_price(http, bot, D("2900"))

    async def position() -> object:
        return (await trader.call("GET", f"/api/v1/positions/{position_id}"))[1]

    await until(position, lambda p: isinstance(p, dict) and p["status"] == "CLOSED")
    status, risk = await admin.call("PUT", "/api/v1/risk", {"state": "REDUCING", "reason": "t"})
    assert status == 200, risk
