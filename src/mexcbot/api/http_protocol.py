"""uvicorn's httptools protocol with a bound on the request head (request line + headers).

httptools, which uvicorn uses for speed (see pyproject.toml), has no limit of its own on a
request's head: uvicorn would buffer headers of any size, and wait for them forever. This
subclass counts the bytes received while a head is incomplete, and measures a complete head;
past ``max_head_bytes`` it answers 431 and closes the connection, and a head not complete within
``head_timeout`` seconds of its first byte is answered 408 and closed. Bodies are bounded by the
request gate (api/gate.py).

An answer that closes the connection while the request's body is still arriving (the gate's 413
for a body over the limit) closes it gracefully: the answer is followed by a FIN, what the client
goes on sending is read and dropped for `LINGER_S`, then the socket closes. Closed at once, the
unread bytes made the kernel reset the connection, and a client still writing could lose the 413
it had been sent (RFC 9112, 9.6).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from mexcbot.api.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE

_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}
LINGER_S = 1.0
"""How long a connection closed before its request's body ended keeps reading (and dropping)."""


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


class _HeadWithBody:
    """A request's transport that sends the response head together with the first body chunk.

    uvicorn writes the status line and headers when the app sends ``http.response.start`` and
    the body when it sends ``http.response.body``: two writes, so two TCP segments (Nagle is
    off) and two wake-ups of the client, which reads the head, then waits for the body. Every
    API answer is one start and one body sent back to back, so this holds the head (the first
    write after the response started) until the body's first write and sends both at once.
    Writes before the response started (``100 Continue``) pass at once; closing sends a head
    that is still held. uvicorn writes a body for every response but HEAD (even an empty one),
    so HEAD requests are not wrapped. Measured: see benchmarks/api_orders.py's docstring.
    """

    __slots__ = ("_cycle", "_head", "_head_seen", "_stop_parsing", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        cycle: RequestResponseCycle,
        stop_parsing: Callable[[], None],
    ) -> None:
        self._transport = transport
        self._cycle = cycle
        self._stop_parsing = stop_parsing
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._head_seen and self._cycle.response_started:
            self._head_seen = True
            self._head = bytes(data)
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)
        transport = self._transport
        if self._cycle.more_body and transport.can_write_eof() and not transport.is_closing():
            self._stop_parsing()  # the rest of the body is read and dropped
            transport.write_eof()  # the answer, then a FIN
            asyncio.get_running_loop().call_later(LINGER_S, transport.close)
            return
        transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


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
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        # a new request (not an upgrade); its ASGI task is only scheduled yet, so every write
        # goes through the wrapper. HEAD responses are left alone: uvicorn writes no body.
        if cycle is not None and cycle is not previous and cycle.scope["method"] != "HEAD":
            cycle.transport = cast(
                asyncio.Transport, _HeadWithBody(cycle.transport, cycle, self._drop_input)
            )

    def _drop_input(self) -> None:
        """Read on, but drop what arrives (the connection is closing: `_HeadWithBody.close`)."""
        self._refused = True
        self.flow.resume_reading()

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
