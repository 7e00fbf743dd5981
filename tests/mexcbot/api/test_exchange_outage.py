"""An exchange outage is a 503 problem the caller can retry, never a 500: over real HTTP, with the
bot's embedded simulator stopped or failing its reads."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from mexcbot.api.errors import PROBLEM_JSON
from mexcbot.app import Bot
from mexcsim.http.faults import FaultPlan
from tests.fixtures.api import api_url, auth

LIMIT_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "30000",
}
MARKET_ROUTES = (
    "/api/v1/market/tickers",
    "/api/v1/market/tickers/BTCUSDT",
    "/api/v1/market/depth/BTCUSDT",
    "/api/v1/account/balances",
    "/api/v1/trades/calculate/BTCUSDT?side=BUY&amount=100",
)


async def _get(
    http: aiohttp.ClientSession, bot: Bot, token: str, path: str
) -> tuple[int, str, dict[str, str], Any]:
    async with http.get(f"{api_url(bot)}{path}", headers=auth(token)) as response:
        body = await response.json(content_type=None)
        return response.status, response.content_type, dict(response.headers), body


async def _place_resting(http: aiohttp.ClientSession, bot: Bot, token: str) -> str:
    """Place an order while the exchange is up; also loads the API's cached symbol rules, so
    routes get past the symbol check and reach the engine and the client during the outage."""
    status, _, _, _ = await _get(http, bot, token, "/api/v1/market/symbols")
    assert status == 200
    async with http.post(
        f"{api_url(bot)}/api/v1/trades/orders", json=LIMIT_BUY, headers=auth(token)
    ) as response:
        assert response.status == 201
        order = await response.json()
    client_order_id: str = order["client_order_id"]
    return client_order_id


def _assert_unavailable(answer: tuple[int, str, dict[str, str], Any], path: str) -> None:
    status, content_type, headers, body = answer
    assert status == 503, (path, body)
    assert content_type == PROBLEM_JSON, path
    assert body["code"] == "exchange_unavailable", (path, body)
    assert body["status"] == 503
    assert headers["Retry-After"] == "1"
    assert "request_id" in body


async def _market_answers(
    http: aiohttp.ClientSession, bot: Bot, token: str
) -> list[tuple[int, str, dict[str, str], Any]]:
    return list(await asyncio.gather(*(_get(http, bot, token, path) for path in MARKET_ROUTES)))


async def _order_status(
    http: aiohttp.ClientSession, bot: Bot, token: str, client_order_id: str
) -> None:
    """The order-status route answers from the store when the exchange cannot refresh it, or a
    503 problem; never a 500."""
    path = f"/api/v1/trades/orders/BTCUSDT/{client_order_id}"
    status, content_type, headers, body = await _get(http, bot, token, path)
    if status == 200:
        assert body["client_order_id"] == client_order_id
        assert body["status"] == "NEW"
    else:
        _assert_unavailable((status, content_type, headers, body), path)


async def test_stopped_exchange_is_503_on_market_and_order_routes(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    client_order_id = await _place_resting(http, bot, tokens["trade"])
    assert bot.paper is not None
    await bot.paper.stop()
    answers = await _market_answers(http, bot, tokens["read"])
    for path, answer in zip(MARKET_ROUTES, answers, strict=True):
        _assert_unavailable(answer, path)
    await _order_status(http, bot, tokens["read"], client_order_id)
    base = f"{api_url(bot)}/api/v1/trades/orders"
    async with http.post(base, json=LIMIT_BUY, headers=auth(tokens["trade"])) as response:
        assert response.status == 503  # not sent: stored as REJECTED, the caller may retry
        assert response.content_type == PROBLEM_JSON
        assert (await response.json())["code"] == "exchange_unreachable"
    cancel = f"{base}/BTCUSDT/{client_order_id}"
    async with http.delete(cancel, headers=auth(tokens["trade"])) as response:
        # Never a success that did not happen: the cancel is unconfirmed, and safe to repeat.
        assert response.status == 503, await response.text()
        assert response.content_type == PROBLEM_JSON
        problem = await response.json()
        assert problem["code"] == "cancel_not_confirmed"
        assert problem["client_order_id"] == client_order_id
        assert problem["status"] == 503  # the HTTP status; the order's is order_status
        assert problem["order_status"] == problem["order"]["status"] == "NEW"


async def test_failing_exchange_reads_are_503_not_500(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    client_order_id = await _place_resting(http, bot, tokens["trade"])
    assert bot.paper is not None
    bot.paper.faults.set(FaultPlan(read_error_count=1000, error_status=502))
    answers = await _market_answers(http, bot, tokens["read"])
    for path, answer in zip(MARKET_ROUTES, answers, strict=True):
        _assert_unavailable(answer, path)
    await _order_status(http, bot, tokens["read"], client_order_id)
    bot.paper.faults.clear()
    status, _, _, body = await _get(http, bot, tokens["read"], MARKET_ROUTES[1])
    assert status == 200, body  # the outage is over: the same route answers again
    assert body["symbol"] == "BTCUSDT"
