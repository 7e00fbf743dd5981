"""The API's HTTP protocol sends a response's head in the same write as its body (one TCP
segment, one wake-up of the client), and never holds anything else back."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from mexcbot.api.http_protocol import _HeadWithBody


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _wrapped() -> tuple[_HeadWithBody, RecordingTransport, Any]:
    transport = RecordingTransport()
    cycle = SimpleNamespace(response_started=False)
    wrapper = _HeadWithBody(cast(asyncio.Transport, transport), cast(Any, cycle))
    return wrapper, transport, cycle


def test_the_head_goes_out_with_the_first_body_write() -> None:
    wrapper, transport, cycle = _wrapped()
    wrapper.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: at once
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle.response_started = True
    wrapper.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
    assert len(transport.writes) == 1  # the head waits for the body
    wrapper.write(b"{}")
    wrapper.write(b"more")  # a later chunk passes at once
    assert transport.writes[1:] == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}", b"more"]
    assert wrapper.is_closing() is False  # everything else is the transport's


def test_closing_sends_a_head_still_held() -> None:
    wrapper, transport, cycle = _wrapped()
    cycle.response_started = True
    wrapper.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    wrapper.close()
    assert transport.writes == [b"HTTP/1.1 500 Internal Server Error\r\n\r\n"]
    assert transport.closed
