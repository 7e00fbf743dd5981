"""SimServer's life cycle, its market clock, and the ``python -m mexcsim`` command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from mexcsim import SimConfig, SimServer
from mexcsim.http.command_line import parse_args
from tests.fixtures.sim import SIM_API_KEY, auth_headers, signed_url, start_sim_process

SRC = str(Path(__file__).resolve().parents[3] / "src")


async def test_url_is_known_only_after_start() -> None:
    server = SimServer(SimConfig(tick_interval=0.05))
    with pytest.raises(RuntimeError):
        _ = server.url
    async with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert not server.url.endswith(":0")
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/api/v3/ping") as r:
            assert r.status == 200
    # stopped: nothing listens any more
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{server.url}/api/v3/ping")


def test_key_and_secret_go_together() -> None:
    with pytest.raises(ValueError, match="together"):
        SimServer(SimConfig(api_key="k"))


async def test_configured_account_exists_with_default_funding(sim: SimServer) -> None:
    balances = sim.exchange.balances(SIM_API_KEY)
    assert balances["USDT"][0] > 0
    async with aiohttp.ClientSession() as http:
        url = signed_url(sim.url, "/api/v3/account")
        async with http.get(url, headers=auth_headers()) as response:
            assert response.status == 200


async def test_market_clock_advances_the_exchange(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{sim.url}/api/v3/depth?symbol=BTCUSDT&limit=5"
        async with http.get(url) as response:
            first = (await response.json())["lastUpdateId"]
        await asyncio.sleep(sim.config.tick_interval * 4)
        async with http.get(url) as response:
            later = (await response.json())["lastUpdateId"]
    assert later > first


def test_cli_arguments() -> None:
    config = parse_args(
        ["--port", "0", "--api-key", "k", "--api-secret", "s", "--seed", "7", "--no-rate-limits"]
    )
    assert config == SimConfig(
        port=0, api_key="k", api_secret="s", seed=7, rate_limits=False, tick_interval=0.25
    )
    assert parse_args([]).port == 18080
    for bad in (["--api-key", "k"], ["--tick-interval", "0"], ["--port", "70000"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_cli_prints_url_admin_url_and_key_never_the_secret() -> None:
    env = dict(os.environ, PYTHONPATH=SRC, PYTHONUNBUFFERED="1")
    command = [
        sys.executable,
        "-m",
        "mexcsim",
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--api-secret",
        "cli-very-secret",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("mexcsim listening on http://127.0.0.1:")
        url = lines[0].split()[-1]
        assert lines[1].strip() == f"mexcsim admin API at {url}/_sim"
        assert "cli-key" in lines[2]
        with urllib.request.urlopen(f"{url}/_sim/health", timeout=5) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "cli-very-secret" not in "".join(lines) + out + err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_start_sim_process_answers_ping_and_signed_requests() -> None:
    with start_sim_process(
        api_key=SIM_API_KEY, api_secret="test-api-secret", no_rate_limits=True
    ) as url:
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=5) as response:
            assert json.loads(response.read()) == {}
        request = urllib.request.Request(
            str(signed_url(url, "/api/v3/account")), headers=auth_headers()
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert "balances" in json.loads(response.read())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/api/v3/ping", timeout=1)
