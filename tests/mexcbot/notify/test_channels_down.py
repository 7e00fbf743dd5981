"""Channels that are down never hold up the bot: it starts and trades while Telegram answers 502
and the webhook refuses connections; when they come back each gets everything, in order, once.
A restart resumes the undelivered outbox without sending anything twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import delete

from mexcbot.app import Bot
from mexcbot.notify.outbox import OutboxStatus
from mexcbot.store import create_engine, tables
from tests.fixtures.api import MakeBot, place_order, tokens_for
from tests.fixtures.telegram import FakeTelegram, WebhookReceiver
from tests.mexcbot.notify.helpers import CHAT, READER, Client, notify_overrides, until

MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "50"}


async def _all_down(telegram: FakeTelegram, receiver: WebhookReceiver) -> None:
    telegram.fail_with = 502
    await receiver.stop()  # connections refused on its port


async def _buy(bot: Bot, http: aiohttp.ClientSession, token: str) -> str:
    status, order = await place_order(http, bot, token, MARKET_BUY)
    assert (status, order["status"]) == (201, "FILLED"), order
    client_order_id: str = order["client_order_id"]
    return client_order_id


async def _outbox(bot: Bot) -> list[tuple[str, str, str, int]]:
    entries = await bot.notifications.outbox.entries()
    return [(e.channel, e.event_id, e.status, e.attempts) for e in entries]


def _event_ids(entries: list[tuple[str, str, str, int]], channel: str) -> list[str]:
    return [event_id for name, event_id, _, _ in entries if name == channel]


async def test_the_bot_trades_while_every_channel_is_down_then_they_get_everything_in_order(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
) -> None:
    await _all_down(telegram, webhook_receiver)
    overrides = notify_overrides(telegram, webhook_receiver, notify_max_attempts=10_000)
    async with make_bot(**overrides) as bot:  # ready
        tokens = await tokens_for(bot)
        first = await _buy(bot, http, tokens["trade"])
        second = await _buy(bot, http, tokens["trade"])
        # both channels retry their oldest entry with backoff; the others wait behind it
        entries = await until(
            lambda: _outbox(bot), lambda found: len(found) == 6 and found[0][3] >= 3 <= found[1][3]
        )
        assert [attempts > 0 for _, _, _, attempts in entries] == [True] * 2 + [False] * 4
        assert {status for _, _, status, _ in entries} == {OutboxStatus.QUEUED}
        status, seen = await Client(http, bot, tokens["read"]).call("GET", "/api/v1/notifications")
        assert status == 200
        errors = {c["name"]: (c["queued"], c["last_error"]) for c in seen["channels"]}
        assert errors["telegram:777000"] == (3, "sendMessage: HTTP 502")
        assert errors["webhook:ops"][0] == 3
        assert errors["webhook:ops"][1].startswith("connection failed")

        telegram.fail_with = None
        await webhook_receiver.start()
        await telegram.wait_sent(lambda sent: len(sent) == 3, "3 messages")
        await webhook_receiver.wait_received(lambda got: len(got) == 3, "3 webhooks")
        order = _event_ids(entries, "webhook:ops")
        assert order == _event_ids(entries, f"telegram:{CHAT}")
        assert order[0].startswith("startup:")
        assert order[1:] == [f"order_filled:{first}", f"order_filled:{second}"]
        assert [h.payload["event_id"] for h in webhook_receiver.received] == order
        texts = telegram.texts(CHAT)
        assert "started" in texts[0]
        assert "Entry filled" in texts[1]
        assert "Entry filled" in texts[2]
        assert "started" not in " ".join(texts[1:])
        # the command poller failed meanwhile too, and answers again
        telegram.user_message(READER, "/status")
        await telegram.wait_sent(lambda _: len(telegram.texts(READER)) == 1, "a reply")
        assert "mode PAPER" in telegram.texts(READER)[0]


async def test_a_restart_resumes_the_outbox_without_duplicates(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
) -> None:
    await _all_down(telegram, webhook_receiver)
    overrides = notify_overrides(telegram, webhook_receiver)
    async with make_bot(**overrides) as bot:
        tokens = await tokens_for(bot)
        bought = await _buy(bot, http, tokens["trade"])
    assert telegram.sent == []
    assert webhook_receiver.received == []

    telegram.fail_with = None
    await webhook_receiver.start()
    async with make_bot(**overrides) as again:
        # first run: startup, the fill, shutdown; second run: its startup
        await webhook_receiver.wait_received(lambda got: len(got) == 4, "4 webhooks")
        await telegram.wait_sent(lambda sent: len(sent) == 4, "4 messages")
        entries = await _outbox(again)
    types = [h.payload["type"] for h in webhook_receiver.received]
    assert types[:4] == ["startup", "order_filled", "shutdown", "startup"]
    assert webhook_receiver.received[1].payload["event_id"] == f"order_filled:{bought}"
    # the second run's shutdown (within its grace period) is the only later one
    assert types[4:] in ([], ["shutdown"])
    ids = Counter(h.payload["event_id"] for h in webhook_receiver.received)
    assert max(ids.values()) == 1, ids
    assert len(telegram.texts(CHAT)) == len(set(telegram.texts(CHAT))) >= 4
    assert Counter(channel for channel, _, _, _ in entries) == {
        "telegram:777000": 4,
        "webhook:ops": 4,
    }


async def test_a_bot_without_channels_queues_nothing(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot() as bot:
        tokens = await tokens_for(bot)
        await _buy(bot, http, tokens["trade"])
        status, seen = await Client(http, bot, tokens["read"]).call("GET", "/api/v1/notifications")
        refused, problem = await Client(http, bot, tokens["admin"]).call(
            "POST", "/api/v1/notifications/test"
        )
        assert await _outbox(bot) == []
    assert (status, seen["channels"], seen["telegram_commands"]) == (200, [], False)
    assert (refused, problem["code"]) == (409, "no_channels")


async def test_a_start_after_a_crash_says_the_previous_run_did_not_stop(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    overrides = notify_overrides(telegram, webhook_receiver)
    async with make_bot(**overrides):
        await webhook_receiver.wait_received(lambda got: len(got) == 1, "the startup")
    crashed = webhook_receiver.received[0].payload
    # a crash: the run never wrote its shutdown (here: removed afterwards)
    db = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    async with db.begin() as connection:
        await connection.execute(
            delete(tables.notification_outbox).where(
                tables.notification_outbox.c.type == "shutdown"
            )
        )
    await db.dispose()
    webhook_receiver.received.clear()
    async with make_bot(**overrides):
        await webhook_receiver.wait_received(
            lambda got: "unclean_stop" in [h.payload["type"] for h in got], "the crash notice"
        )
    notice = next(
        h.payload for h in webhook_receiver.received if h.payload["type"] == "unclean_stop"
    )
    assert notice["data"]["previous_start"] == crashed["event_id"].removeprefix("startup:")
    assert sum("ended without stopping cleanly" in t for t in telegram.texts(CHAT)) == 1
