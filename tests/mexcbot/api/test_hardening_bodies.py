"""Request bodies and heads cost bounded memory and time, and a token is checked before any body
is read: over real sockets, with requests a well-behaved client would not send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp

from mexcbot.app import Bot
from tests.fixtures.api import MakeBot, api_url, auth
from tests.mexcbot.api.rawhttp import RawResponse, head, open_raw, read_response

ORDERS = "/api/v1/trades/orders"
MAX_BODY = 256 * 1024  # the api_max_body_bytes default


async def _exchange(bot: Bot, request: bytes, *, half_close: bool = False) -> RawResponse:
    reader, writer = await open_raw(api_url(bot))
    try:
        writer.write(request)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(read_response(reader), timeout=5)
    finally:
        writer.close()


def _problem(response: RawResponse, status: int, field: str) -> dict[str, Any]:
    assert response.status == status, response
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["field"] == field
    return problem


async def test_a_huge_body_without_a_token_is_401_before_it_is_read(bot: Bot) -> None:
    announced = head(
        "POST", ORDERS, {"Content-Type": "application/json", "Content-Length": "100000000"}
    )
    response = await _exchange(bot, announced + b'{"symbol": "' + b"A" * 65536)
    problem = _problem(response, 401, "Authorization")
    assert problem["code"] == "unauthenticated"
    assert response.headers["connection"] == "close"  # the rest of the body is not drained


async def test_a_truncated_body_without_a_token_is_401_not_422(bot: Bot) -> None:
    request = head("POST", ORDERS, {"Content-Type": "application/json", "Content-Length": "100"})
    response = await _exchange(bot, request + b'{"symbol": "BT', half_close=True)
    assert _problem(response, 401, "Authorization")["code"] == "unauthenticated"


async def test_a_body_announced_over_the_limit_is_413_at_once(
    bot: Bot, tokens: dict[str, str]
) -> None:
    request = head(
        "POST",
        ORDERS,
        {**auth(tokens["trade"]), "Content-Type": "application/json", "Content-Length": "262145"},
    )
    started = time.perf_counter()
    response = await _exchange(bot, request)  # not a byte of the body is sent
    assert time.perf_counter() - started < 2
    problem = _problem(response, 413, "body")
    assert problem["code"] == "body_too_large"
    assert str(MAX_BODY) in problem["detail"]


async def test_a_streamed_body_is_413_as_soon_as_it_passes_the_limit(
    bot: Bot, tokens: dict[str, str]
) -> None:
    reader, writer = await open_raw(api_url(bot))
    request = head(
        "POST",
        ORDERS,
        {
            **auth(tokens["trade"]),
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    writer.write(request)
    chunk = b"x" * 16384
    answer = asyncio.create_task(read_response(reader))
    sent = 0
    try:
        while not answer.done() and sent < 64 * MAX_BODY:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            await asyncio.sleep(0)
        response = await asyncio.wait_for(answer, timeout=5)
    finally:
        writer.close()
    assert _problem(response, 413, "body")["code"] == "body_too_large"
    # The body never ended (no last chunk was sent): answered while it was still coming, after
    # what the socket buffers hold on loopback (a few MB), long before the sender's 16 MB cap.
    assert sent < 64 * MAX_BODY


async def test_a_slow_body_is_408(make_bot: MakeBot) -> None:
    async with make_bot(api_body_timeout=0.5) as bot:
        from tests.fixtures.api import tokens_for

        tokens = await tokens_for(bot)
        request = head(
            "POST",
            ORDERS,
            {**auth(tokens["trade"]), "Content-Type": "application/json", "Content-Length": "50"},
        )
        started = time.perf_counter()
        response = await _exchange(bot, request + b'{"symbol": ')
        assert time.perf_counter() - started < 3
        assert _problem(response, 408, "body")["code"] == "body_timeout"


async def test_a_head_over_the_limit_is_431(bot: Bot) -> None:
    request = head("GET", "/health", {"X-Padding": "p" * 20_000})
    response = await _exchange(bot, request)
    assert _problem(response, 431, "headers")["code"] == "headers_too_large"


async def test_a_head_that_never_ends_is_408(make_bot: MakeBot) -> None:
    async with make_bot(api_body_timeout=0.5) as bot:
        started = time.perf_counter()
        response = await _exchange(bot, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n")
        assert time.perf_counter() - started < 3
        assert _problem(response, 408, "headers")["code"] == "headers_timeout"


async def test_a_422_lists_at_most_20_errors_and_counts_them(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    body = {f"extra{i}": i for i in range(5000)}
    async with http.post(
        f"{api_url(bot)}{ORDERS}", json=body, headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 422
        problem = await response.json(content_type=None)
        raw = await response.read()
    assert len(problem["errors"]) == 20
    assert problem["error_count"] > 5000
    assert f"(and {problem['error_count'] - 1} more)" in problem["detail"]
    assert len(raw) < 10_000


async def _post_raw(
    http: aiohttp.ClientSession, bot: Bot, token: str, data: bytes
) -> tuple[int, str, dict[str, Any]]:
    headers = {**auth(token), "Content-Type": "application/json"}
    async with http.post(f"{api_url(bot)}{ORDERS}", data=data, headers=headers) as response:
        return response.status, response.content_type, json.loads(await response.read())


async def test_unreadable_bodies_are_problems_naming_the_body(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    cases = {
        b'{"symbol": "BTC': 422,  # malformed JSON
        b'{"symbol": "\xff\xfe"}': 400,  # not UTF-8
        b"[" * 100_000: 400,  # nested too deeply
        b'{"quantity": 1' + b"0" * 5000 + b"}": 400,  # an integer too long to read
    }
    for data, expected in cases.items():
        status, content_type, problem = await _post_raw(http, bot, tokens["trade"], data)
        assert (status, content_type) == (expected, "application/problem+json"), data[:20]
        assert problem["field"] == "body", problem
        assert problem["detail"].startswith("body: "), problem
