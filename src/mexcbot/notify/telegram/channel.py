"""One Telegram chat as a notification channel (``telegram:<chat id>``)."""

from __future__ import annotations

from mexcbot.notify.delivery import DeliveryError
from mexcbot.notify.outbox import OutboxEntry
from mexcbot.notify.telegram.client import TelegramClient, TelegramError


def telegram_channel_name(chat_id: int) -> str:
    return f"telegram:{chat_id}"


class TelegramChannel:
    max_attempts: int | None = None

    def __init__(self, client: TelegramClient, chat_id: int) -> None:
        self._client = client
        self._chat_id = chat_id
        self.name = telegram_channel_name(chat_id)

    async def send(self, entry: OutboxEntry) -> None:
        try:
            await self._client.send_message(self._chat_id, entry.text, silent=entry.silent)
        except TelegramError as exc:
            raise DeliveryError(
                str(exc), permanent=exc.permanent, retry_after=exc.retry_after
            ) from None
