"""The live API's door: who may connect, how, and what keeps a connection alive or ends it."""

from __future__ import annotations

import asyncio
import io
import logging

import aiohttp
import pytest

from mexcbot.api import live_topics
from mexcbot.app import Bot
from mexcbot.config import LogFormat
from mexcbot.store import TokenRole
from mexcbot.telemetry import configure_logging
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for
from tests.fixtures.live import closing, connect, next_message, receive, signed_in, subscribe

READABLE = [
    "orders",
    "fills",
    "balances",
    "tickers",
    "streams",
    "reconciliation",
    "positions",
    "risk",
    "listings",
    "autobuy",
]


async def test_a_token_in_the_header_authenticates(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with await connect(http, bot, tokens["read"]) as ws:
        welcome = await receive(ws)
        assert welcome["type"] == "authenticated"
        assert welcome["data"] == {"name": "test-read", "role": "read", "topics": READABLE}
        assert set(welcome) == {"type", "topic", "seq", "ts", "data"}
        assert isinstance(welcome["seq"], int)
        assert tokens["read"] not in str(welcome)


async def test_a_first_auth_message_authenticates(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with await connect(http, bot) as ws:
        await ws.send_json({"type": "auth", "token": tokens["trade"]})
        welcome = await receive(ws)
        assert welcome["type"] == "authenticated"
        assert welcome["data"]["role"] == "trade"
        await subscribe(ws, "reconciliation")
        snapshot = await next_message(ws, "snapshot", "reconciliation")
        assert snapshot["data"]["runs"] >= 1


@pytest.mark.parametrize("query", ["?token={token}", "?access_token={token}", "?x={token}"])
async def test_a_token_in_the_url_is_refused_even_when_valid_and_never_logged(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, query: str
) -> None:
    stream = io.StringIO()
    handler = configure_logging(LogFormat.JSON, "DEBUG", stream=stream)
    try:
        async with await connect(http, bot, query=query.format(token=tokens["admin"])) as ws:
            error, code = await closing(ws)
    finally:
        logging.getLogger().removeHandler(handler)
    assert code == 4401
    assert error["data"]["code"] == "token_in_url"
    assert "Authorization: Bearer" in error["data"]["message"]
    logs = stream.getvalue()
    assert "/api/v1/ws" in logs  # the server did log the connection (uvicorn: with its query)
    assert tokens["admin"] not in logs


async def test_bad_tokens_get_a_clear_error_then_4401(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with await connect(http, bot, "mxb_not-a-real-token") as ws:
        error, code = await closing(ws)
    assert (code, error["data"]["code"]) == (4401, "invalid_token")

    async with await connect(http, bot, tokens["revoked"]) as ws:
        error, code = await closing(ws)
    assert (code, error["data"]["code"]) == (4401, "token_revoked")

    async with await connect(http, bot) as ws:
        await ws.send_json({"type": "subscribe", "topics": ["orders"]})
        error, code = await closing(ws)
    assert (code, error["data"]["code"]) == (4401, "unauthenticated")
    assert '{"type":"auth","token":"<token>"}' in error["data"]["message"]

    async with await connect(http, bot) as ws:
        await ws.send_str("mxb_not json")
        error, code = await closing(ws)
    assert (code, error["data"]["code"]) == (4401, "unauthenticated")


async def test_a_silent_connection_is_closed_after_the_auth_timeout(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_ws_auth_timeout=0.3) as bot, await connect(http, bot) as ws:
        started = asyncio.get_running_loop().time()
        error, code = await closing(ws)
        waited = asyncio.get_running_loop().time() - started
    assert (code, error["data"]["code"]) == (4401, "auth_timeout")
    assert 0.2 < waited < 3.0


async def test_server_pings_and_answers_client_pings(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_ws_heartbeat=0.2) as bot:
        tokens = await tokens_for(bot)
        async with signed_in(http, bot, tokens["read"]) as ws:
            ping = await next_message(ws, "ping", within=2.0)
            assert ping["seq"] == bot_feed_seq(bot)
            await ws.send_json({"type": "ping"})
            assert (await next_message(ws, "pong"))["type"] == "pong"


async def test_a_token_revoked_while_connected_is_closed_at_the_next_heartbeat(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_ws_heartbeat=0.2) as bot:
        tokens = await tokens_for(bot)
        async with signed_in(http, bot, tokens["read"]) as ws:
            await bot.tokens.revoke("test-read", actor="test")
            error, code = await closing(ws)
    assert (code, error["data"]["code"]) == (4401, "token_revoked")


async def test_unknown_topics_and_messages_are_errors_that_keep_the_connection(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with signed_in(http, bot, tokens["read"]) as ws:
        for request, code in (
            ({"type": "subscribe", "topics": ["orderz"]}, "unknown_topic"),
            ({"type": "subscribe", "topics": ["orders:BTCUSDT"]}, "unknown_topic"),
            ({"type": "subscribe", "topics": ["tickers:NOPEUSDT"]}, "unknown_symbol"),
            ({"type": "subscribe", "topics": []}, "invalid_topics"),
            ({"type": "resume", "since": "12"}, "invalid_since"),
            ({"type": "dance"}, "unknown_type"),
        ):
            await ws.send_json(request)
            error = await next_message(ws, "error")
            assert error["data"]["code"] == code, request
        await ws.send_str("not json")
        assert (await next_message(ws, "error"))["data"]["code"] == "invalid_message"
        await ws.send_json({"type": "ping"})
        await next_message(ws, "pong")


async def test_a_topic_above_the_tokens_role_closes_with_4403(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No topic is admin-only yet: add one to the role table, the one place that decides.
    monkeypatch.setitem(live_topics.TOPIC_ROLES, "audit", TokenRole.ADMIN)
    async with signed_in(http, bot, tokens["admin"]) as ws:
        await ws.send_json({"type": "subscribe", "topics": ["audit"]})
        assert (await next_message(ws, "subscribed"))["data"]["topics"] == ["audit"]
    async with await connect(http, bot, tokens["read"]) as ws:
        welcome = await next_message(ws, "authenticated")
        assert "audit" not in welcome["data"]["topics"]
        await ws.send_json({"type": "subscribe", "topics": ["orders", "audit"]})
        error, code = await closing(ws)
    assert (code, error["data"]["code"]) == (4403, "forbidden")


def bot_feed_seq(bot: Bot) -> int:
    ctx = bot.api.state.ctx
    seq: int = ctx.live.seq
    return seq


async def test_failed_authentications_count_against_the_address_for_http_too(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_auth_failure_limit=2) as bot:
        tokens = await tokens_for(bot)
        for _ in range(2):
            async with await connect(http, bot, "mxb_guess") as ws:
                assert (await closing(ws))[1] == 4401
        async with await connect(http, bot, tokens["read"]) as ws:
            error, code = await closing(ws)
        assert (code, error["data"]["code"]) == (4429, "too_many_failed_authentications")
        async with http.get(f"{api_url(bot)}/api/v1/status", headers=auth(tokens["read"])) as r:
            assert r.status == 429
