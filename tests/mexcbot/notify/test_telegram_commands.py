"""Telegram commands on a paper bot through the fake Bot API: the roles of the API, a
confirmation for what changes something, silence towards strangers, an audit entry per command,
and an update offset that survives a restart (no command runs twice)."""

from __future__ import annotations

import re
from decimal import Decimal

import aiohttp

from mexcbot.app import Bot
from tests.fixtures.api import MakeBot, tokens_for
from tests.fixtures.telegram import FakeTelegram, WebhookReceiver
from tests.mexcbot.notify.helpers import (
    ADMIN_USER,
    READER,
    STRANGER,
    SYMBOL,
    TRADER,
    Client,
    notify_overrides,
    set_price,
    until,
)

_CONFIRM = re.compile(r"reply /confirm (\d{4}) within 60 s")


async def _ask(telegram: FakeTelegram, user: int, text: str) -> str:
    """Send `text` as `user`; the bot's reply in the user's chat."""
    before = len(telegram.texts(user))
    telegram.user_message(user, text)
    await telegram.wait_sent(lambda _: len(telegram.texts(user)) > before, f"a reply to {text}")
    return telegram.texts(user)[before]


async def _passed(telegram: FakeTelegram, update_id: int) -> None:
    """Wait until the bot polled past `update_id` (it handled it)."""
    await telegram.wait_sent(lambda _: max(telegram.offsets, default=0) > update_id, "a poll")


async def _risk_state(http: aiohttp.ClientSession, bot: Bot, token: str) -> str:
    status, risk = await Client(http, bot, token).call("GET", "/api/v1/risk")
    assert status == 200
    state: str = risk["state"]
    return state


async def test_commands_follow_the_roles_confirm_and_ignore_strangers(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
) -> None:
    overrides = notify_overrides(telegram, webhook_receiver)
    async with make_bot(**overrides) as bot:
        tokens = await tokens_for(bot)
        # a stranger gets nothing and can do nothing
        await _passed(telegram, telegram.user_message(STRANGER, "/kill"))
        await _passed(telegram, telegram.user_message(STRANGER, "/status"))
        assert telegram.texts(STRANGER) == []
        assert await _risk_state(http, bot, tokens["read"]) == "ACTIVE"

        status = await _ask(telegram, READER, "/status")
        assert "mode PAPER" in status
        assert "trading ACTIVE" in status
        assert "/forceexit" not in await _ask(telegram, READER, "/help")
        assert "/kill" in await _ask(telegram, ADMIN_USER, "/help")
        assert "needs the admin role" in await _ask(telegram, READER, "/pause")
        assert "needs the admin role" in await _ask(telegram, TRADER, "/kill")
        assert "rules: none" in await _ask(telegram, READER, "/rules")
        assert "listings: none" in await _ask(telegram, READER, "/listings")
        assert "USDT: free" in await _ask(telegram, READER, "/balance")
        assert "today: realised PnL 0" in await _ask(telegram, READER, "/profit")
        assert await _ask(telegram, READER, "/orders") == "open orders: none"
        assert "unknown command" in await _ask(telegram, READER, "/sell")

        # a mutating command runs only once confirmed by the same user, with the right code
        asked = await _ask(telegram, ADMIN_USER, "/pause")
        found = _CONFIRM.search(asked)
        assert found is not None, asked
        code = found.group(1)
        assert await _risk_state(http, bot, tokens["read"]) == "ACTIVE"
        wrong = "1000" if code != "1000" else "1001"
        assert "nothing to confirm" in await _ask(telegram, ADMIN_USER, f"/confirm {wrong}")
        assert "nothing to confirm" in await _ask(telegram, READER, f"/confirm {code}")
        assert await _risk_state(http, bot, tokens["read"]) == "ACTIVE"
        assert "REDUCING" in await _ask(telegram, ADMIN_USER, f"/confirm {code}")
        assert await _risk_state(http, bot, tokens["read"]) == "REDUCING"
        assert "nothing to confirm" in await _ask(telegram, ADMIN_USER, f"/confirm {code}")
        asked = await _ask(telegram, ADMIN_USER, "/resume")
        found = _CONFIRM.search(asked)
        assert found is not None, asked
        assert "ACTIVE" in await _ask(telegram, ADMIN_USER, f"/confirm {found.group(1)}")

        # a trader force-exits a position
        position_id = await _open_position(http, bot, tokens["trade"])
        assert str(position_id) in await _ask(telegram, READER, "/positions")
        asked = await _ask(telegram, TRADER, f"/forceexit {position_id}")
        found = _CONFIRM.search(asked)
        assert found is not None, asked
        done = await _ask(telegram, TRADER, f"/confirm {found.group(1)}")
        assert f"#{position_id} {SYMBOL}: sell" in done

        async def position() -> object:
            return (
                await Client(http, bot, tokens["read"]).call(
                    "GET", f"/api/v1/positions/{position_id}"
                )
            )[1]

        await until(position, lambda p: isinstance(p, dict) and p["status"] == "CLOSED")
        assert "no open position" in await _ask(telegram, TRADER, "/forceexit all")

        async with bot.uow_factory() as uow:
            entries = await uow.audit.recent(limit=100)
        commands = [(e.actor, e.action, e.result) for e in entries if e.action.startswith("tel")]
        assert sorted(commands) == sorted(
            [
                (f"telegram:{READER}", "telegram /pause", "denied"),
                (f"telegram:{TRADER}", "telegram /kill", "denied"),
                (f"telegram:{ADMIN_USER}", "telegram /pause", "ok"),
                (f"telegram:{ADMIN_USER}", "telegram /resume", "ok"),
                (f"telegram:{TRADER}", "telegram /forceexit", "ok"),
            ]
        )
        last_update = max(u["update_id"] for u in telegram.updates)
        replies = len(telegram.sent)

    # a restart resumes after the last update: nothing is answered or run again
    async with make_bot(**overrides) as bot:
        polls_before = len(telegram.offsets)
        await telegram.wait_sent(lambda _: len(telegram.offsets) > polls_before, "a poll")
        assert telegram.offsets[polls_before] == last_update + 1
        await _passed(telegram, last_update)
    assert all("confirm" not in m.text for m in telegram.sent[replies:])


async def _open_position(http: aiohttp.ClientSession, bot: Bot, token: str) -> int:
    await set_price(http, bot, Decimal("3200"))
    status, opened = await Client(http, bot, token).call(
        "POST", "/api/v1/positions", {"symbol": SYMBOL, "quote_amount": "320"}
    )
    assert status == 201, opened
    position_id: int = opened["position"]["id"]
    return position_id
