"""Every MEXC REST v3 endpoint over real HTTP: paths, parameters, statuses and JSON shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from mexcsim import SimServer
from mexcsim.http.auth import sign
from tests.fixtures.sim import SIM_API_SECRET, auth_headers, signed_url

ORDER_KEYS = {
    "symbol",
    "orderId",
    "orderListId",
    "clientOrderId",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "stopPrice",
    "time",
    "updateTime",
    "isWorking",
    "origQuoteOrderQty",
}
CANCEL_KEYS = {
    "symbol",
    "origClientOrderId",
    "orderId",
    "clientOrderId",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
}


class Mexc:
    """A hand-rolled MEXC client: public GETs and signed requests, returning (status, json)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def public(self, path: str, params: Mapping[str, str] | None = None) -> tuple[int, Any]:
        query = f"?{urlencode(params)}" if params else ""
        async with self.http.get(f"{self.base_url}{path}{query}") as response:
            return response.status, await response.json()

    async def signed(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        url = signed_url(self.base_url, path, params)
        async with self.http.request(method, url, headers=auth_headers()) as response:
            return response.status, await response.json()


@pytest.fixture
async def mexc(sim_no_limits: SimServer) -> AsyncIterator[Mexc]:
    async with aiohttp.ClientSession() as http:
        yield Mexc(http, sim_no_limits.url)


def limit_buy(client_order_id: str | None = None, price: str = "30000") -> dict[str, str]:
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": price,
    }
    if client_order_id:
        params["newClientOrderId"] = client_order_id
    return params


# --- public market data ---


async def test_ping_and_time(mexc: Mexc, sim_no_limits: SimServer) -> None:
    assert await mexc.public("/api/v3/ping") == (200, {})
    status, body = await mexc.public("/api/v3/time")
    assert status == 200
    assert set(body) == {"serverTime"}
    assert abs(body["serverTime"] - sim_no_limits.now_ms()) < 5000


async def test_default_symbols(mexc: Mexc) -> None:
    status, body = await mexc.public("/api/v3/defaultSymbols")
    assert status == 200
    assert body["code"] in (0, 200)
    assert "BTCUSDT" in body["data"]


async def test_exchange_info_all_one_and_some(mexc: Mexc) -> None:
    status, body = await mexc.public("/api/v3/exchangeInfo")
    assert status == 200
    assert {"timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"} <= set(body)
    assert len(body["symbols"]) >= 3
    _, one = await mexc.public("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
    assert [s["symbol"] for s in one["symbols"]] == ["BTCUSDT"]
    btc = one["symbols"][0]
    assert btc["status"] == "1"
    assert btc["filters"][0]["filterType"] == "PERCENT_PRICE_BY_SIDE"
    _, some = await mexc.public("/api/v3/exchangeInfo", {"symbols": "BTCUSDT,ETHUSDT"})
    assert {s["symbol"] for s in some["symbols"]} == {"BTCUSDT", "ETHUSDT"}


async def test_depth(mexc: Mexc) -> None:
    status, body = await mexc.public("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5"})
    assert status == 200
    assert isinstance(body["lastUpdateId"], int)
    assert 0 < len(body["bids"]) <= 5
    assert 0 < len(body["asks"]) <= 5
    best_bid, best_ask = Decimal(body["bids"][0][0]), Decimal(body["asks"][0][0])
    assert best_bid < best_ask


async def test_trades_and_agg_trades(mexc: Mexc) -> None:
    # make a trade happen: a market buy takes liquidity
    status, _ = await mexc.signed(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "50"},
    )
    assert status == 200
    status, trades = await mexc.public("/api/v3/trades", {"symbol": "BTCUSDT", "limit": "10"})
    assert status == 200
    assert trades
    assert {
        "id",
        "price",
        "qty",
        "quoteQty",
        "time",
        "isBuyerMaker",
        "isBestMatch",
        "tradeType",
    } <= set(trades[0])
    status, agg = await mexc.public("/api/v3/aggTrades", {"symbol": "BTCUSDT", "limit": "10"})
    assert status == 200
    assert agg
    assert {"a", "f", "l", "p", "q", "T", "m", "M"} <= set(agg[0])


async def test_klines(mexc: Mexc) -> None:
    await mexc.signed(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "20"},
    )
    status, rows = await mexc.public(
        "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": "3"}
    )
    assert status == 200
    assert 1 <= len(rows) <= 3
    open_time, open_, high, low, close, volume, close_time, quote_volume = rows[-1]
    assert isinstance(open_time, int)
    assert close_time > open_time
    assert Decimal(low) <= Decimal(open_) <= Decimal(high)
    assert Decimal(low) <= Decimal(close) <= Decimal(high)
    assert Decimal(volume) >= 0
    assert Decimal(quote_volume) >= 0
    status, body = await mexc.public("/api/v3/klines", {"symbol": "BTCUSDT"})
    assert status == 400
    assert "interval" in body["msg"]


async def test_avg_price_and_tickers(mexc: Mexc) -> None:
    status, avg = await mexc.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})
    assert status == 200
    assert set(avg) == {"mins", "price"}
    status, ticker = await mexc.public("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})
    assert status == 200
    assert {"symbol", "lastPrice", "bidPrice", "askPrice", "volume", "quoteVolume"} <= set(ticker)
    status, tickers = await mexc.public("/api/v3/ticker/24hr")
    assert isinstance(tickers, list)
    assert len(tickers) >= 3
    status, price = await mexc.public("/api/v3/ticker/price", {"symbol": "ETHUSDT"})
    assert (status, set(price)) == (200, {"symbol", "price"})
    status, prices = await mexc.public("/api/v3/ticker/price")
    assert isinstance(prices, list)
    status, book = await mexc.public("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
    assert (status, set(book)) == (200, {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"})
    status, books = await mexc.public("/api/v3/ticker/bookTicker")
    assert isinstance(books, list)


async def test_new_coin_calendar(mexc: Mexc) -> None:
    status, body = await mexc.public("/api/operation/new_coin_calendar", {"timestamp": "1"})
    assert status == 200
    assert isinstance(body["data"]["newCoins"], list)


async def test_public_parameter_errors(mexc: Mexc) -> None:
    status, body = await mexc.public("/api/v3/depth", {"symbol": "NOPEUSDT"})
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
    status, body = await mexc.public("/api/v3/depth")
    assert status == 400
    assert "'symbol'" in body["msg"]
    status, body = await mexc.public("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "ten"})
    assert status == 400
    assert "'limit'" in body["msg"]


# --- trading ---


async def test_place_query_cancel_order(mexc: Mexc) -> None:
    status, ack = await mexc.signed("POST", "/api/v3/order", limit_buy("rest-1"))
    assert status == 200, ack
    assert set(ack) == {
        "symbol",
        "orderId",
        "orderListId",
        "price",
        "origQty",
        "type",
        "side",
        "transactTime",
    }
    assert ack["orderId"].startswith("C02__")
    status, order = await mexc.signed(
        "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": ack["orderId"]}
    )
    assert status == 200
    assert set(order) >= ORDER_KEYS
    assert (order["status"], order["clientOrderId"]) == ("NEW", "rest-1")
    status, opened = await mexc.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    assert status == 200
    assert [o["orderId"] for o in opened] == [ack["orderId"]]
    status, canceled = await mexc.signed(
        "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "rest-1"}
    )
    assert status == 200
    assert set(canceled) >= CANCEL_KEYS
    assert canceled["status"] == "CANCELED"
    status, every = await mexc.signed("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"})
    assert status == 200
    assert [o["status"] for o in every if o["orderId"] == ack["orderId"]] == ["CANCELED"]


async def test_order_test_validates_without_placing(mexc: Mexc) -> None:
    assert await mexc.signed("POST", "/api/v3/order/test", limit_buy()) == (200, {})
    _, opened = await mexc.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    assert opened == []
    status, body = await mexc.signed("POST", "/api/v3/order/test", limit_buy() | {"quantity": "0"})
    assert status == 400
    assert body["code"] != 0


async def test_business_error_shape(mexc: Mexc) -> None:
    status, body = await mexc.signed("POST", "/api/v3/order", limit_buy() | {"quantity": "0.00001"})
    assert status == 400
    assert body["code"] == 30002
    assert "：" in body["msg"]
    status, body = await mexc.signed(
        "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "never-placed"}
    )
    assert (status, body) == (400, {"msg": "Order does not exist.", "code": -2013, "_extend": None})
    status, body = await mexc.signed(
        "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "never-placed"}
    )
    assert (status, body) == (400, {"code": -2011, "msg": "Unknown order sent."})
    status, body = await mexc.signed("POST", "/api/v3/order", limit_buy() | {"price": "30000.000"})
    assert (status, body) == (400, {"msg": " price scale is invalid", "code": 400})


async def test_batch_orders_mixed_results(mexc: Mexc) -> None:
    batch = json.dumps(
        [limit_buy("batch-ok"), limit_buy("batch-bad") | {"quantity": "0.00001"}],
        separators=(",", ":"),
    )
    status, results = await mexc.signed("POST", "/api/v3/batchOrders", {"batchOrders": batch})
    assert status == 200
    assert len(results) == 2
    assert results[0]["orderId"].startswith("C02__")
    assert results[1]["code"] == 30002
    status, body = await mexc.signed("POST", "/api/v3/batchOrders", {"batchOrders": "{nope"})
    assert status == 400
    assert "batchOrders" in body["msg"]


async def test_cancel_open_orders(mexc: Mexc) -> None:
    for i in range(2):
        status, _ = await mexc.signed("POST", "/api/v3/order", limit_buy(f"open-{i}"))
        assert status == 200
    status, canceled = await mexc.signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    assert status == 200
    assert sorted(o["clientOrderId"] for o in canceled) == ["open-0", "open-1"]
    _, opened = await mexc.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    assert opened == []


async def test_account_my_trades_trade_fee_self_symbols(mexc: Mexc) -> None:
    status, _ = await mexc.signed(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100"},
    )
    assert status == 200
    status, account = await mexc.signed("GET", "/api/v3/account")
    assert status == 200
    assert {
        "canTrade",
        "canWithdraw",
        "canDeposit",
        "accountType",
        "balances",
        "permissions",
    } <= set(account)
    assert {b["asset"] for b in account["balances"]} >= {"USDT", "BTC"}
    status, trades = await mexc.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
    assert status == 200
    assert trades
    assert {"symbol", "id", "orderId", "price", "qty", "commission", "commissionAsset"} <= set(
        trades[0]
    )
    status, fee = await mexc.signed("GET", "/api/v3/tradeFee", {"symbol": "BTCUSDT"})
    assert status == 200
    assert set(fee["data"]) == {"makerCommission", "takerCommission"}
    status, own = await mexc.signed("GET", "/api/v3/selfSymbols")
    assert status == 200
    assert "BTCUSDT" in own["data"]


async def test_user_data_stream_lifecycle(mexc: Mexc) -> None:
    status, created = await mexc.signed("POST", "/api/v3/userDataStream")
    assert status == 200
    key = created["listenKey"]
    status, listed = await mexc.signed("GET", "/api/v3/userDataStream")
    assert (status, listed) == (200, {"listenKey": [key]})
    status, _ = await mexc.signed("PUT", "/api/v3/userDataStream", {"listenKey": key})
    assert status == 200
    status, _ = await mexc.signed("DELETE", "/api/v3/userDataStream", {"listenKey": key})
    assert status == 200
    _, listed = await mexc.signed("GET", "/api/v3/userDataStream")
    assert listed == {"listenKey": []}
    status, body = await mexc.signed("PUT", "/api/v3/userDataStream")
    assert status == 400
    assert "listenKey" in body["msg"]


# --- transport details ---


async def test_form_body_parameters_query_wins(sim_no_limits: SimServer) -> None:
    """Parameters may sit in a form body; when a key is in both, the query string wins."""
    query = "symbol=BTCUSDT&side=BUY"
    body = (
        "side=SELL&type=LIMIT&quantity=0.001&price=30000&newClientOrderId=form-1&timestamp="
        + str(sim_no_limits.now_ms())
    )
    signature = sign(SIM_API_SECRET, query + body)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sim_no_limits.url}/api/v3/order?{query}",
            data=f"{body}&signature={signature}",
            headers=auth_headers() | {"Content-Type": "application/x-www-form-urlencoded"},
        ) as response,
    ):
        ack = await response.json()
        assert response.status == 200, ack
    assert ack["side"] == "BUY"


async def test_auth_errors_over_http(mexc: Mexc, sim_no_limits: SimServer) -> None:
    url = f"{sim_no_limits.url}/api/v3/account?timestamp={sim_no_limits.now_ms()}"
    async with mexc.http.get(url) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 400
    async with mexc.http.get(url, headers={"x-mexc-apikey": "nobody"}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 10072
    async with mexc.http.get(url, headers={"X-MEXC-APIKEY": "test-api-key"}) as response:
        assert (response.status, (await response.json())["code"]) == (400, 700004)
    bad = f"{url}&signature={'0' * 64}"
    async with mexc.http.get(bad, headers={"X-MEXC-APIKEY": "test-api-key"}) as response:
        assert await response.json() == {
            "code": 700002,
            "msg": "Signature for this request is not valid.",
        }
    stale = signed_url(sim_no_limits.url, "/api/v3/account", timestamp_ms=1_000_000)
    async with mexc.http.get(stale, headers=auth_headers()) as response:
        assert (response.status, (await response.json())["code"]) == (400, 700003)


async def test_unknown_path_and_method_answer_json(mexc: Mexc, sim_no_limits: SimServer) -> None:
    async with mexc.http.get(f"{sim_no_limits.url}/api/v3/nothing") as response:
        assert response.status == 404
        assert (await response.json())["code"] == 404
    async with mexc.http.put(f"{sim_no_limits.url}/api/v3/ping") as response:
        assert response.status == 405
        assert (await response.json())["code"] == 405
