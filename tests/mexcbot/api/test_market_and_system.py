"""Market, account and system routes over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import aiohttp

from mexcbot.app import Bot
from tests.fixtures.api import api_url, auth


async def test_market_routes(bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession) -> None:
    base, headers = f"{api_url(bot)}/api/v1/market", auth(tokens["read"])
    async with http.get(f"{base}/tickers", headers=headers) as response:
        tickers = await response.json()
        assert "BTCUSDT" in {t["symbol"] for t in tickers}
    async with http.get(f"{base}/tickers/BTCUSDT", headers=headers) as response:
        assert Decimal((await response.json())["last_price"]) > 0
    async with http.get(f"{base}/depth/BTCUSDT", params={"limit": "5"}, headers=headers) as r:
        book = await r.json()
        assert 0 < len(book["bids"]) <= 5
        assert Decimal(book["bids"][0]["price"]) < Decimal(book["asks"][0]["price"])
    async with http.get(f"{base}/klines/BTCUSDT", params={"interval": "1m"}, headers=headers) as r:
        assert r.status == 200
        assert isinstance(await r.json(), list)
    async with http.get(f"{base}/klines/BTCUSDT", params={"interval": "1h"}, headers=headers) as r:
        assert r.status == 422
        assert (await r.json())["field"] == "interval"
    async with http.get(f"{base}/symbols", headers=headers) as response:
        rules = {s["symbol"]: s for s in await response.json()}
        assert rules["BTCUSDT"]["quote_asset"] == "USDT"
    async with http.get(f"{base}/symbols/NOPE1USDT", headers=headers) as response:
        assert response.status == 404
    async with http.get(f"{base}/depth/NOPE1USDT", headers=headers) as response:
        assert response.status == 404
    async with http.get(f"{api_url(bot)}/api/v1/account/balances", headers=headers) as response:
        balances = {b["asset"]: Decimal(b["free"]) for b in await response.json()}
        assert balances["USDT"] > 0


async def test_health_ready_status_and_metrics(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    base = api_url(bot)
    async with http.get(f"{base}/health") as response:
        assert response.status == 200
    async with http.get(f"{base}/ready") as response:
        assert response.status == 200
    async with http.get(f"{base}/api/v1/status", headers=auth(tokens["read"])) as response:
        status = await response.json()
    assert status["mode"] == "paper"
    assert status["exchange_reachable"] is True
    assert status["reconciliation"]["runs"] >= 1
    headroom = status["rate_limit_headroom"]
    assert headroom["GET /api/v3/exchangeInfo"] < 1.0  # the startup loaded the rules
    assert all(0.0 <= share <= 1.0 for share in headroom.values())
    body = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": "30000",
    }
    async with http.post(
        f"{base}/api/v1/trades/orders", json=body, headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 201
        assert response.headers["X-Request-ID"]
    async with http.get(f"{base}/metrics", headers=auth(tokens["read"])) as response:
        text = await response.text()
    assert 'mexcbot_orders_total{outcome="new"} 1.0' in text
    assert "mexcbot_open_orders 1.0" in text
    assert 'mexcbot_api_request_seconds_count{method="POST",route="/api/v1/trades/orders"' in text
    assert "mexcbot_reconciliation_runs_total" in text
    assert 'mexcbot_exchange_request_seconds_count{endpoint="POST /api/v3/order"} 1.0' in text
    assert all(line.startswith(("#", "mexcbot_")) for line in text.splitlines() if line), (
        "every metric is named mexcbot_*"
    )
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "50"}
    async with http.post(
        f"{base}/api/v1/trades/orders", json=market, headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 201
        assert (await response.json())["status"] == "FILLED"
    async with http.get(f"{base}/metrics", headers=auth(tokens["read"])) as response:
        text = await response.text()
    # each placement counts once, by the status it returned with; its fill is an update
    assert 'mexcbot_orders_total{outcome="filled"} 1.0' in text
    assert 'mexcbot_order_updates_total{status="filled"} 1.0' in text


async def test_request_id_is_echoed(bot: Bot, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{api_url(bot)}/health", headers={"X-Request-ID": "abc-123"}) as r:
        assert r.headers["X-Request-ID"] == "abc-123"
