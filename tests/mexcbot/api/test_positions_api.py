"""The positions and risk routes over real HTTP on a paper bot: a position opened with a stop,
a two-level ladder and a trailing stop sees each exit fire once as the paper price moves; the
kill switch refuses a new entry while a stop still sells."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mexcbot.app import Bot
from mexcbot.domain.orders import OrderOrigin
from tests.fixtures.api import MakeBot, api_url, auth, read_until, set_paper_price, tokens_for

D = Decimal
SYMBOL = "ETHUSDT"


@pytest.fixture
async def bot(make_bot: MakeBot) -> AsyncIterator[Bot]:
    async with make_bot(exit_check_interval=0.05) as running:
        yield running


class Client:
    def __init__(self, http: aiohttp.ClientSession, bot: Bot, token: str) -> None:
        self.http, self.base, self.token = http, api_url(bot), token

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        async with self.http.request(
            method, f"{self.base}{path}", json=body, params=params, headers=auth(self.token)
        ) as response:
            payload = await response.json() if response.status != 204 else None
            return response.status, payload


async def set_price(http: aiohttp.ClientSession, bot: Bot, price: Decimal) -> None:
    """Move the paper price of SYMBOL (to the cent) the way a user does."""
    await set_paper_price(http, bot, SYMBOL, str(price.quantize(D("0.01"))))


async def until(read: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
    return await read_until(read, check, within_s=10)


async def exit_orders(bot: Bot, position_id: int) -> list[str]:
    async with bot.uow_factory() as uow:
        orders = (await uow.orders.list(symbol=SYMBOL, limit=1000)).orders
    return [
        o.client_order_id
        for o in orders
        if o.request.origin is OrderOrigin.POSITION_EXIT
        and o.request.origin_ref == f"position:{position_id}"
    ]


async def open_with_stop(
    http: aiohttp.ClientSession, bot: Bot, trader: Client, quote_amount: str, stop: str
) -> int:
    """At a price of 3200, a position opened with a stop-loss at `stop`; its id."""
    await set_price(http, bot, D("3200"))
    status, opened = await trader.call(
        "POST",
        "/api/v1/positions",
        {"symbol": SYMBOL, "quote_amount": quote_amount, "exits": {"stop_loss": {"price": stop}}},
    )
    assert status == 201, opened
    position_id: int = opened["position"]["id"]
    return position_id


async def test_stop_ladder_and_trailing_each_fire_once(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    trader = Client(http, bot, tokens["trade"])
    await set_price(http, bot, D("3200"))
    status, opened = await trader.call(
        "POST",
        "/api/v1/positions",
        {
            "symbol": SYMBOL,
            "quote_amount": "320",
            "exits": {
                "stop_loss": {"percent": "10"},
                "trailing": {"callback_percent": "5", "activation_percent": "15"},
                "take_profits": [
                    {"fraction": "0.3", "percent": "5"},
                    {"fraction": "0.3", "percent": "10"},
                ],
            },
        },
    )
    assert status == 201, opened
    position = opened["position"]
    pid, entry = position["id"], D(position["average_entry"])
    assert opened["entry_order"]["status"] == "FILLED"
    assert D(position["stop_price"]) == (entry * D("0.9")).quantize(D("1e-18"), ROUND_DOWN)

    async def read() -> dict[str, Any]:
        return (await trader.call("GET", f"/api/v1/positions/{pid}"))[1]

    await set_price(http, bot, entry * D("1.07"))
    await until(read, lambda p: p["take_profits_done"] == 1 and p["exit_order_id"] is None)
    await set_price(http, bot, entry * D("1.12"))
    await until(read, lambda p: p["take_profits_done"] == 2 and p["exit_order_id"] is None)
    await set_price(http, bot, entry * D("1.30"))
    armed = await until(read, lambda p: p["stop_trigger"] == "trailing")
    assert D(armed["stop_price"]) > entry
    await set_price(http, bot, entry * D("1.10"))
    closed = await until(read, lambda p: p["status"] == "CLOSED")
    assert D(closed["realised_pnl"]) > 0
    assert D(closed["quantity"]) == 0
    assert len(await exit_orders(bot, pid)) == 3
    await asyncio.sleep(0.3)  # more ticks: nothing more is sold
    assert len(await exit_orders(bot, pid)) == 3

    status, summary = await trader.call("GET", "/api/v1/positions/summary")
    assert status == 200
    assert (summary["closed"], summary["wins"], summary["win_rate"]) == (1, 1, "1")
    assert D(summary["realised_pnl"]) == D(closed["realised_pnl"])
    status, listed = await trader.call("GET", "/api/v1/positions", status="CLOSED")
    assert [p["id"] for p in listed["positions"]] == [pid]
    status, _ = await trader.call("DELETE", f"/api/v1/positions/{pid}")
    assert status == 204
    status, missing = await trader.call("GET", f"/api/v1/positions/{pid}")
    assert (status, missing["code"]) == (404, "position_not_found")


async def test_kill_switch_blocks_entries_while_a_stop_still_sells(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    trader = Client(http, bot, tokens["trade"])
    admin = Client(http, bot, tokens["admin"])
    pid = await open_with_stop(http, bot, trader, "100", "3000")
    status, _ = await trader.call("PUT", "/api/v1/risk", {"state": "REDUCING"})
    assert status == 403
    status, risk = await admin.call(
        "PUT", "/api/v1/risk", {"state": "REDUCING", "reason": "kill switch test"}
    )
    assert (status, risk["state"], risk["open_positions"]) == (200, "REDUCING", 1)
    status, refused = await trader.call(
        "POST", "/api/v1/positions", {"symbol": SYMBOL, "quote_amount": "100"}
    )
    assert (status, refused["code"], refused["limit"]) == (422, "risk_rejected", "trading_state")
    await set_price(http, bot, D("2950"))

    async def read() -> dict[str, Any]:
        return (await trader.call("GET", f"/api/v1/positions/{pid}"))[1]

    closed = await until(read, lambda p: p["status"] == "CLOSED")
    assert D(closed["realised_pnl"]) < 0
    assert len(await exit_orders(bot, pid)) == 1
    status, moved = await trader.call(
        "PUT", f"/api/v1/positions/{pid}", {"exits": {"stop_loss": {"price": "1"}}}
    )
    assert (status, moved["code"]) == (409, "position_conflict")


async def test_manual_close_and_a_stop_that_may_not_move_down(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    trader = Client(http, bot, tokens["trade"])
    pid = await open_with_stop(http, bot, trader, "50", "3000")
    status, lowered = await trader.call(
        "PUT", f"/api/v1/positions/{pid}", {"exits": {"stop_loss": {"price": "2000"}}}
    )
    assert (status, lowered["code"], lowered["field"]) == (409, "position_conflict", "stop_loss")
    status, bad = await trader.call(
        "PUT",
        f"/api/v1/positions/{pid}",
        {"exits": {"take_profits": [{"fraction": "0.7", "price": "4000"}] * 2}},
    )
    assert (status, bad["code"], bad["field"]) == (422, "invalid_exits", "exits.take_profits")
    assert bad["detail"].startswith("exits.take_profits: fractions add up to 1.4")
    status, open_now = await trader.call("GET", "/api/v1/positions/open")
    assert [p["id"] for p in open_now] == [pid]
    status, closed = await trader.call("PUT", f"/api/v1/positions/{pid}/close")
    assert status == 200, closed
    assert closed["exit_order"]["status"] == "FILLED"
    assert closed["position"]["status"] == "CLOSED"
    status, again = await trader.call("PUT", f"/api/v1/positions/{pid}/close")
    assert (status, again["code"]) == (409, "position_conflict")


async def test_position_and_trading_state_changes_reach_the_metrics(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    admin = Client(http, bot, tokens["admin"])
    status, _ = await admin.call("PUT", "/api/v1/risk", {"state": "HALTED", "reason": "metrics"})
    assert status == 200
    status, refused = await Client(http, bot, tokens["trade"]).call(
        "POST", "/api/v1/positions", {"symbol": SYMBOL, "quote_amount": "20"}
    )
    assert (status, refused["limit"]) == (422, "trading_state")
    async with http.get(f"{api_url(bot)}/metrics", headers=auth(tokens["read"])) as response:
        text = await response.text()
    assert 'mexcbot_trading_state{state="HALTED"} 1.0' in text
    assert 'mexcbot_position_events_total{kind="opened"} 1.0' in text
    assert 'mexcbot_position_events_total{kind="deleted"} 1.0' in text  # the refused entry's
    status, listed = await admin.call("GET", "/api/v1/positions")
    assert listed["total"] == 0  # a refused entry leaves no position behind


async def test_a_position_opened_after_deleting_the_newest_gets_a_new_id_and_buys(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    """Deleting the newest (closed) position must not hand its id to the next one: the entry's
    client order id derives from the id, so the next position was refused (409, an
    Idempotency-Key the user never sent) or, with the same order, took the old one's fills."""
    tokens = await tokens_for(bot)
    trader = Client(http, bot, tokens["trade"])
    first = await open_with_stop(http, bot, trader, "50", "3000")
    status, closed = await trader.call("PUT", f"/api/v1/positions/{first}/close")
    assert status == 200, closed
    status, _ = await trader.call("DELETE", f"/api/v1/positions/{first}")
    assert status == 204
    for _ in range(2):  # the same order as the deleted position's entry, then another
        status, opened = await trader.call(
            "POST", "/api/v1/positions", {"symbol": SYMBOL, "quote_amount": "50"}
        )
        assert status == 201, opened
        assert opened["position"]["id"] > first
        assert opened["entry_order"]["status"] == "FILLED"
        assert opened["entry_order"]["created_at"] > closed["exit_order"]["created_at"]


async def test_an_entry_fill_stored_but_not_applied_before_a_crash_is_applied_at_restart(
    make_bot: MakeBot, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A kill -9 between storing the entry order's fill and applying it to its position left
    the position holding nothing, with no stop, while its coins sat on the account. The
    restart applies the stored fills of every open position's orders."""
    async with make_bot(exit_check_interval=0.05) as bot:
        tokens = await tokens_for(bot)
        pid = await open_with_stop(http, bot, Client(http, bot, tokens["trade"]), "50", "3000")
    # The state that crash leaves: the order and its fill stored, the position as created.
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute("DELETE FROM position_fills WHERE position_id = ?", (pid,))
        db.execute(
            "UPDATE positions SET quantity = '0', entered_quantity = '0', cost = '0',"
            " spent_quote = '0', fees_quote = '0', peak_price = NULL, trough_price = NULL,"
            " stop_price = NULL, stop_trigger = NULL WHERE id = ?",
            (pid,),
        )
    async with make_bot(exit_check_interval=0.05) as bot:
        reader = Client(http, bot, tokens["read"])

        async def read() -> tuple[int, Any]:
            return await reader.call("GET", f"/api/v1/positions/{pid}")

        # the engine's start-up applies them, just after the API is up
        status, position = await read_until(read, lambda r: D(r[1]["quantity"]) > 0, 10.0)
    assert status == 200, position
    assert position["status"] == "OPEN"
    assert len(position["fills"]) == 1
    assert D(position["stop_price"]) == D("3000")


async def test_a_position_update_may_change_the_notes_alone(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    """`PUT /positions/{id}` changes "exits or notes": notes alone keep the exits."""
    tokens = await tokens_for(bot)
    trader = Client(http, bot, tokens["trade"])
    pid = await open_with_stop(http, bot, trader, "50", "3000")
    status, updated = await trader.call("PUT", f"/api/v1/positions/{pid}", {"notes": "swing"})
    assert status == 200, updated
    assert updated["notes"] == "swing"
    assert D(updated["stop_price"]) == D("3000")
    status, problem = await trader.call("PUT", f"/api/v1/positions/{pid}", {})
    assert (status, problem["field"]) == (422, "exits"), problem


async def test_a_bad_ladder_level_is_named_by_its_index(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    """The field of an exit error is its path in the body (the dashboard puts the message
    beside that input): `exits.take_profits.1.fraction`, not `take_profit.fraction`."""
    trader = Client(http, bot, (await tokens_for(bot))["trade"])
    ladder = [{"fraction": "0.5", "percent": "5"}, {"fraction": "2", "percent": "10"}]
    for take_profits, field in [
        (ladder, "exits.take_profits.1.fraction"),
        ([{"fraction": "0.5"}], "exits.take_profits.0"),
    ]:
        body = {"symbol": SYMBOL, "quote_amount": "50", "exits": {"take_profits": take_profits}}
        status, problem = await trader.call("POST", "/api/v1/positions", body)
        assert (status, problem["code"], problem["field"]) == (422, "invalid_exits", field)
        assert problem["detail"].startswith(field), problem
    status, page = await trader.call("GET", "/api/v1/positions")
    assert page["positions"] == []
