"""The dashboard's files over real HTTP: served without a token at / and /ui/, with their content
types, a strong ETag (304 on revalidation) and a restrictive CSP; nothing outside the package's
files is reachable, and none of it is in the OpenAPI document. Also the two routes the dashboard
added to the API: who the caller is, and the market's recent trades."""

from __future__ import annotations

import aiohttp
from yarl import URL

from mexcbot.app import Bot
from tests.fixtures.api import api_url, auth, tokens_for


async def test_the_page_and_its_files_are_public_typed_and_revalidated(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    base = api_url(bot)
    async with http.get(f"{base}/") as page:
        assert page.status == 200
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cache-Control"] == "no-cache"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        html = await page.text()
        etag = page.headers["ETag"]
    assert '<script type="module" src="/ui/app.js">' in html
    async with http.get(f"{base}/", headers={"If-None-Match": etag}) as again:
        assert again.status == 304
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        async with http.get(f"{base}/ui/{name}") as asset:
            assert asset.status == 200
            assert asset.headers["Content-Type"].startswith(kind)
    async with http.get(f"{base}/ui/pages/orders.js") as page_module:
        assert page_module.status == 200
        assert "export default" in await page_module.text()


async def test_only_the_packaged_files_are_reachable(bot: Bot, http: aiohttp.ClientSession) -> None:
    base = api_url(bot)
    for path in ("/ui/nope.js", "/ui/../routers/dashboard.py", "/ui/%2e%2e/__init__.py", "/ui/"):
        async with http.get(URL(f"{base}{path}", encoded=True)) as response:  # as typed
            assert response.status == 404, path
    async with http.get(f"{base}/api/v1/status") as api:
        assert api.status == 401  # the API is not public because the dashboard is
    paths = bot.api.openapi()["paths"]
    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/ui")]


async def test_whoami_names_the_token_and_its_role(bot: Bot, http: aiohttp.ClientSession) -> None:
    tokens = await tokens_for(bot)
    for role in ("read", "trade", "admin"):
        async with http.get(
            f"{api_url(bot)}/api/v1/auth/whoami", headers=auth(tokens[role])
        ) as response:
            assert response.status == 200
            assert await response.json() == {"name": f"test-{role}", "role": role}


async def test_recent_trades_are_decimal_strings(bot: Bot, http: aiohttp.ClientSession) -> None:
    tokens = await tokens_for(bot)
    async with http.get(
        f"{api_url(bot)}/api/v1/market/trades/BTCUSDT?limit=5", headers=auth(tokens["read"])
    ) as response:
        assert response.status == 200
        trades = await response.json()
    assert 1 <= len(trades) <= 5
    for trade in trades:
        assert isinstance(trade["price"], str)
        assert isinstance(trade["quantity"], str)
        assert isinstance(trade["time"], int)
    async with http.get(
        f"{api_url(bot)}/api/v1/market/trades/NOPEUSDT", headers=auth(tokens["read"])
    ) as unknown:
        assert unknown.status == 404
        assert (await unknown.json())["code"] == "unknown_symbol"
