"""The app's routes: every router's routes are the app's own (one flat list, matched once each),
documented and answered as `include_router` would."""

from __future__ import annotations

import aiohttp
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Route

from mexcbot.api.application import ROUTERS
from mexcbot.api.routers import trades
from mexcbot.app import Bot
from tests.fixtures.api import api_url, auth


async def test_routers_are_included_flat_and_documented_as_include_router_would(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    # every route is the app's own, matched once by its expression (application._include_flat)
    routes = bot.api.router.routes
    assert all(isinstance(route, (APIRoute, APIWebSocketRoute, Route)) for route in routes)
    assert [type(route) for route in routes[-4:]] == [Route] * 4  # FastAPI's documentation
    # the same document as the routers included the usual way, in the same order
    reference = FastAPI(title=bot.api.title, version=bot.api.version)
    trades.add_placement_route(reference)
    for router in ROUTERS:
        reference.include_router(router)
    ours, theirs = bot.api.openapi(), reference.openapi()
    assert ours["paths"] == theirs["paths"]
    assert list(ours["paths"]) == list(theirs["paths"])
    assert ours["components"] == theirs["components"]
    # and they answer as before: a path with another method is 405, an unknown one 404
    async with http.put(
        f"{api_url(bot)}/api/v1/market/depth/BTCUSDT", headers=auth(tokens["read"])
    ) as r:
        assert r.status == 405
    async with http.get(f"{api_url(bot)}/api/v1/nothing", headers=auth(tokens["read"])) as r:
        assert r.status == 404
