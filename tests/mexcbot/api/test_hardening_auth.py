"""What an unauthenticated or refused client can cost and leave behind: the per-address limit on
failed authentication, unknown tokens that cost no lookup, an audit log that stores no client
text, and a database file only its owner can read."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mexcbot.api import auth as auth_module
from mexcbot.app import Bot
from mexcbot.store.tokens import TokenRepository
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for

STATUS = "/api/v1/status"


async def _status(http: aiohttp.ClientSession, bot: Bot, token: str) -> aiohttp.ClientResponse:
    async with http.get(f"{api_url(bot)}{STATUS}", headers=auth(token)) as response:
        await response.read()
        return response


async def test_an_address_with_too_many_failed_authentications_gets_429(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_auth_failure_limit=5, api_auth_failure_window=60) as bot:
        tokens = await tokens_for(bot)
        statuses = [(await _status(http, bot, f"mxb_guess-{i}")).status for i in range(5)]
        assert statuses == [401] * 5
        refused = await _status(http, bot, "mxb_guess-6")
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        async with http.post(
            f"{api_url(bot)}/api/v1/trades/orders", data=b"x" * 100_000
        ) as response:
            problem = await response.json(content_type=None)
            assert (response.status, problem["field"]) == (429, "Authorization")
            assert problem["code"] == "too_many_failed_authentications"
        # The address is refused as a whole until its window ends, a valid token included.
        assert (await _status(http, bot, tokens["read"])).status == 429


async def test_an_unknown_token_costs_one_lookup_and_new_tokens_work_at_once(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    original = TokenRepository.get_by_hash

    async def counted(self: TokenRepository, token_hash: str) -> Any:
        lookups.append(token_hash)
        return await original(self, token_hash)

    monkeypatch.setattr(TokenRepository, "get_by_hash", counted)
    for _ in range(50):
        assert (await _status(http, bot, "mxb_the-same-bad-token")).status == 401
    assert len(lookups) == 1

    base = f"{api_url(bot)}/api/v1/admin/tokens"
    body = {"name": "late", "role": "read"}
    async with http.post(base, json=body, headers=auth(tokens["admin"])) as response:
        created = (await response.json())["token"]
    assert (await _status(http, bot, created)).status == 200
    async with http.delete(f"{base}/late", headers=auth(tokens["admin"])) as response:
        assert response.status == 200
    assert (await _status(http, bot, created)).status == 401  # revoked: refused at once


async def test_concurrent_requests_with_one_token_share_one_lookup(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.api.state.ctx.authority.forget()  # nothing cached: every request below needs the token
    # on a loaded box the 200 answers may take longer than the cache lifetimes: not this test's
    monkeypatch.setattr(auth_module, "REFRESH_AHEAD_SECONDS", 60.0)
    monkeypatch.setattr(auth_module, "CACHE_SECONDS", 120.0)
    lookups: list[str] = []
    original = TokenRepository.get_by_hash

    async def counted(self: TokenRepository, token_hash: str) -> Any:
        lookups.append(token_hash)
        return await original(self, token_hash)

    monkeypatch.setattr(TokenRepository, "get_by_hash", counted)
    answers = await asyncio.gather(*(_status(http, bot, tokens["read"]) for _ in range(200)))
    assert [r.status for r in answers] == [200] * 200
    assert len(lookups) == 1


async def test_a_refused_request_leaves_no_client_text_in_the_audit_log(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    hostile = "%1B%5B31mEVIL%0Aforged%20entry%E2%80%AEtxt.exe"
    url = f"{api_url(bot)}/api/v1/trades/orders/BTCUSDT/{hostile}"
    async with http.delete(url, headers=auth(tokens["read"])) as response:
        assert response.status == 403
    async with http.get(
        f"{api_url(bot)}/api/v1/admin/audit", headers=auth(tokens["admin"])
    ) as response:
        entries = await response.json()
    refused = [e for e in entries if e["actor"] == "test-read"]
    assert refused, entries
    entry = refused[0]
    assert entry["target"] == "/api/v1/trades/orders/{symbol}/{orderId}"
    assert entry["result"] == "failed:403"
    for text in (str(value) for e in entries for value in e.values()):
        assert "EVIL" not in text
        assert not any(ch in text for ch in ("\x1b", "\n", "\u202e"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_and_its_wal_files_are_owner_only(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with make_bot() as bot:
        await tokens_for(bot)  # some writes, so the WAL is in use
        files = [database, tmp_path / "bot.db-wal", tmp_path / "bot.db-shm"]
        assert all(path.exists() for path in files)
        assert {path.name: _mode(path) for path in files} == {p.name: 0o600 for p in files}
    database.chmod(0o644)  # a database from before: made owner-only at the next start
    async with make_bot():
        assert _mode(database) == 0o600
