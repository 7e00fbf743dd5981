"""The daily-loss limit as a percent of the start-of-day equity, on a paper bot (100,000 USDT
and 10 ETH): set through `PUT /api/v1/risk` (a bad percent is a 422 naming the field), the
equity is recorded and kept across a restart, and the limit trips REDUCING, which refuses a
new entry while a stop still sells."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from mexcbot.store import TokenRole
from tests.fixtures.api import MakeBot, tokens_for
from tests.mexcbot.api.test_positions_api import (
    Client,
    exit_orders,
    open_with_stop,
    set_price,
    until,
)

D = Decimal
SYMBOL = "ETHUSDT"


async def test_the_percent_limit_trips_reducing_while_a_stop_still_sells(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(exit_check_interval=0.05) as bot:
        tokens = await tokens_for(bot)
        admin = Client(http, bot, tokens["admin"])
        trader = Client(http, bot, tokens["trade"])
        for bad in ("0", "100.5", "-1", "abc"):
            status, problem = await admin.call(
                "PUT", "/api/v1/risk", {"limits": {"daily_loss_limit_percent": bad}}
            )
            assert status == 422, problem
            assert problem["field"].endswith("daily_loss_limit_percent"), problem
        status, risk = await admin.call(
            "PUT",
            "/api/v1/risk",
            {"limits": {"daily_loss_limit": "500", "daily_loss_limit_percent": "0.01"}},
        )
        assert status == 200, risk
        assert risk["limits"]["daily_loss_limit_percent"] == "0.01"
        equity = D(risk["start_equity"])
        assert D(99_000) < equity < D(101_000)  # 100,000 USDT, nothing open yet
        in_force = D(risk["daily_loss_limit_in_force"])
        assert in_force == equity * D("0.0001")  # 0.01 % of ~100,000 = ~10: stricter than 500

        pid = await open_with_stop(http, bot, trader, "1000", "3000")
        status, risk = await admin.call("GET", "/api/v1/risk")
        assert (risk["state"], D(risk["start_equity"])) == ("ACTIVE", equity)  # not re-recorded
        await set_price(http, bot, D("3150"))  # a loss of ~16 on 1000: above the ~10 limit

        async def read_risk() -> dict[str, Any]:
            return (await admin.call("GET", "/api/v1/risk"))[1]

        tripped = await until(read_risk, lambda r: r["state"] == "REDUCING")
        assert "% of the start-of-day equity" in tripped["reason"]
        assert D(tripped["pnl_today"]) <= -in_force
        status, refused = await trader.call(
            "POST", "/api/v1/positions", {"symbol": SYMBOL, "quote_amount": "20"}
        )
        assert (status, refused["limit"]) == (422, "trading_state")

        await set_price(http, bot, D("2950"))  # below the stop: the exit still sells

        async def read() -> dict[str, Any]:
            return (await trader.call("GET", f"/api/v1/positions/{pid}"))[1]

        closed = await until(read, lambda p: p["status"] == "CLOSED")
        assert D(closed["realised_pnl"]) < 0
        assert len(await exit_orders(bot, pid)) == 1
        recorded_at = tripped["start_equity_at"]

    async with make_bot(exit_check_interval=0.05) as restarted:
        _, token = await restarted.tokens.create("after-restart", TokenRole.ADMIN, actor="test")
        admin = Client(http, restarted, token)
        status, risk = await admin.call("GET", "/api/v1/risk")
    assert (risk["state"], D(risk["start_equity"])) == ("REDUCING", equity)
    assert risk["start_equity_at"] == recorded_at
