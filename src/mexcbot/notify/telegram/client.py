"""A minimal Telegram Bot API client: ``getUpdates`` and ``sendMessage`` over HTTPS.

The base URL is configurable (``MEXCBOT_TELEGRAM_BASE_URL``: a Bot API server of one's own, or
the tests' local fake). Every request URL holds the bot token (``/bot<token>/<method>``), so no
error raised here carries a URL or an exception's text that could: only the method, the HTTP
status and Telegram's own description.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import SecretStr

#: Telegram refuses longer messages.
MAX_MESSAGE_CHARS = 4096


class TelegramError(Exception):
    """A Bot API call failed; `permanent` when repeating it cannot help (400, 403)."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def _clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 2] + " …"


class TelegramClient:
    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        session: Callable[[], aiohttp.ClientSession],
        *,
        timeout: float = 10.0,
    ) -> None:
        self._base = f"{base_url.rstrip('/')}/bot{token.get_secret_value()}"
        self._session = session
        self._timeout = timeout

    async def call(self, method: str, payload: dict[str, Any], wait_s: float | None = None) -> Any:
        """The ``result`` of Bot API `method` (answered within `wait_s`), or `TelegramError`."""
        limit = aiohttp.ClientTimeout(total=wait_s or self._timeout)
        try:
            async with self._session().post(
                f"{self._base}/{method}", json=payload, timeout=limit
            ) as response:
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    answer = None
        except TimeoutError:
            raise TelegramError(f"{method}: no answer within {limit.total} s") from None
        except aiohttp.ClientError as exc:
            raise TelegramError(f"{method}: connection failed ({type(exc).__name__})") from None
        if isinstance(answer, dict) and answer.get("ok") is True:
            return answer.get("result")
        description = answer.get("description") if isinstance(answer, dict) else None
        parameters = answer.get("parameters") if isinstance(answer, dict) else None
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        code = answer.get("error_code", status) if isinstance(answer, dict) else status
        permanent = code in (400, 403, 404)
        raise TelegramError(
            f"{method}: HTTP {status}" + (f" ({description})" if description else ""),
            permanent=permanent,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        )

    async def send_message(self, chat_id: int, text: str, *, silent: bool = False) -> None:
        await self.call(
            "sendMessage",
            {"chat_id": chat_id, "text": _clip(text), "disable_notification": silent},
        )

    async def get_updates(self, offset: int, poll_s: float) -> list[dict[str, Any]]:
        """Updates from `offset` on, waiting up to `poll_s` seconds for one (long polling)."""
        result = await self.call(
            "getUpdates",
            {"offset": offset, "timeout": int(poll_s), "allowed_updates": ["message"]},
            wait_s=poll_s + 10.0,
        )
        if not isinstance(result, list):
            raise TelegramError("getUpdates: the result is not a list")
        return [update for update in result if isinstance(update, dict)]
