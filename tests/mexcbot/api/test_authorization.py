"""Authentication and authorization over real HTTP: every route x no token, wrong role, right role,
revoked token; the per-token rate limit; the audit log; CORS and public metrics switches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from mexcbot.api.auth import role_allows
from mexcbot.app import Bot
from mexcbot.store import TokenRole
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    path: str
    role: TokenRole | None  # None: public
    body: dict[str, Any] | None = None


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "30000"}
AUTOBUY_RULE = {
    "name": "authorization test",
    "enabled": False,
    "trigger": {"type": "NEW_LISTING"},
    "buy_amount_quote": "10",
}
R, T, A = TokenRole.READ, TokenRole.TRADE, TokenRole.ADMIN
ROUTES = [
    Route("GET", "/health", "/health", None),
    Route("GET", "/ready", "/ready", None),
    Route("GET", "/metrics", "/metrics", R),
    Route("GET", "/api/v1/status", "/api/v1/status", R),
    Route("GET", "/api/v1/auth/whoami", "/api/v1/auth/whoami", R),
    Route("POST", "/api/v1/trades/orders", "/api/v1/trades/orders", T, ORDER),
    Route("GET", "/api/v1/trades/orders", "/api/v1/trades/orders", R),
    Route("GET", "/api/v1/trades/orders/open/{symbol}", "/api/v1/trades/orders/open/BTCUSDT", R),
    Route(
        "GET",
        "/api/v1/trades/orders/history/{symbol}",
        "/api/v1/trades/orders/history/BTCUSDT",
        R,
    ),
    Route("GET", "/api/v1/trades/orders/{symbol}/{orderId}", "/api/v1/trades/orders/BTCUSDT/x", R),
    Route(
        "DELETE", "/api/v1/trades/orders/{symbol}/{orderId}", "/api/v1/trades/orders/BTCUSDT/x", T
    ),
    Route(
        "GET",
        "/api/v1/trades/calculate/{symbol}",
        "/api/v1/trades/calculate/BTCUSDT?side=BUY&amount=10",
        R,
    ),
    Route("GET", "/api/v1/market/tickers", "/api/v1/market/tickers", R),
    Route("GET", "/api/v1/market/tickers/{symbol}", "/api/v1/market/tickers/BTCUSDT", R),
    Route("GET", "/api/v1/market/depth/{symbol}", "/api/v1/market/depth/BTCUSDT", R),
    Route("GET", "/api/v1/market/klines/{symbol}", "/api/v1/market/klines/BTCUSDT", R),
    Route("GET", "/api/v1/market/trades/{symbol}", "/api/v1/market/trades/BTCUSDT", R),
    Route("GET", "/api/v1/market/symbols", "/api/v1/market/symbols", R),
    Route("GET", "/api/v1/market/symbols/{symbol}", "/api/v1/market/symbols/BTCUSDT", R),
    Route("GET", "/api/v1/account/balances", "/api/v1/account/balances", R),
    Route(
        "POST", "/api/v1/admin/tokens", "/api/v1/admin/tokens", A, {"name": "n1", "role": "read"}
    ),
    Route("GET", "/api/v1/admin/tokens", "/api/v1/admin/tokens", A),
    Route("DELETE", "/api/v1/admin/tokens/{name}", "/api/v1/admin/tokens/nobody", A),
    Route("GET", "/api/v1/admin/audit", "/api/v1/admin/audit", A),
    Route("GET", "/api/v1/admin/config", "/api/v1/admin/config", A),
    Route(
        "POST",
        "/api/v1/positions",
        "/api/v1/positions",
        T,
        {"symbol": "BTCUSDT", "quote_amount": "10"},
    ),
    Route("GET", "/api/v1/positions", "/api/v1/positions", R),
    Route("GET", "/api/v1/positions/open", "/api/v1/positions/open", R),
    Route("GET", "/api/v1/positions/summary", "/api/v1/positions/summary", R),
    Route("GET", "/api/v1/positions/{position_id}", "/api/v1/positions/999", R),
    Route("PUT", "/api/v1/positions/{position_id}", "/api/v1/positions/999", T, {"exits": {}}),
    Route("PUT", "/api/v1/positions/{position_id}/close", "/api/v1/positions/999/close", T),
    Route("DELETE", "/api/v1/positions/{position_id}", "/api/v1/positions/999", T),
    Route("GET", "/api/v1/risk", "/api/v1/risk", R),
    Route("GET", "/api/v1/listings", "/api/v1/listings", R),
    Route("GET", "/api/v1/listings/sources", "/api/v1/listings/sources", R),
    Route("GET", "/api/v1/listings/{listing_id}", "/api/v1/listings/999", R),
    Route(
        "POST",
        "/api/v1/listings",
        "/api/v1/listings",
        T,
        {"base_asset": "AUTHZ", "open_time": "2030-01-01T00:00:00Z"},
    ),
    Route("PUT", "/api/v1/risk", "/api/v1/risk", A, {"reason": "authorization test"}),
    Route("POST", "/api/v1/autobuy/rules", "/api/v1/autobuy/rules", T, AUTOBUY_RULE),
    Route("GET", "/api/v1/autobuy/rules", "/api/v1/autobuy/rules", R),
    Route("GET", "/api/v1/autobuy/rules/{rule_id}", "/api/v1/autobuy/rules/999", R),
    Route("PUT", "/api/v1/autobuy/rules/{rule_id}", "/api/v1/autobuy/rules/999", T, AUTOBUY_RULE),
    Route("DELETE", "/api/v1/autobuy/rules/{rule_id}", "/api/v1/autobuy/rules/999", T),
    Route("POST", "/api/v1/autobuy/rules/{rule_id}/enable", "/api/v1/autobuy/rules/999/enable", T),
    Route(
        "POST", "/api/v1/autobuy/rules/{rule_id}/disable", "/api/v1/autobuy/rules/999/disable", T
    ),
    Route(
        "POST",
        "/api/v1/autobuy/rules/{rule_id}/evaluate",
        "/api/v1/autobuy/rules/999/evaluate",
        R,
    ),
    Route("GET", "/api/v1/autobuy/executions", "/api/v1/autobuy/executions", R),
    Route(
        "GET",
        "/api/v1/autobuy/symbols/{symbol}/rules",
        "/api/v1/autobuy/symbols/BTCUSDT/rules",
        R,
    ),
    Route("GET", "/api/v1/notifications", "/api/v1/notifications", R),
    Route("POST", "/api/v1/notifications/test", "/api/v1/notifications/test", A),
]


def test_the_matrix_covers_every_route(bot: Bot) -> None:
    assert bot.api is not None
    served = {
        (method.upper(), path)
        for path, operations in bot.api.openapi()["paths"].items()
        for method in operations
    }
    assert served == {(r.method, r.template) for r in ROUTES}


async def _call(
    http: aiohttp.ClientSession, bot: Bot, route: Route, token: str | None
) -> tuple[int, str]:
    headers = auth(token) if token else {}
    async with http.request(
        route.method, api_url(bot) + route.path, json=route.body, headers=headers
    ) as response:
        return response.status, response.content_type


async def test_authorization_matrix(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    checked = 0
    for route in ROUTES:
        if route.role is None:
            assert (await _call(http, bot, route, None))[0] == 200, route
            continue
        status, content_type = await _call(http, bot, route, None)
        assert status == 401, route
        assert content_type == "application/problem+json"
        assert (await _call(http, bot, route, tokens["revoked"]))[0] == 401, route
        assert (await _call(http, bot, route, "mxb_not-a-real-token"))[0] == 401, route
        for held in TokenRole:
            status, _ = await _call(http, bot, route, tokens[held.value])
            if not role_allows(held, route.role):
                assert status == 403, (route, held)
            else:
                assert status not in (401, 403), (route, held, status)
            checked += 1
    assert checked == 3 * sum(1 for r in ROUTES if r.role is not None)


def test_roles_are_cumulative() -> None:
    assert role_allows(A, T)
    assert role_allows(T, R)
    assert not role_allows(R, T)
    assert not role_allows(T, A)


async def test_wrong_scheme_is_401(bot: Bot, http: aiohttp.ClientSession) -> None:
    async with http.get(
        f"{api_url(bot)}/api/v1/status", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    ) as response:
        assert response.status == 401
        assert (await response.json())["field"] == "Authorization"


async def test_mutations_are_audited_with_token_name(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    base = api_url(bot)
    async with http.post(
        f"{base}/api/v1/trades/orders", json=ORDER, headers=auth(tokens["trade"])
    ) as response:
        client_id = (await response.json())["client_order_id"]
    async with http.post(
        f"{base}/api/v1/trades/orders", json=ORDER, headers=auth(tokens["read"])
    ) as response:
        assert response.status == 403
    async with http.get(f"{base}/api/v1/admin/audit", headers=auth(tokens["admin"])) as response:
        entries = await response.json()
    assert {
        "actor": "test-trade",
        "action": "place_order",
        "target": client_id,
        "result": "ok",
    }.items() <= entries[1].items()
    assert entries[0]["actor"] == "test-read"
    assert entries[0]["result"] == "failed:403"


async def test_admin_creates_and_revokes_tokens(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    base, admin = f"{api_url(bot)}/api/v1/admin/tokens", auth(tokens["admin"])
    async with http.post(base, json={"name": "ci", "role": "read"}, headers=admin) as response:
        assert response.status == 201
        created = await response.json()
    async with http.post(base, json={"name": "ci", "role": "read"}, headers=admin) as response:
        assert response.status == 409
    async with http.get(f"{api_url(bot)}/api/v1/status", headers=auth(created["token"])) as r:
        assert r.status == 200
    async with http.get(base, headers=admin) as response:
        listed = await response.json()
        assert "ci" in {t["name"] for t in listed}
        assert all("token" not in t and "token_hash" not in t for t in listed)
    async with http.delete(f"{base}/ci", headers=admin) as response:
        assert response.status == 200
    async with http.get(f"{api_url(bot)}/api/v1/status", headers=auth(created["token"])) as r:
        assert r.status == 401  # at once, despite the token cache
    async with http.delete(f"{base}/ci", headers=admin) as response:
        assert response.status == 404


async def test_tokens_are_stored_only_as_hashes(bot: Bot, tokens: dict[str, str]) -> None:
    async with bot.uow_factory() as uow:
        stored = await uow.tokens.list()
    hashes = {t.token_hash for t in stored}
    assert not set(tokens.values()) & hashes
    assert all(len(h) == 64 for h in hashes)


@pytest.fixture
async def tuned_bot(make_bot: MakeBot) -> Any:
    async with make_bot(
        api_rate_limit_per_minute=3,
        metrics_public=True,
        cors_origins=["http://dashboard.test"],
    ) as running:
        yield running


async def test_rate_limit_public_metrics_and_cors(
    tuned_bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(tuned_bot)
    base = api_url(tuned_bot)
    statuses = []
    for _ in range(4):
        async with http.get(f"{base}/api/v1/status", headers=auth(tokens["read"])) as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
    assert statuses == [200, 200, 200, 429]
    assert retry_after is not None
    assert int(retry_after) >= 1
    async with http.get(f"{base}/api/v1/status", headers=auth(tokens["trade"])) as response:
        assert response.status == 200  # the budget is per token
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
    async with http.get(f"{base}/health", headers={"Origin": "http://dashboard.test"}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "http://dashboard.test"


async def test_cors_is_off_by_default(bot: Bot, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{api_url(bot)}/health", headers={"Origin": "http://evil.test"}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers
