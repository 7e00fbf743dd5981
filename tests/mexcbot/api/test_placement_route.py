"""The place-order route answers a request the same whichever handler takes it: the plain case
(``Content-Type: application/json`` exactly, api/placement_route.py) and FastAPI's own handler
(any other JSON content type). Over real HTTP on loopback."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp

from mexcbot.api.placement_route import PlacementRoute
from mexcbot.app import Bot
from tests.fixtures.api import api_url, auth

ORDERS = "/api/v1/trades/orders"
ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "30000",
}
PLAIN = "application/json"
GENERAL = "application/json; charset=utf-8"  # FastAPI's handler parses this one itself


async def _post(
    http: aiohttp.ClientSession, bot: Bot, token: str, body: bytes, content_type: str | None
) -> tuple[int, dict[str, Any]]:
    headers = auth(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with http.post(f"{api_url(bot)}{ORDERS}", data=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        answer.pop("request_id", None)
        return response.status, answer


async def test_refused_bodies_get_the_same_problem_from_both_handlers(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    refused = [
        b"",
        b"null",
        b"{not json",
        b"[]",
        json.dumps({**ORDER, "price": 0.5}).encode(),  # a JSON fraction: not a plain decimal
        json.dumps({**ORDER, "type": "MARKET"}).encode(),  # the domain's amount rules
        json.dumps({**ORDER, "extra": 1}).encode(),
        json.dumps({k: v for k, v in ORDER.items() if k != "side"}).encode(),
    ]
    for body in refused:
        plain = await _post(http, bot, tokens["trade"], body, PLAIN)
        general = await _post(http, bot, tokens["trade"], body, GENERAL)
        assert plain == general, body
        assert plain[0] in (400, 422), (body, plain)
    # without a content type FastAPI reads no JSON: refused, whatever the body says
    status, problem = await _post(http, bot, tokens["trade"], json.dumps(ORDER).encode(), None)
    assert status == 422, problem


async def test_an_order_is_placed_the_same_by_both_handlers(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    placed = []
    for content_type in (PLAIN, GENERAL):
        status, order = await _post(
            http, bot, tokens["trade"], json.dumps(ORDER).encode(), content_type
        )
        assert status == 201, order
        placed.append(order)
    different = {"client_order_id", "exchange_order_id", "created_at", "exchange_updated_at"}
    first, second = ({k: v for k, v in o.items() if k not in different} for o in placed)
    assert first == second
    assert first["status"] == "NEW"
    assert (Decimal(first["quantity"]), Decimal(first["price"])) == (Decimal("0.001"), 30000)
    # a refused token is refused before either handler: the route's caller check still runs
    status, _ = await _post(http, bot, tokens["read"], json.dumps(ORDER).encode(), PLAIN)
    assert status == 403


async def test_the_route_is_the_apps_first_and_documented_as_a_trades_route(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    # registered on the app itself (trades.add_placement_route), matched before anything else
    first = bot.api.router.routes[0]
    assert isinstance(first, PlacementRoute)
    assert (first.path, first.methods, first.name) == (ORDERS, {"POST"}, "place_order")
    operations = bot.api.openapi()["paths"][ORDERS]
    assert list(operations) == ["post", "get"]  # the list of orders shares the path
    post = operations["post"]
    assert post["tags"] == ["trades"]
    assert post["operationId"] == "place_order_api_v1_trades_orders_post"
    assert post["security"] == [{"HTTPBearer": []}]
    assert post["parameters"][0]["name"] == "Idempotency-Key"
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PlaceOrderBody"
    }
    # a method the path has no route for: 405 naming the first route's method, as before
    async with http.put(
        f"{api_url(bot)}{ORDERS}", json=ORDER, headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
