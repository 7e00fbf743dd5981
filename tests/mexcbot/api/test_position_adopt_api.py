"""Adopting fills and holdings through `POST /api/v1/positions` on a paper bot (its account
starts with 10 ETH): a filled BUY order the bot placed by hand becomes a position with its
exits armed at once; holdings bought elsewhere are adopted up to the free balance; what an open
position already holds is refused, and every refusal is a 422 naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from mexcbot.app import Bot
from tests.fixtures.api import MakeBot, place_order
from tests.mexcbot.api.test_positions_api import SYMBOL, Client, exit_orders, set_price, until

D = Decimal


@pytest.fixture
async def bot(make_bot: MakeBot) -> AsyncIterator[Bot]:
    async with make_bot(exit_check_interval=0.05) as running:
        yield running


@pytest.fixture
def trader(http: aiohttp.ClientSession, bot: Bot, tokens: dict[str, str]) -> Client:
    """The API as the trade token."""
    return Client(http, bot, tokens["trade"])


async def market_order(
    http: aiohttp.ClientSession, bot: Bot, token: str, side: str, **amount: str
) -> dict[str, Any]:
    """At the paper price 3200, a MARKET order of `side` for `amount` placed through the API as
    `token`; the order (the answer asserted a 200 or 201)."""
    await set_price(http, bot, D("3200"))
    status, placed = await place_order(
        http, bot, token, {"symbol": SYMBOL, "side": side, "type": "MARKET", **amount}
    )
    assert status in (200, 201), placed
    return placed


async def free_eth(trader: Client) -> Decimal:
    status, balances = await trader.call("GET", "/api/v1/account/balances")
    assert status == 200, balances
    rows = balances["balances"] if isinstance(balances, dict) else balances
    return next(D(b["free"]) for b in rows if b["asset"] == "ETH")


async def test_adopt_a_filled_order_then_holdings_up_to_the_free_balance(
    bot: Bot, http: aiohttp.ClientSession, tokens: dict[str, str], trader: Client
) -> None:
    order = await market_order(http, bot, tokens["trade"], "BUY", quote_amount="320")
    assert order["status"] == "FILLED"

    status, adopted = await trader.call(
        "POST",
        "/api/v1/positions",
        {
            "symbol": SYMBOL,
            "adopt": {"order_ids": [order["exchange_order_id"]]},
            "exits": {"stop_loss": {"percent": "5"}},
        },
    )
    assert status == 201, adopted
    position = adopted["position"]
    assert adopted["entry_order"] is None
    assert D(position["quantity"]) > 0
    assert D(position["quantity"]) <= D(order["executed_qty"])
    assert {f["client_order_id"] for f in position["fills"]} == {order["client_order_id"]}
    assert position["stop_price"] is not None  # armed at once
    assert D(position["stop_price"]) < D(position["average_entry"])

    status, twice = await trader.call(
        "POST",
        "/api/v1/positions",
        {"symbol": SYMBOL, "adopt": {"order_ids": [order["client_order_id"]]}},
    )
    assert (status, twice["code"], twice["field"]) == (422, "adoption_refused", "adopt.order_ids")

    free = await until(lambda: free_eth(trader), lambda f: f >= D(10))
    held = D(position["quantity"])
    status, too_much = await trader.call(
        "POST",
        "/api/v1/positions",
        {
            "symbol": SYMBOL,
            "adopt": {"quantity": str(free - held + D("0.01")), "entry_price": "3000"},
        },
    )
    assert (status, too_much["code"], too_much["field"]) == (
        422,
        "adoption_refused",
        "adopt.quantity",
    )
    status, listed = await trader.call("GET", "/api/v1/positions/open")
    assert len(listed) == 1  # the refusal stored nothing

    status, holdings = await trader.call(
        "POST",
        "/api/v1/positions",
        {
            "symbol": SYMBOL,
            "adopt": {"quantity": "1", "entry_price": "3000"},
            "exits": {"stop_loss": {"price": "2900"}},
            "notes": "bought on another exchange",
        },
    )
    assert status == 201, holdings
    second = holdings["position"]
    assert (D(second["quantity"]), D(second["average_entry"])) == (D(1), D(3000))
    assert D(second["stop_price"]) == D(2900)

    await set_price(http, bot, D("2850"))  # below both stops: each adopted position sells once

    async def read(pid: int) -> dict[str, Any]:
        return (await trader.call("GET", f"/api/v1/positions/{pid}"))[1]

    for pid in (position["id"], second["id"]):
        closed = await until(lambda pid=pid: read(pid), lambda p: p["status"] == "CLOSED")
        assert D(closed["realised_pnl"]) < 0
        assert len(await exit_orders(bot, pid)) == 1

    admin = Client(http, bot, tokens["admin"])
    entries = (await admin.call("GET", "/api/v1/admin/audit"))[1]
    adoptions = {
        (e["actor"], e["result"], e["target"])
        for e in entries
        if e["target"] in (f"position:{position['id']}", f"position:{second['id']}")
    }
    assert adoptions == {
        ("test-trade", "ok", f"position:{position['id']}"),
        ("test-trade", "ok", f"position:{second['id']}"),
    }


MALFORMED: list[tuple[dict[str, Any], dict[str, str], str]] = [
    ({}, {}, "adopt"),
    ({"order_ids": ["x"], "quantity": "1", "entry_price": "1"}, {}, "adopt"),
    ({"quantity": "1"}, {}, "adopt.entry_price"),
    ({"order_ids": ["x"], "entry_price": "1"}, {}, "adopt.entry_price"),
    ({"quantity": "1", "entry_price": "1"}, {"quote_amount": "10"}, "quote_amount"),
    ({"quantity": "-1", "entry_price": "1"}, {}, "adopt.quantity"),
    ({"order_ids": []}, {}, "adopt.order_ids"),
]


async def test_malformed_unknown_or_sell_adoptions_are_422s_naming_the_field(
    bot: Bot, http: aiohttp.ClientSession, tokens: dict[str, str], trader: Client
) -> None:
    for adopt, extra, field in MALFORMED:
        status, refused = await trader.call(
            "POST", "/api/v1/positions", {"symbol": SYMBOL, "adopt": adopt, **extra}
        )
        assert (status, refused["field"]) == (422, field), (adopt, refused)
    status, unknown = await trader.call(
        "POST", "/api/v1/positions", {"symbol": SYMBOL, "adopt": {"order_ids": ["nope"]}}
    )
    assert (status, unknown["code"], unknown["field"]) == (
        422,
        "adoption_refused",
        "adopt.order_ids",
    )
    order = await market_order(http, bot, tokens["trade"], "SELL", quantity="0.01")
    status, refused = await trader.call(
        "POST",
        "/api/v1/positions",
        {"symbol": SYMBOL, "adopt": {"order_ids": [order["client_order_id"]]}},
    )
    assert (status, refused["code"]) == (422, "adoption_refused")
    assert "SELL" in refused["detail"]
    status, listed = await trader.call("GET", "/api/v1/positions")
    assert listed["total"] == 0


async def test_two_adoptions_of_one_order_at_once_open_one_position(
    bot: Bot, http: aiohttp.ClientSession, tokens: dict[str, str], trader: Client
) -> None:
    bought = await market_order(http, bot, tokens["trade"], "BUY", quote_amount="100")
    body = {"symbol": SYMBOL, "adopt": {"order_ids": [bought["client_order_id"]]}}
    answers = await asyncio.gather(*(trader.call("POST", "/api/v1/positions", body) for _ in "ab"))
    assert sorted(status for status, _ in answers) == [201, 422]
    refused = next(answer for status, answer in answers if status == 422)
    assert (refused["code"], refused["field"]) == ("adoption_refused", "adopt.order_ids")
    _, listed = await trader.call("GET", "/api/v1/positions/open")
    assert len(listed) == 1
