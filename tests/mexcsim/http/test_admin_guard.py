"""The admin API refuses other sites' pages, tokenless callers (when a token is set), bad bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mexcsim import SimConfig, SimServer
from mexcsim.http.command_line import parse_args
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET

TOKEN = "a-long-enough-admin-token"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def guarded() -> AsyncIterator[SimServer]:
    config = SimConfig(api_key=SIM_API_KEY, api_secret=SIM_API_SECRET, admin_token=TOKEN)
    async with SimServer(config) as server:
        yield server


async def usdt(server: SimServer) -> object:
    return server.exchange.balances(SIM_API_KEY)["USDT"]


async def test_a_cross_site_simple_request_cannot_fund(sim: SimServer) -> None:
    before = await usdt(sim)
    headers = {
        "Host": "attacker.example",
        "Origin": "http://attacker.example",
        "Content-Type": "text/plain",
    }
    body = '{"asset":"USDT","amount":"1"}'
    url = f"{sim.url}/_sim/accounts/{SIM_API_KEY}/fund"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 403
            assert (await response.json())["field"] == "Host"
        origin_only = {"Origin": "http://attacker.example", **JSON}
        async with http.post(url, data=body, headers=origin_only) as response:
            assert response.status == 403
            assert (await response.json())["field"] == "Origin"
        async with http.post(url, data=body, headers={"Content-Type": "text/plain"}) as response:
            assert response.status == 415
            assert (await response.json())["field"] == "Content-Type"
        same_origin = {"Origin": sim.url, **JSON}
        async with http.post(url, data=body, headers=same_origin) as response:
            assert response.status == 200
    assert await usdt(sim) != before


async def test_with_a_token_the_admin_api_needs_the_bearer(guarded: SimServer) -> None:
    url = f"{guarded.url}/_sim/accounts/{SIM_API_KEY}/fund"
    body = {"asset": "USDT", "amount": "1"}
    before = await usdt(guarded)
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["field"] == "Authorization"
        assert await usdt(guarded) == before
        good = {"Authorization": f"Bearer {TOKEN}"}
        async with http.post(url, json=body, headers=good) as response:
            assert response.status == 200
        async with http.get(f"{guarded.url}/api/v3/ping") as response:
            assert response.status == 200  # MEXC's paths are not behind the admin token
    assert await usdt(guarded) != before


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        SimServer(SimConfig(admin_token="short")).build_app()


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"latency_ms": 1_000_000_000_000}, "latency_ms"),
        ({"latency_ms": 60_001}, "latency_ms"),
        ({"rate_limit_burst": 10**9}, "rate_limit_burst"),
        ({"read_error_count": 10**9}, "read_error_count"),
        ({"order_fault": "error_after", "order_fault_count": 10**9}, "order_fault_count"),
        ({"latency_paths": ["/x"] * 101}, "latency_paths"),
    ],
)
async def test_fault_values_are_bounded(
    sim: SimServer, plan: dict[str, object], field: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.url}/_sim/faults", json=plan) as response,
    ):
        assert response.status == 400
        assert (await response.json())["field"] == field
    assert sim.faults.plan.latency_ms == 0


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # nested too deep for the JSON decoder
        b"\xff\xfe{}",  # not UTF-8
        b'{"asset": "USDT", "amount": "1", "pad": "' + b"x" * 200_000 + b'"}',  # huge
        b"{not json",
    ],
)
async def test_malformed_bodies_are_a_400_never_a_500(sim: SimServer, body: bytes) -> None:
    url = f"{sim.url}/_sim/accounts/{SIM_API_KEY}/fund"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=JSON) as response,
    ):
        assert response.status == 400
        assert (await response.json())["field"] == "body"


def test_the_cli_takes_secrets_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEXCSIM_API_SECRET", "from-env")
    monkeypatch.setenv("MEXCSIM_ADMIN_TOKEN", TOKEN)
    config = parse_args(["--api-key", "k"])
    assert (config.api_secret, config.admin_token) == ("from-env", TOKEN)
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    token_file = tmp_path / "token"
    token_file.write_text("another-long-admin-token\n")
    monkeypatch.delenv("MEXCSIM_API_SECRET")
    config = parse_args(
        [
            "--api-key",
            "k",
            "--api-secret-file",
            str(secret_file),
            "--admin-token-file",
            str(token_file),
        ]
    )
    assert (config.api_secret, config.admin_token) == ("from-file", "another-long-admin-token")
