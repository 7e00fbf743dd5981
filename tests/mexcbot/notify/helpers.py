"""Shared pieces of the notification tests: the settings of a bot with a Telegram chat and a
webhook (both local fakes), an API client, the paper price, and an independent check of the
webhook signature (written from the README's description, not from mexcbot's code)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp

from mexcbot.app import Bot
from mexcbot.notify.kinds import NotificationType
from tests.fixtures.api import api_url, auth, read_until, set_paper_price
from tests.fixtures.telegram import TOKEN, FakeTelegram, WebhookReceiver

CHAT = 777000
ADMIN_USER, TRADER, READER, STRANGER = 1001, 1002, 1003, 666
HOOK_SECRET = "whsec-0123456789-very-secret"
SYMBOL = "ETHUSDT"
T = TypeVar("T")
UNSCHEDULED = (
    NotificationType.STREAM_STALE,
    NotificationType.STREAM_RECOVERED,
    NotificationType.RECONCILIATION_DISCREPANCY,
)


def notify_overrides(telegram: FakeTelegram, receiver: WebhookReceiver, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_base_url": telegram.url,
        "telegram_chat_ids": [CHAT],
        "telegram_users": {ADMIN_USER: "admin", TRADER: "trade", READER: "read"},
        "telegram_poll_timeout": 1,
        # what a test cannot schedule (a stream drop, a reconciliation finding) is off, so each
        # test knows every message to expect
        "telegram_events": {"risk_changed": "silent"} | dict.fromkeys(UNSCHEDULED, "off"),
        "webhooks": [
            {
                "url": receiver.hook_url,
                "secret": HOOK_SECRET,
                "name": "ops",
                "timeout": 2,
                "events": [kind for kind in NotificationType if kind not in UNSCHEDULED],
            }
        ],
        "notify_retry_base": 0.05,
        "notify_retry_max": 0.2,
        "exit_check_interval": 0.05,
    }
    values.update(extra)
    return values


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """``X-Signature`` = "sha256=" + hex HMAC-SHA256(secret, X-Timestamp + "." + body)."""
    timestamp = headers["X-Timestamp"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, digestmod=hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(headers["X-Signature"], f"sha256={expected}")


class Client:
    def __init__(self, http: aiohttp.ClientSession, bot: Bot, token: str) -> None:
        self.http, self.base, self.token = http, api_url(bot), token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(
            method, f"{self.base}{path}", json=body, headers=auth(self.token)
        ) as response:
            text = await response.text()
            return response.status, (await response.json()) if text else None

    async def raw(self, method: str, path: str) -> tuple[int, str]:
        async with self.http.request(
            method, f"{self.base}{path}", headers=auth(self.token)
        ) as response:
            return response.status, await response.text()


async def set_price(http: aiohttp.ClientSession, bot: Bot, price: Decimal) -> None:
    """Move the paper price of SYMBOL through the simulator's admin API."""
    await set_paper_price(http, bot, SYMBOL, str(price))


async def until(read: Callable[[], Awaitable[T]], check: Callable[[T], bool]) -> T:
    return await read_until(read, check, within_s=15)
