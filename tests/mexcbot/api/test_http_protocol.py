"""The API's HTTP protocol sends a response's head in the same write as its body (one TCP
segment, one wake-up of the client), and never holds anything else back; closing while the
request's body is still arriving half-closes and lingers instead of resetting the connection."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from mexcbot.api import http_protocol
from mexcbot.api.http_protocol import _HeadWithBody


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True


def _wrapped(
    more_body: bool = False, stopped: list[bool] | None = None
) -> tuple[_HeadWithBody, RecordingTransport, Any]:
    transport = RecordingTransport()
    cycle = SimpleNamespace(response_started=False, more_body=more_body)
    stops = stopped if stopped is not None else []
    wrapper = _HeadWithBody(
        cast(asyncio.Transport, transport), cast(Any, cycle), lambda: stops.append(True)
    )
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


async def test_closing_before_the_body_ended_lingers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_protocol, "LINGER_S", 0.05)
    stopped: list[bool] = []
    wrapper, transport, cycle = _wrapped(more_body=True, stopped=stopped)
    cycle.response_started = True
    wrapper.write(b"HTTP/1.1 413 Content Too Large\r\nconnection: close\r\n\r\n")
    wrapper.write(b"{}")
    wrapper.close()
    # the answer, then a FIN; the rest of the body is read and dropped for a while
    assert transport.eof
    assert not transport.closed
    assert stopped == [True]
    await asyncio.sleep(0.2)
    assert transport.closed


def test_closing_after_the_body_ended_closes_at_once() -> None:
    wrapper, transport, _cycle = _wrapped(more_body=False)
    wrapper.close()
    assert transport.closed
    assert not transport.eof
