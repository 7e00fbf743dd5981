"""POST /api/v1/positions with an Idempotency-Key: a client's retry (after a timeout, twice at
once) answers the position the first request opened and buys nothing more; a different buy under
the key is 409 and buys nothing; a key is the caller's and the route's own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from mexcbot.app import Bot
from mexcbot.domain.orders import OrderSide
from tests.fixtures.api import MakeBot, api_url, auth, set_paper_price, tokens_for

SYMBOL = "ETHUSDT"
BUY = {"symbol": SYMBOL, "quote_amount": "50"}


@pytest.fixture
async def bot(make_bot: MakeBot) -> AsyncIterator[Bot]:
    async with make_bot() as running:
        await set_paper_price_for(running)
        yield running


async def set_paper_price_for(bot: Bot) -> None:
    async with aiohttp.ClientSession() as http:
        await set_paper_price(http, bot, SYMBOL, "3200")


async def open_position(
    http: aiohttp.ClientSession, bot: Bot, token: str, body: dict[str, Any], key: str
) -> tuple[int, Any]:
    async with http.post(
        f"{api_url(bot)}/api/v1/positions",
        json=body,
        headers={**auth(token), "Idempotency-Key": key},
    ) as response:
        return response.status, await response.json()


async def buys(bot: Bot) -> list[str]:
    async with bot.uow_factory() as uow:
        orders = (await uow.orders.list(symbol=SYMBOL, limit=1000)).orders
    return [o.client_order_id for o in orders if o.request.side is OrderSide.BUY]


async def position_count(bot: Bot) -> int:
    async with bot.uow_factory() as uow:
        return (await uow.positions.list(limit=100)).total


async def test_a_retry_answers_the_first_position_and_buys_nothing(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    token = (await tokens_for(bot))["trade"]
    status, first = await open_position(http, bot, token, BUY, "open-eth-1")
    assert status == 201, first
    assert Decimal(first["position"]["quantity"]) > 0
    status, again = await open_position(http, bot, token, BUY, "open-eth-1")
    assert status == 201, again
    assert again["position"]["id"] == first["position"]["id"]
    assert again["entry_order"]["client_order_id"] == first["entry_order"]["client_order_id"]
    assert again["position"]["quantity"] == first["position"]["quantity"]
    assert await buys(bot) == [first["entry_order"]["client_order_id"]]
    assert await position_count(bot) == 1


async def test_two_requests_at_once_open_one_position(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    token = (await tokens_for(bot))["trade"]
    answers = await asyncio.gather(
        *(open_position(http, bot, token, BUY, "open-eth-twice") for _ in range(2))
    )
    assert [status for status, _ in answers] == [201, 201], answers
    assert len({answer["position"]["id"] for _, answer in answers}) == 1
    assert len({answer["entry_order"]["client_order_id"] for _, answer in answers}) == 1
    assert len(await buys(bot)) == 1
    assert await position_count(bot) == 1


async def test_another_buy_under_the_key_is_409_and_buys_nothing(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    token = (await tokens_for(bot))["trade"]
    status, first = await open_position(http, bot, token, BUY, "open-eth-2")
    assert status == 201, first
    status, problem = await open_position(
        http, bot, token, {**BUY, "quote_amount": "60"}, "open-eth-2"
    )
    assert status == 409, problem
    assert problem["code"] == "idempotency_key_reused"
    assert await buys(bot) == [first["entry_order"]["client_order_id"]]
    assert await position_count(bot) == 1


async def test_a_key_is_the_callers_and_the_routes_own(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    status, mine = await open_position(http, bot, tokens["trade"], BUY, "same-key")
    assert status == 201, mine
    status, theirs = await open_position(http, bot, tokens["admin"], BUY, "same-key")
    assert status == 201, theirs
    assert theirs["position"]["id"] != mine["position"]["id"]
    order = {"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quote_amount": "20"}
    async with http.post(
        f"{api_url(bot)}/api/v1/trades/orders",
        json=order,
        headers={**auth(tokens["trade"]), "Idempotency-Key": "same-key"},
    ) as response:
        assert response.status == 201, await response.text()  # an order's key: another scope
    assert len(await buys(bot)) == 3
    assert await position_count(bot) == 2
