"""Inputs the API used to read leniently or answer with a 500: numbers, cursors, dates, symbols,
slashes. Over real HTTP on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from mexcbot.app import Bot
from tests.fixtures.api import api_url, auth

ORDERS = "/api/v1/trades/orders"
LENIENT = ["1_000", "+100", "١٠٠", "１００", " 100", "1e3", "100.", ".5", "-5"]


async def _get(
    http: aiohttp.ClientSession, bot: Bot, token: str, path: str, **params: str
) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{api_url(bot)}{path}", params=params, headers=auth(token)) as response:
        return response.status, await response.json(content_type=None)


async def test_out_of_range_cursor_and_since_are_422_naming_the_parameter(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    cases = {
        "cursor": ["9223372036854775808", "9999999999999999999"],
        "since": ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"],
    }
    for name, values in cases.items():
        for value in values:
            status, problem = await _get(http, bot, tokens["read"], ORDERS, **{name: value})
            assert (status, problem["field"]) == (422, name), (value, problem)
            assert problem["detail"].startswith(f"{name}: ")
    status, page = await _get(http, bot, tokens["read"], ORDERS, cursor="9223372036854775807")
    assert (status, page["orders"]) == (200, [])


OUT_OF_UTC = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


async def test_instants_out_of_utc_range_are_422_everywhere(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    for path in ("/api/v1/positions", "/api/v1/positions/summary"):
        for value in OUT_OF_UTC:
            status, problem = await _get(http, bot, tokens["read"], path, since=value)
            assert (status, problem["field"]) == (422, "since"), (path, value, problem)
    url = f"{api_url(bot)}/api/v1/listings"
    for value in OUT_OF_UTC:
        body = {"base_asset": "FARCOIN", "open_time": value}
        async with http.post(url, json=body, headers=auth(tokens["trade"])) as response:
            problem = await response.json(content_type=None)
        assert response.status == 422, problem
        assert "open_time" in str(problem), problem
        assert "out of range" in str(problem), problem
    status, listings = await _get(http, bot, tokens["read"], "/api/v1/listings", view="all")
    assert status == 200
    assert all(listing["symbol"] != "FARCOINUSDT" for listing in listings["listings"]), listings


async def test_a_500_carries_the_request_id_it_promises(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bot.execution is not None

    async def broken(symbol: str) -> list[Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.execution, "open_orders", broken)
    headers = {**auth(tokens["read"]), "X-Request-ID": "trace-500-abc"}
    url = f"{api_url(bot)}{ORDERS}/open/BTCUSDT"
    async with http.get(url, headers=headers) as response:
        assert response.status == 500
        assert response.content_type == "application/problem+json"
        problem = await response.json(content_type=None)
        assert response.headers.get("X-Request-ID") == "trace-500-abc"
    assert problem["request_id"] == "trace-500-abc"
    assert "a bug" not in str(problem)


@pytest.mark.parametrize("amount", LENIENT)
async def test_lenient_numbers_are_refused_in_queries(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, amount: str
) -> None:
    path = "/api/v1/trades/calculate/BTCUSDT"
    status, problem = await _get(http, bot, tokens["read"], path, side="BUY", amount=amount)
    assert (status, problem["field"]) == (422, "amount"), problem
    assert "plain decimal number" in problem["detail"]
    status, problem = await _get(http, bot, tokens["read"], ORDERS, limit=amount)
    assert (status, problem["field"]) == (422, "limit"), problem
    assert "plain whole number" in problem["detail"]


async def test_lenient_numbers_are_refused_in_bodies(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001"}
    for field in ("quantity", "price"):
        for value in [*LENIENT, 0.5]:  # a JSON fraction would be read as a binary float
            body = {**order, "price": "30000", field: value}
            url = f"{api_url(bot)}{ORDERS}"
            async with http.post(url, json=body, headers=auth(tokens["trade"])) as response:
                problem = await response.json(content_type=None)
                assert (response.status, problem["field"]) == (422, field), (value, problem)
                assert problem["errors"][0]["rule"] == "plain_decimal"
    async with http.post(
        f"{api_url(bot)}{ORDERS}",
        json={**order, "type": "MARKET", "quote_amount": "1_000", "quantity": None},
        headers=auth(tokens["trade"]),
    ) as response:
        assert (response.status, (await response.json())["field"]) == (422, "quote_amount")
    async with http.post(
        f"{api_url(bot)}{ORDERS}", json={**order, "price": "30000"}, headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 201  # a plain decimal string still places the order


async def test_unknown_symbols_are_404_on_every_trading_route(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    base = api_url(bot)
    for method, path, token in [
        ("GET", f"{ORDERS}/open/ZZZZUSDT", "read"),
        ("GET", f"{ORDERS}/history/ZZZZUSDT", "read"),
        ("GET", f"{ORDERS}/ZZZZUSDT/some-order", "read"),
        ("DELETE", f"{ORDERS}/ZZZZUSDT/some-order", "trade"),
        ("GET", "/api/v1/trades/calculate/ZZZZUSDT?side=BUY&amount=10", "read"),
    ]:
        async with http.request(method, f"{base}{path}", headers=auth(tokens[token])) as response:
            problem = await response.json(content_type=None)
            assert response.status == 404, (path, problem)
            assert (problem["code"], problem["field"]) == ("unknown_symbol", "symbol")


async def test_a_trailing_slash_is_not_redirected_to_the_host_header(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    headers = {**auth(tokens["read"]), "Host": "evil.example"}
    async with http.get(
        f"{api_url(bot)}{ORDERS}/", headers=headers, allow_redirects=False
    ) as response:
        assert response.status == 404
        assert "Location" not in response.headers
        assert response.content_type == "application/problem+json"


async def test_a_listing_moved_onto_a_known_open_time_is_that_listing_not_a_500(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    url = f"{api_url(bot)}/api/v1/listings"
    times = ["2000-01-01T01:00:00Z", "2000-01-01T00:00:00Z", "2000-01-01T01:00:00Z"]
    times += ["2030-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]
    for open_time in times:
        body = {"base_asset": "0", "open_time": open_time}
        async with http.post(url, json=body, headers=auth(tokens["trade"])) as response:
            listing = await response.json(content_type=None)
        assert response.status == 201, (open_time, listing)
        assert listing["open_time"].startswith(open_time[:19]), (open_time, listing)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "LIMIT", "quantity": "0.001"}, "price"),
        ({"type": "LIMIT", "price": "30000"}, "quantity"),
        ({"type": "MARKET"}, "quantity"),
        ({"type": "MARKET", "quantity": "0.001", "quote_amount": "10"}, "quantity"),
        ({"type": "MARKET", "quote_amount": "10", "price": "30000"}, "price"),
        ({"type": "LIMIT", "quantity": "0.001", "price": "3", "quote_amount": "1"}, "quote_amount"),
        (
            {"type": "LIMIT_MAKER", "quantity": "0.001", "price": "3", "time_in_force": "IOC"},
            "time_in_force",
        ),
    ],
)
async def test_an_order_missing_what_its_type_needs_is_422_naming_that_field(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession, body: dict[str, str], field: str
) -> None:
    """A rule across fields names the field at fault (not "body") and says the rule plainly."""
    url = f"{api_url(bot)}{ORDERS}"
    order = {"symbol": "BTCUSDT", "side": "BUY", **body}
    async with http.post(url, json=order, headers=auth(tokens["trade"])) as response:
        problem = await response.json(content_type=None)
        assert response.status == 422, problem
    assert (problem["code"], problem["field"]) == ("validation_error", field), problem
    assert problem["errors"][0]["field"] == field
    assert problem["errors"][0]["rule"] == "combination"
    assert problem["detail"].startswith(f"{field}: ")
    assert "Value error" not in problem["detail"]
    async with http.get(url, headers=auth(tokens["read"])) as response:
        assert (await response.json())["orders"] == []  # nothing was stored


async def test_a_json_body_sent_as_text_is_told_to_say_it_is_json(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """curl -d without -H 'Content-Type: application/json' sends a form content type; the
    answer names the header, not "Input should be a valid dictionary"."""
    body = '{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"0.001","price":"30000"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        headers = {**auth(tokens["trade"]), "Content-Type": content_type}
        async with http.post(f"{api_url(bot)}{ORDERS}", data=body, headers=headers) as response:
            problem = await response.json(content_type=None)
            assert response.status == 422, problem
        assert (problem["field"], problem["errors"][0]["rule"]) == ("body", "content_type")
        assert "Content-Type: application/json" in problem["detail"]
