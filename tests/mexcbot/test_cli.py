"""`mexcbot` as a user runs it: subprocesses in a temp working directory, real HTTP."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.api import bot_env, run_cli, start_bot_process

#: A limit buy far below the market: it rests on the paper book.
RESTING_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "30000",
}


def _request(url: str, token: str, body: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_run_paper_mode_places_an_order_and_stops_on_sigterm(tmp_path: Path) -> None:
    with start_bot_process(tmp_path) as bot:
        output = "\n".join(bot.lines)
        assert "PAPER mode" in output
        assert f"docs: {bot.base_url}/docs" in output
        assert f"dashboard: {bot.base_url}/" in output
        token = bot.printed_token
        assert token is not None
        status, order = _request(
            f"{bot.base_url}/api/v1/trades/orders",
            token,
            RESTING_BUY,
        )
        assert status == 201
        assert order["status"] == "NEW"
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(timeout=15) == 0
    assert (tmp_path / "mexcbot.db").exists()

    assert (tmp_path / "mexcbot-paper.json").exists()

    # second run on the same database and paper exchange: no new admin token, and the order is
    # still open on the paper exchange (the paper account survives restarts, even a SIGKILL)
    with start_bot_process(tmp_path) as again:
        assert again.printed_token is None
        status, page = _request(f"{again.base_url}/api/v1/trades/orders", token)
        assert [o["client_order_id"] for o in page["orders"]] == [order["client_order_id"]]
        assert page["orders"][0]["status"] == "NEW"
        again.process.kill()
        again.process.wait(timeout=15)

    with start_bot_process(tmp_path) as third:
        status, refreshed = _request(
            f"{third.base_url}/api/v1/trades/orders/BTCUSDT/{order['client_order_id']}", token
        )
        assert refreshed["status"] == "NEW"
        assert refreshed["exchange_order_id"] == order["exchange_order_id"]


def test_keys_without_live_flag_refuse_to_start(tmp_path: Path) -> None:
    env = bot_env(MEXC_API_KEY="k" * 16, MEXC_API_SECRET="s" * 32)
    result = run_cli(tmp_path, "run", "--port", "0", env=env)
    assert result.returncode == 2
    assert "--live" in result.stderr
    assert "s" * 32 not in result.stderr + result.stdout


def test_live_without_keys_refuses_to_start(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", "--live", "--port", "0")
    assert result.returncode == 2
    assert "MEXC_API_KEY" in result.stderr


def test_invalid_setting_names_the_setting(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "run", env=bot_env(MEXCBOT_API_PORT="99999"))
    assert result.returncode == 2
    assert "api_port" in result.stderr


def test_token_create_list_revoke(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"
    env = bot_env(MEXCBOT_DATABASE_URL=db)
    created = run_cli(tmp_path, "token", "create", "--role", "trade", "--name", "ci", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("mxb_")
    assert token not in created.stderr

    listed = run_cli(tmp_path, "token", "list", env=env)
    assert "ci\ttrade\tactive" in listed.stdout
    assert token not in listed.stdout

    duplicate = run_cli(tmp_path, "token", "create", "--role", "read", "--name", "ci", env=env)
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr

    assert run_cli(tmp_path, "token", "revoke", "ci", env=env).returncode == 0
    assert "ci\ttrade\trevoked" in run_cli(tmp_path, "token", "list", env=env).stdout
    assert run_cli(tmp_path, "token", "revoke", "ci", env=env).returncode == 1
    assert not (tmp_path / "mexcbot.db").exists()  # MEXCBOT_DATABASE_URL was honoured


@pytest.mark.parametrize("name", ["two words", "line\nbreak", "../x", "naïve", ""])
def test_token_names_follow_the_api_rule(tmp_path: Path, name: str) -> None:
    """The CLI refuses what the API refuses, so every token can be listed and revoked."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'tokens.db'}"
    env = bot_env(MEXCBOT_DATABASE_URL=db)
    refused = run_cli(tmp_path, "token", "create", "--role", "read", "--name", name, env=env)
    assert refused.returncode == 2, refused.stdout
    assert "name must be" in refused.stderr
    assert "no tokens" in run_cli(tmp_path, "token", "list", env=env).stdout


def test_db_upgrade(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "mexcbot.db").exists()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "run", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def _status(url: str, token: str) -> int:
    try:
        return _request(url, token)[0]
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_cli_beside_a_running_bot_shares_its_database(tmp_path: Path) -> None:
    """`mexcbot token create/revoke` while the bot runs: the revocation reaches the bot within
    2 s, and the bot's own writes after it still reach the database (a kill -9 and a restart
    find the order as the bot's, not as an external one imported from the exchange). The bot
    once dropped its SQLite locks by opening and closing the file for its second engine, so the
    CLI's exit deleted the WAL the bot was still writing to."""
    with start_bot_process(tmp_path) as bot:
        admin = bot.printed_token
        assert admin is not None
        created = run_cli(tmp_path, "token", "create", "--role", "read", "--name", "beside")
        assert created.returncode == 0, created.stderr
        reader = created.stdout.strip().splitlines()[-1]
        whoami = f"{bot.base_url}/api/v1/auth/whoami"
        assert _status(whoami, reader) == 200
        assert run_cli(tmp_path, "token", "revoke", "beside").returncode == 0
        deadline = time.monotonic() + 3.0
        while _status(whoami, reader) == 200:
            assert time.monotonic() < deadline, "the CLI's revocation never reached the bot"
            time.sleep(0.1)
        assert _status(whoami, reader) == 401
        status, order = _request(
            f"{bot.base_url}/api/v1/trades/orders",
            admin,
            RESTING_BUY,
        )
        assert status == 201
        bot.process.kill()
        bot.process.wait(timeout=15)
    listed = run_cli(tmp_path, "token", "list").stdout
    assert "beside\tread\trevoked" in listed
    with start_bot_process(tmp_path) as again:
        url = f"{again.base_url}/api/v1/trades/orders/BTCUSDT/{order['client_order_id']}"
        status, found = _request(url, admin)
        assert (found["origin"], found["is_external"]) == ("USER", False)
        again.process.kill()
        again.process.wait(timeout=15)
