"""uvicorn's httptools protocol with a bound on the request head (request line + headers).

httptools, which uvicorn uses for speed (see pyproject.toml), has no limit of its own on a
request's head: uvicorn would buffer headers of any size, and wait for them forever. This
subclass counts the bytes received while a head is incomplete, and measures a complete head;
past ``max_head_bytes`` it answers 431 and closes the connection, and a head not complete within
``head_timeout`` seconds of its first byte is answered 408 and closed. Bodies are bounded by the
request gate (api/gate.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mexcbot.api.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE

_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _problem_bytes(status: int, code: str, detail: str, field: str) -> bytes:
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + code,
            "title": _REASONS[status],
            "status": status,
            "detail": detail,
            "code": code,
            "field": field,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _HeadRefused(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = 16 * 1024
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._in_head or not self._head_bytes or self.transport.is_closing():
            return  # no head pending (the usual case: a whole head in one read)
        if self._head_bytes > self.max_head_bytes:
            self._refuse_large_head()
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._end_of_head()
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            self._refuse_large_head()
            raise _HeadRefused  # stops the parser: this request never reaches the app
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # the parser stopped because of _HeadRefused: answered already
            super().send_400_response(msg)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_head()
        super().connection_lost(exc)

    def _end_of_head(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(
                408,
                "headers_timeout",
                f"headers: the request line and headers did not arrive within "
                f"{self.head_timeout:g} seconds",
            )

    def _refuse_large_head(self) -> None:
        self._refuse(
            431,
            "headers_too_large",
            f"headers: the request line and headers are larger than the limit of "
            f"{self.max_head_bytes} bytes",
        )

    def _refuse(self, status: int, code: str, detail: str) -> None:
        self._end_of_head()
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_problem_bytes(status, code, detail, "headers"))
            self.transport.close()


def bounded_httptools(max_head_bytes: int, head_timeout: float) -> type[HttpToolsProtocol]:
    """The protocol class to pass as uvicorn's ``http=``, with these bounds."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout},
    )
