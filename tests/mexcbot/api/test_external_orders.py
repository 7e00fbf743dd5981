"""Issue 16 through the API: an order placed by hand on a symbol the bot never traded is shown,
marked external, and counted in /api/v1/status with the time of the last account scan."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp

from mexcbot.config import Mode
from mexcbot.domain.orders import OrderSide, OrderType
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import TokenRole
from mexcsim import SimServer
from tests.fixtures.api import MakeBot, api_url, auth
from tests.fixtures.engine_timing import client_config
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET

D = Decimal


async def _get(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, Any]:
    async with http.get(url, headers=auth(token)) as response:
        return response.status, await response.json()


async def test_an_order_placed_by_hand_is_adopted_and_counted(
    sim: SimServer, make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with MexcClient(client_config(sim.url)) as mexc:
        before = await mexc.place_order(
            "ETHUSDT",
            OrderSide.SELL,
            OrderType.LIMIT,
            quantity=D("0.5"),
            price=D("9000"),
            client_order_id="byhandeth",
        )
        async with make_bot(
            mode=Mode.LIVE,
            api_key=SIM_API_KEY,
            api_secret=SIM_API_SECRET,
            exchange_url=sim.url,
            reconcile_interval=1.5,
        ) as bot:
            _, token = await bot.tokens.create("reader", TokenRole.READ, actor="t")
            base = f"{api_url(bot)}/api/v1"
            code, order = await _get(http, f"{base}/trades/orders/ETHUSDT/byhandeth", token)
            assert code == 200, order
            assert order["is_external"] is True
            assert order["origin"] == "EXTERNAL"
            assert order["status"] == "NEW"
            assert order["exchange_order_id"] == before.order_id
            code, status = await _get(http, f"{base}/status", token)
            assert code == 200
            external = status["external_orders"]
            assert external["open"] == 1
            scan = external["last_account_scan"]
            assert scan["symbols_scanned"] >= 1
            assert "ETH" in scan["locked_assets"]
            first_scan_at = datetime.fromisoformat(scan["at"])

            # one placed while the bot runs shows up within one reconciliation interval
            during = await mexc.place_order(
                "KASUSDT", OrderSide.BUY, OrderType.LIMIT, quantity=D("100"), price=D("0.05")
            )
            url = f"{base}/trades/orders/KASUSDT/{during.order_id}"
            deadline = asyncio.get_running_loop().time() + 1.5 + 1.5
            while (code := (await _get(http, url, token))[0]) == 404:
                assert asyncio.get_running_loop().time() < deadline, "not adopted in time"
                await asyncio.sleep(0.1)
            assert code == 200
            _, status = await _get(http, f"{base}/status", token)
            assert status["external_orders"]["open"] == 2
            later = datetime.fromisoformat(status["external_orders"]["last_account_scan"]["at"])
            assert later > first_scan_at
