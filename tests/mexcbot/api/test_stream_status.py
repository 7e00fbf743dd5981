"""The paper bot follows the embedded exchange's streams: health in /api/v1/status and /metrics,
and an order filled on the exchange reaches the database by the stream (reconciliation is hourly
here)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp

from mexcbot.domain.orders import OrderStatus
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for


async def _status(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, Any]:
    async with http.get(f"{base}/api/v1/status", headers=auth(token)) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def test_streams_are_followed_and_reported(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(stream_symbols=["btcusdt"]) as bot:
        base, tokens = api_url(bot), await tokens_for(bot)
        async with asyncio.timeout(10):
            while True:
                streams = (await _status(http, base, tokens["read"]))["streams"]
                market, user = streams["market"], streams["user"]
                if user["connected"] and market["connected"] and market["last_message_age_s"]:
                    break
                await asyncio.sleep(0.05)
        assert (user["gaps"], user["reconnects"]) == (0, 0)
        assert 0 <= market["last_message_age_s"] < 5
        assert bot.execution.prices.last("BTCUSDT") is not None

        runs = (await _status(http, base, tokens["read"]))["reconciliation"]["runs"]
        body = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "50"}
        async with http.post(
            f"{base}/api/v1/trades/orders", json=body, headers=auth(tokens["trade"])
        ) as response:
            assert response.status == 201
            placed = await response.json()
        async with asyncio.timeout(5):
            while True:
                async with bot.uow_factory() as uow:
                    order = await uow.orders.get_by_client_id(placed["client_order_id"])
                    assert order is not None
                    fills = await uow.fills.list_for_order(order.client_order_id)
                if order.status is OrderStatus.FILLED and fills:
                    break
                await asyncio.sleep(0.05)
        assert sum(fill.qty for fill in fills) == order.executed_qty > Decimal(0)
        status = await _status(http, base, tokens["read"])
        assert status["reconciliation"]["runs"] == runs
        assert status["streams"]["user"]["last_message_age_s"] is not None

        async with http.get(f"{base}/metrics", headers=auth(tokens["read"])) as response:
            text = await response.text()
        assert 'mexcbot_stream_connected{stream="user"} 1.0' in text
        assert 'mexcbot_stream_connected{stream="market"} 1.0' in text
        assert 'mexcbot_stream_reconnects_total{stream="user"} 0.0' in text
        assert 'mexcbot_stream_messages_total{stream="market"}' in text
        assert 'mexcbot_stream_messages_total{stream="user"}' in text
