"""The risk limits over real HTTP on a paper bot: the new limits are set and read back through
`/api/v1/risk`, a bad value is a 422 naming the field (and changes nothing), and the
per-symbol share refuses an entry naming the limit; a stop confirmation of 0 ticks is a 422."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from mexcbot.app import Bot
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for


@pytest.fixture
async def bot(make_bot: MakeBot) -> AsyncIterator[Bot]:
    async with make_bot() as running:
        yield running


async def call(
    http: aiohttp.ClientSession, bot: Bot, token: str, method: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(
        method, f"{api_url(bot)}/api/v1/risk", json=body, headers=auth(token)
    ) as response:
        return response.status, await response.json()


async def test_new_limits_round_trip_and_bad_values_name_the_field(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    tokens = await tokens_for(bot)
    admin = tokens["admin"]
    limits = {
        "max_total_exposure_quote": "1000",
        "max_symbol_share": "0.05",
        "max_orders_per_second": 5,
        "stop_loss_streak": 3,
        "stop_loss_cooldown_minutes": 30,
        "daily_loss_limit": "100",
        "daily_loss_window": "ROLLING_24H",
        "min_volume_24h_quote": "0.01",
    }
    status, risk = await call(http, bot, admin, "PUT", {"limits": limits})
    assert status == 200
    out = risk["limits"]
    assert (out["max_symbol_share"], out["max_orders_per_second"]) == ("0.05", 5)
    assert (out["stop_loss_streak"], out["stop_loss_cooldown_minutes"]) == (3, 30)
    assert (out["daily_loss_window"], out["min_volume_24h_quote"]) == ("ROLLING_24H", "0.01")
    for bad, field in (
        ({"max_total_exposure_quote": "1000", "max_symbol_share": "1.5"}, "max_symbol_share"),
        ({"max_symbol_share": "0.5"}, "max_symbol_share"),  # a share of no budget
        ({"max_orders_per_second": 0}, "max_orders_per_second"),
        ({"stop_loss_streak": 0}, "stop_loss_streak"),
        ({"daily_loss_window": "WEEKLY"}, "daily_loss_window"),
        ({"min_volume_24h_quote": "-5"}, "min_volume_24h_quote"),
    ):
        status, problem = await call(http, bot, admin, "PUT", {"limits": bad})
        assert status == 422, (bad, problem)
        assert field in str(problem), (bad, problem)
    status, after = await call(http, bot, tokens["read"], "GET")
    assert after["limits"] == out  # refused changes changed nothing
    async with http.post(
        f"{api_url(bot)}/api/v1/positions",
        json={"symbol": "ETHUSDT", "quote_amount": "60"},  # above 0.05 x 1000 = 50
        headers=auth(tokens["trade"]),
    ) as response:
        refused = await response.json()
    assert (response.status, refused["limit"]) == (422, "max_symbol_share")
    async with http.post(
        f"{api_url(bot)}/api/v1/positions",
        json={
            "symbol": "ETHUSDT",
            "quote_amount": "20",
            "exits": {"stop_loss": {"percent": "5"}, "stop_confirm_ticks": 0},
        },
        headers=auth(tokens["trade"]),
    ) as response:
        invalid = await response.json()
    assert response.status == 422
    assert "stop_confirm_ticks" in str(invalid)


async def test_a_change_is_audited_once_and_profile_with_limits_is_refused(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    tokens = await tokens_for(bot)
    admin = tokens["admin"]
    status, before = await call(http, bot, admin, "GET")
    status, problem = await call(
        http, bot, admin, "PUT", {"profile": "conservative", "limits": {"max_open_positions": 3}}
    )
    assert status == 422, problem
    assert (problem["field"], problem["errors"][0]["rule"]) == ("profile", "combination")
    status, after = await call(http, bot, admin, "GET")
    assert after["limits"] == before["limits"]  # nothing changed

    status, _ = await call(http, bot, admin, "PUT", {"state": "REDUCING", "reason": "audit me"})
    assert status == 200
    async with http.get(f"{api_url(bot)}/api/v1/admin/audit", headers=auth(admin)) as response:
        entries = await response.json()
    changes = [e for e in entries if e["target"] == "REDUCING"]
    assert [(e["action"], e["result"]) for e in changes] == [("risk.change", "ok")]
    assert [e["result"] for e in entries if e["target"] == "/api/v1/risk"] == ["failed:422"]
