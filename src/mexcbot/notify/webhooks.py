"""Signed webhooks: each outbox entry POSTed as JSON to the webhook's URL.

The body is ``{"event_id", "type", "time", "text", "data", "silent"}``. Two headers let the
receiver check it came from this bot and is fresh: ``X-Timestamp`` (Unix seconds) and
``X-Signature: sha256=<hex>``, the HMAC-SHA256 with the webhook's secret of
``<X-Timestamp>.<body bytes>``. The same event id arrives again only when an earlier delivery's
answer was lost: receivers de-duplicate on it. Any 2xx is delivered; 4xx other than 408/429 is
permanent (retrying the same body cannot help); everything else is retried by the delivery loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from mexcbot.config import WebhookSettings
from mexcbot.notify.delivery import DeliveryError
from mexcbot.notify.outbox import OutboxEntry

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
_RETRIABLE_4XX = frozenset({408, 425, 429})


def webhook_channel_name(hook: WebhookSettings, position: int) -> str:
    """``webhook:<name>``, or ``webhook:<position>`` (from 1) for an unnamed one."""
    return f"webhook:{hook.name or position}"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Signature`` value of `body` sent at `timestamp`."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_body(entry: OutboxEntry) -> bytes:
    payload: dict[str, Any] = {
        "event_id": entry.event_id,
        "type": str(entry.type),
        "time": entry.created_at.isoformat(),
        "text": entry.text,
        "data": entry.data,
        "silent": entry.silent,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class WebhookChannel:
    """One configured webhook; the session is shared by all webhooks and closed by the owner."""

    def __init__(
        self,
        hook: WebhookSettings,
        position: int,
        session: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._hook = hook
        self._secret = hook.secret.get_secret_value().encode("utf-8")
        self._session = session
        self._clock = clock
        self.name = webhook_channel_name(hook, position)
        self.max_attempts = hook.max_attempts

    async def send(self, entry: OutboxEntry) -> None:
        body = webhook_body(entry)
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            "User-Agent": "mexcbot-webhooks",
        }
        timeout = aiohttp.ClientTimeout(total=self._hook.timeout)
        try:
            async with self._session().post(
                self._hook.url, data=body, headers=headers, timeout=timeout
            ) as response:
                status = response.status
        except TimeoutError:
            raise DeliveryError(f"no answer within {self._hook.timeout} s") from None
        except aiohttp.ClientError as exc:
            # the exception's text may hold the URL, which may hold a credential: name the type
            raise DeliveryError(f"connection failed ({type(exc).__name__})") from None
        if 200 <= status < 300:
            return
        permanent = 400 <= status < 500 and status not in _RETRIABLE_4XX
        raise DeliveryError(f"the webhook answered HTTP {status}", permanent=permanent)
