"""The command poller: long-polls ``getUpdates`` and answers allowed users' commands.

The update offset is stored (``notification_state``) before a command runs, so a restart never
runs a command twice (at most once: a crash in between loses that command, which the user sees
as no answer). A message from a user not in ``MEXCBOT_TELEGRAM_USERS`` gets no answer and does
nothing; only its user id is logged. A Bot API that is down makes the poller wait and retry with
backoff; nothing else waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from mexcbot.domain.tokens import TokenRole
from mexcbot.notify.delivery import Backoff
from mexcbot.notify.outbox import Outbox
from mexcbot.notify.telegram.client import TelegramClient, TelegramError
from mexcbot.notify.telegram.commands import RemoteControl

log = logging.getLogger(__name__)

OFFSET_STATE = "telegram_update_offset"
#: Longest wait between polls while the Bot API fails: commands work again soon after it is back.
POLL_RETRY_CAP_S = 30.0


class CommandPoller:
    def __init__(
        self,
        client: TelegramClient,
        control: RemoteControl,
        users: Mapping[int, TokenRole],
        outbox: Outbox,
        *,
        poll_timeout: float,
        backoff: Backoff,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._control = control
        self._users = dict(users)
        self._outbox = outbox
        self._poll_timeout = poll_timeout
        self._backoff = backoff
        self._clock = clock
        self.polls = 0
        """Successful getUpdates calls (tests wait on it)."""

    async def run(self) -> None:
        offset = await self._load_offset()
        failures = 0
        while True:
            try:
                updates = await self._client.get_updates(offset, self._poll_timeout)
            except TelegramError as exc:
                failures += 1
                delay = min(self._backoff.delay(failures), POLL_RETRY_CAP_S)
                delay = max(delay, exc.retry_after or 0.0)
                log.warning("telegram getUpdates failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.polls += 1
            for update in sorted(updates, key=lambda u: int(u.get("update_id", 0))):
                update_id = update.get("update_id")
                if not isinstance(update_id, int) or update_id < offset:
                    continue
                offset = update_id + 1
                await self._save_offset(offset)
                await self._handle(update)

    async def _load_offset(self) -> int:
        while True:
            try:
                stored = await self._outbox.state(OFFSET_STATE)
                return int(stored) if stored else 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("telegram offset unreadable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._backoff.base)

    async def _save_offset(self, offset: int) -> None:
        while True:
            try:
                await self._outbox.set_state(OFFSET_STATE, str(offset), self._clock())
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("telegram offset not stored (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._backoff.base)

    async def _handle(self, update: dict[str, Any]) -> None:
        message = update.get("message")
        if not isinstance(message, dict):
            return
        sender = message.get("from")
        chat = message.get("chat")
        text = message.get("text")
        if not isinstance(sender, dict) or not isinstance(chat, dict) or not isinstance(text, str):
            return
        user, chat_id = sender.get("id"), chat.get("id")
        if not isinstance(user, int) or not isinstance(chat_id, int):
            return
        role = self._users.get(user)
        if role is None:
            log.info("telegram message from user %s ignored: not in MEXCBOT_TELEGRAM_USERS", user)
            return
        try:
            reply = await self._control.handle(user, role, text)
        except Exception as exc:
            log.exception("telegram command from user %s failed", user)
            reply = f"the command failed ({type(exc).__name__})"
        if reply is None:
            return
        try:
            await self._client.send_message(chat_id, reply)
        except TelegramError as exc:
            log.warning("telegram reply to user %s not sent: %s", user, exc)
