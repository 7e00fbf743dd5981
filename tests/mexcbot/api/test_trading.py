"""Trading routes over real HTTP, against the bot's embedded mexcsim."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from mexcbot.app import Bot
from tests.fixtures.api import api_url, auth, place_order, stored_order_count

LIMIT_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.001",
    "price": "30000",
}


async def _get(
    http: aiohttp.ClientSession, bot: Bot, token: str, path: str, **params: str
) -> tuple[int, Any]:
    async with http.get(f"{api_url(bot)}{path}", params=params, headers=auth(token)) as response:
        return response.status, await response.json()


async def test_place_get_list_and_cancel_a_limit_order(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    status, order = await place_order(http, bot, tokens["trade"], LIMIT_BUY)
    assert status == 201, order
    assert order["status"] == "NEW"
    assert Decimal(order["price"]) == Decimal(30000)
    assert Decimal(order["quantity"]) == Decimal("0.001")
    client_id, exchange_id = order["client_order_id"], order["exchange_order_id"]
    assert exchange_id

    for ref in (client_id, exchange_id):
        status, found = await _get(
            http, bot, tokens["read"], f"/api/v1/trades/orders/BTCUSDT/{ref}"
        )
        assert status == 200
        assert found["client_order_id"] == client_id

    status, open_orders = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders/open/BTCUSDT"
    )
    assert [o["client_order_id"] for o in open_orders] == [client_id]

    async with http.delete(
        f"{api_url(bot)}/api/v1/trades/orders/BTCUSDT/{client_id}", headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 200
        assert (await response.json())["status"] == "CANCELED"

    status, open_orders = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders/open/BTCUSDT"
    )
    assert open_orders == []
    status, history = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders/history/BTCUSDT", limit="10"
    )
    assert [o["status"] for o in history] == ["CANCELED"]


async def test_an_order_reads_the_same_in_every_answer(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """Its amounts have one written form: the placement's answer (amounts rounded to the
    symbol's steps in memory), a read of the stored order, the open orders and the live update
    say the same strings."""
    body = {**LIMIT_BUY, "quantity": "0.0010", "price": "30000.0"}
    status, placed = await place_order(http, bot, tokens["trade"], body)
    assert status == 201, placed
    cid = placed["client_order_id"]
    status, read = await _get(http, bot, tokens["read"], f"/api/v1/trades/orders/BTCUSDT/{cid}")
    status, open_orders = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders/open/BTCUSDT"
    )
    amounts = ("quantity", "price", "executed_qty", "cumulative_quote_qty")
    written = [{k: order[k] for k in amounts} for order in (placed, read, *open_orders)]
    assert (
        written
        == [
            {
                "quantity": "0.001",
                "price": "30000",
                "executed_qty": "0",
                "cumulative_quote_qty": "0",
            }
        ]
        * 3
    )


async def test_market_buy_by_quote_amount_fills(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    body = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "50"}
    status, order = await place_order(http, bot, tokens["trade"], body)
    assert status == 201, order
    status, found = await _get(
        http, bot, tokens["read"], f"/api/v1/trades/orders/BTCUSDT/{order['client_order_id']}"
    )
    assert found["status"] == "FILLED"
    assert Decimal(found["executed_qty"]) > 0
    assert Decimal(found["cumulative_quote_qty"]) <= Decimal(50)


async def test_idempotency_key_returns_the_first_order(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    first = await place_order(http, bot, tokens["trade"], LIMIT_BUY, **{"Idempotency-Key": "abc-1"})
    second = await place_order(
        http, bot, tokens["trade"], LIMIT_BUY, **{"Idempotency-Key": "abc-1"}
    )
    assert first[0] == 201
    assert second[1]["client_order_id"] == first[1]["client_order_id"]
    assert await stored_order_count(bot) == 1
    other = await place_order(http, bot, tokens["trade"], LIMIT_BUY, **{"Idempotency-Key": "abc-2"})
    assert other[1]["client_order_id"] != first[1]["client_order_id"]
    assert await stored_order_count(bot) == 2


async def test_idempotency_key_reused_for_another_order_is_409_and_sends_nothing(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    first = await place_order(http, bot, tokens["trade"], LIMIT_BUY, **{"Idempotency-Key": "k-9"})
    assert first[0] == 201
    # more decimals than the symbol takes: rounds to the same order, so it is a repeat
    same = {**LIMIT_BUY, "quantity": "0.0010000001"}
    repeat = await place_order(http, bot, tokens["trade"], same, **{"Idempotency-Key": "k-9"})
    assert repeat[0] == 201
    assert repeat[1]["client_order_id"] == first[1]["client_order_id"]
    for changed in ({"quantity": "0.002"}, {"price": "30001"}, {"side": "SELL"}):
        status, problem = await place_order(
            http, bot, tokens["trade"], {**LIMIT_BUY, **changed}, **{"Idempotency-Key": "k-9"}
        )
        assert status == 409, problem
        assert problem["code"] == "idempotency_key_reused"
        assert problem["field"] == "Idempotency-Key"
        assert problem["client_order_id"] == first[1]["client_order_id"]
    assert await stored_order_count(bot) == 1


async def test_idempotency_keys_are_scoped_to_the_token(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    mine = await place_order(http, bot, tokens["trade"], LIMIT_BUY, **{"Idempotency-Key": "same"})
    theirs = await place_order(http, bot, tokens["admin"], LIMIT_BUY, **{"Idempotency-Key": "same"})
    assert mine[0] == theirs[0] == 201
    assert mine[1]["client_order_id"] != theirs[1]["client_order_id"]
    assert await stored_order_count(bot) == 2


async def test_invalid_orders_are_422_name_the_field_and_change_nothing(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    cases = [
        ({**LIMIT_BUY, "price": "-1"}, "price"),
        ({**LIMIT_BUY, "quantity": "abc"}, "quantity"),
        ({**LIMIT_BUY, "symbol": "btc"}, "symbol"),
        ({k: v for k, v in LIMIT_BUY.items() if k != "price"}, "price"),
        ({**LIMIT_BUY, "quantity": "0.0000001"}, "quantity"),  # finer than the symbol allows
        ({**LIMIT_BUY, "quantity": "0.000001", "price": "1"}, "quantity"),  # below min notional
        ({**LIMIT_BUY, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        status, problem = await place_order(http, bot, tokens["trade"], body)
        assert status == 422, (body, problem)
        assert problem["code"] in {"validation_error", "order_rule_violation", "invalid_order"}
        assert problem["field"] == field, (body, problem)
        assert problem["detail"]
    assert await stored_order_count(bot) == 0


async def test_exchange_rejection_keeps_mexc_code_and_message(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    body = {**LIMIT_BUY, "quantity": "20", "price": "30000"}  # 600,000 USDT: more than funded
    status, problem = await place_order(http, bot, tokens["trade"], body)
    assert status == 400, problem
    assert problem["code"] == "exchange_rejected"
    assert problem["mexc_code"] in {30004, 10101}
    assert problem["mexc_message"]
    status, order = await _get(
        http, bot, tokens["read"], f"/api/v1/trades/orders/BTCUSDT/{problem['client_order_id']}"
    )
    assert order["status"] == "REJECTED"
    assert order["reject_code"] == problem["mexc_code"]


async def test_unknown_order_is_404(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    status, problem = await _get(http, bot, tokens["read"], "/api/v1/trades/orders/BTCUSDT/nope")
    assert status == 404
    assert problem["code"] == "order_not_found"
    async with http.delete(
        f"{api_url(bot)}/api/v1/trades/orders/BTCUSDT/nope", headers=auth(tokens["trade"])
    ) as response:
        assert response.status == 404
        assert response.content_type == "application/problem+json"


async def test_list_orders_filters_and_pages(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    placed = []
    for _ in range(5):
        placed.append(
            (await place_order(http, bot, tokens["trade"], LIMIT_BUY))[1]["client_order_id"]
        )
    newest_first = list(reversed(placed))

    status, page = await _get(http, bot, tokens["read"], "/api/v1/trades/orders", limit="2")
    assert [o["client_order_id"] for o in page["orders"]] == newest_first[:2]
    status, page2 = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders", limit="2", cursor=page["next_cursor"]
    )
    assert [o["client_order_id"] for o in page2["orders"]] == newest_first[2:4]
    status, by_offset = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders", limit="2", offset="2"
    )
    assert by_offset["orders"] == page2["orders"]
    status, past = await _get(http, bot, tokens["read"], "/api/v1/trades/orders", offset="50")
    assert past == {"orders": [], "next_cursor": None}

    status, filled = await _get(http, bot, tokens["read"], "/api/v1/trades/orders", status="FILLED")
    assert filled["orders"] == []
    status, new = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders", status="NEW", symbol="BTCUSDT"
    )
    assert len(new["orders"]) == 5
    status, future = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders", since="2999-01-01T00:00:00Z"
    )
    assert future["orders"] == []
    status, problem = await _get(
        http, bot, tokens["read"], "/api/v1/trades/orders", cursor="1", offset="1"
    )
    assert status == 422
    assert problem["field"] == "cursor"


async def test_calculate_quantity_rounds_to_the_symbol(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    status, rules = await _get(http, bot, tokens["read"], "/api/v1/market/symbols/BTCUSDT")
    status, quote = await _get(
        http, bot, tokens["read"], "/api/v1/trades/calculate/BTCUSDT", side="BUY", amount="100"
    )
    assert status == 200
    quantity = Decimal(quote["quantity"])
    assert quantity > 0
    assert -quantity.as_tuple().exponent <= rules["quantity_precision"]  # type: ignore[operator]
    status, problem = await _get(
        http, bot, tokens["read"], "/api/v1/trades/calculate/NOPEUSDT", side="BUY", amount="1"
    )
    assert status == 404
    assert problem["field"] == "symbol"


async def test_an_error_about_an_order_keeps_the_problem_status_the_http_status(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """RFC 9457 (and the OpenAPI Problem schema): `status` is the HTTP status, an integer. The
    order's own status is `order_status` and `order.status`, never written over it."""
    status, order = await place_order(http, bot, tokens["trade"], LIMIT_BUY)
    assert status == 201, order
    url = f"{api_url(bot)}/api/v1/trades/orders/BTCUSDT/{order['client_order_id']}"
    async with http.delete(url, headers=auth(tokens["trade"])) as response:
        assert response.status == 200
    async with http.delete(url, headers=auth(tokens["trade"])) as response:
        problem = await response.json(content_type=None)
        assert response.status == 409, problem
    assert problem["code"] == "order_not_cancelable"
    assert problem["status"] == 409
    assert problem["order_status"] == problem["order"]["status"] == "CANCELED"
    assert problem["client_order_id"] == order["client_order_id"]

    body = {**LIMIT_BUY, "quantity": "20"}  # 600,000 USDT: more than funded, MEXC refuses
    status, problem = await place_order(http, bot, tokens["trade"], body)
    assert (status, problem["status"], problem["code"]) == (400, 400, "exchange_rejected")
    assert problem["order_status"] == problem["order"]["status"] == "REJECTED"
