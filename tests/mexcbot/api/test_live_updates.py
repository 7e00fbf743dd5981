"""What the live API says: snapshots, updates as the engine trades, resume, and its bounds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp

from mexcbot.app import Bot
from mexcbot.engine.events import PriceChanged, StreamStatusChanged
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for
from tests.fixtures.live import connect, next_message, receive, signed_in, subscribe

LIMIT_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001"}


async def _place(http: aiohttp.ClientSession, bot: Bot, token: str, **body: str) -> dict[str, Any]:
    async with http.post(
        f"{api_url(bot)}/api/v1/trades/orders", json=body, headers=auth(token)
    ) as response:
        assert response.status == 201, await response.text()
        order: dict[str, Any] = await response.json()
        return order


async def _refresh(http: aiohttp.ClientSession, bot: Bot, token: str, client_id: str) -> None:
    url = f"{api_url(bot)}/api/v1/trades/orders/BTCUSDT/{client_id}"
    async with http.get(url, headers=auth(token)) as response:
        assert response.status == 200


async def test_a_market_buy_streams_order_and_fill_updates(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with signed_in(http, bot, tokens["read"]) as ws:
        await subscribe(ws, "orders", "fills")
        snapshot = await next_message(ws, "snapshot", "orders")
        assert snapshot["data"] == {"orders": []}
        assert snapshot["reset"] is False

        order = await _place(
            http,
            bot,
            tokens["trade"],
            symbol="BTCUSDT",
            side="BUY",
            type="MARKET",
            quote_amount="50",
        )
        client_id = order["client_order_id"]
        await _refresh(http, bot, tokens["read"], client_id)  # fills reach the bot by REST today

        updates = [await next_message(ws, "update") for _ in range(4)]
    by_topic = [(m["topic"], m["data"].get("kind")) for m in updates]
    assert by_topic[:2] == [("orders", "created"), ("orders", "acknowledged")]
    # the fill is published when its trade is stored: from the user stream's deals push
    # (before the order's FILLED report) or from the REST read-back (after it)
    assert sorted(by_topic[2:]) == [("fills", None), ("orders", "exchange_update")]
    assert all(m["data"]["order"]["client_order_id"] == client_id for m in updates)
    filled = next(m for m in updates[2:] if m["topic"] == "orders")
    assert filled["data"]["order"]["status"] == "FILLED"
    assert isinstance(filled["data"]["order"]["executed_qty"], str)
    fill = next(m for m in updates[2:] if m["topic"] == "fills")["data"]["fill"]
    assert fill["client_order_id"] == client_id
    assert isinstance(fill["price"], str)
    assert Decimal(fill["quantity"]) > 0
    # One numbering for every topic: another topic's message (the reconciliation that follows
    # the user stream's connection, ~90 ms after the start) may take a number in between.
    seqs = [m["seq"] for m in updates]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > snapshot["seq"]


async def test_snapshots_on_subscribe_show_the_current_state(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    resting = await _place(http, bot, tokens["trade"], **LIMIT_BUY, price="30000")
    async with signed_in(http, bot, tokens["read"]) as ws:
        await subscribe(ws, "orders", "balances", "reconciliation", "streams", "tickers:BTCUSDT")
        orders = await next_message(ws, "snapshot", "orders")
        assert [o["client_order_id"] for o in orders["data"]["orders"]] == [
            resting["client_order_id"]
        ]
        assert orders["data"]["orders"][0]["price"] == "30000"
        balances = (await next_message(ws, "snapshot", "balances"))["data"]["balances"]
        usdt = next(b for b in balances if b["asset"] == "USDT")
        assert isinstance(usdt["free"], str)
        assert Decimal(usdt["locked"]) > 0
        reconciliation = await next_message(ws, "snapshot", "reconciliation")
        assert reconciliation["data"]["runs"] >= 1
        streams = (await next_message(ws, "snapshot", "streams"))["data"]["streams"]
        assert {s["stream"] for s in streams} <= {"user", "market"}  # those connected so far
        assert all(s["connected"] is True for s in streams)
        ticker = await next_message(ws, "snapshot", "tickers:BTCUSDT")
        assert ticker["data"]["symbol"] == "BTCUSDT"
        assert Decimal(ticker["data"]["last_price"]) > 0  # the engine's last REST price


async def test_a_reconnecting_client_resumes_from_its_last_seq(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with signed_in(http, bot, tokens["read"]) as ws:
        await subscribe(ws, "orders")
        seen = (await next_message(ws, "snapshot", "orders"))["seq"]
    missed = [
        await _place(http, bot, tokens["trade"], **LIMIT_BUY, price=p) for p in ("20000", "20001")
    ]

    async with signed_in(http, bot, tokens["read"]) as ws:
        await subscribe(ws, "orders", since=seen)
        replayed = [await receive(ws) for _ in range(4)]  # created + acknowledged, twice
        assert [m["type"] for m in replayed] == ["update"] * 4
        assert [m["data"]["order"]["client_order_id"] for m in replayed[::2]] == [
            o["client_order_id"] for o in missed
        ]
        seqs = [m["seq"] for m in replayed]
        assert seqs == sorted(seqs)
        assert seqs[0] > seen
        # an explicit resume replays again from where the client says it is
        await ws.send_json({"type": "resume", "since": seqs[1]})
        again = [await receive(ws) for _ in range(2)]
        assert [m["seq"] for m in again] == seqs[2:]
        # and a new order after the replay still arrives, once
        newer = await _place(http, bot, tokens["trade"], **LIMIT_BUY, price="20004")
        update = await next_message(ws, "update", "orders")
        assert update["data"]["order"]["client_order_id"] == newer["client_order_id"]
        assert update["seq"] > seqs[-1]


async def test_resuming_beyond_the_buffer_gets_a_reset_snapshot(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_ws_buffer=2) as bot:
        tokens = await tokens_for(bot)
        async with signed_in(http, bot, tokens["read"]) as ws:
            await subscribe(ws, "orders")
            seen = (await next_message(ws, "snapshot", "orders"))["seq"]
        placed = [
            await _place(http, bot, tokens["trade"], **LIMIT_BUY, price=p)
            for p in ("20002", "20003")
        ]
        async with signed_in(http, bot, tokens["read"]) as ws:
            await subscribe(ws, "orders", since=seen)  # 4 updates since, 2 buffered
            reset = await receive(ws)
            assert (reset["type"], reset["topic"], reset["reset"]) == ("snapshot", "orders", True)
            assert {o["client_order_id"] for o in reset["data"]["orders"]} == {
                o["client_order_id"] for o in placed
            }
            await ws.send_json({"type": "resume", "since": 0})  # not a seq of this process
            assert (await receive(ws))["reset"] is True


async def test_a_slow_client_is_closed_with_4408_and_a_reading_one_is_not(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_ws_queue_limit=20, api_ws_buffer=100) as bot:
        tokens = await tokens_for(bot)
        slow = await connect(http, bot, tokens["read"])
        fast = await connect(http, bot, tokens["read"])
        for ws in (slow, fast):
            await next_message(ws, "authenticated")
            await subscribe(ws, "streams")
            await next_message(ws, "snapshot", "streams")
        received = 0
        all_received = asyncio.Event()

        async def read_fast() -> None:
            nonlocal received
            while (await receive(fast))["type"] == "update":
                received += 1
                if received == count:
                    all_received.set()

        reason = "x" * 16_000
        count = 2_000  # 32 MB: more than the socket buffers hold for a client that never reads
        reader = asyncio.create_task(read_fast())
        for reconnects in range(count):
            bot.events.publish(StreamStatusChanged("user", False, reason, reconnects, 0, _now()))
            await asyncio.sleep(0.0005 if reconnects % 4 == 0 else 0)
        error = await next_message(slow, "error", within=30)
        assert error["data"]["code"] == "too_slow"
        assert (await next_message(slow, "closed"))["code"] == 4408
        await slow.close()

        await asyncio.wait_for(all_received.wait(), timeout=30)
        assert not fast.closed
        reader.cancel()
        await fast.close()


async def test_tickers_are_throttled_per_symbol_and_the_latest_price_wins(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(api_ws_ticker_rate=4) as bot:
        tokens = await tokens_for(bot)
        async with signed_in(http, bot, tokens["read"]) as ws:
            await subscribe(ws, "tickers:BTCUSDT", "tickers:ETHUSDT")
            for step in range(1, 21):
                for symbol in ("BTCUSDT", "ETHUSDT"):
                    price = Decimal(30000 + step)
                    bot.events.publish(PriceChanged(symbol, price, price, price, _now()))
            updates: list[dict[str, Any]] = []
            deadline = asyncio.get_running_loop().time() + 1.0
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    message = await receive(ws, within=left)
                except TimeoutError:
                    break
                if message["type"] == "update":
                    updates.append(message)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        mine = [m["data"]["last_price"] for m in updates if m["topic"] == f"tickers:{symbol}"]
        assert mine == ["30001", "30020"], symbol  # the first at once, the latest after 0.25 s


def _now() -> datetime:
    return datetime.now(UTC)


async def test_positions_and_the_trading_state_stream_live(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with signed_in(http, bot, tokens["read"]) as ws:
        await subscribe(ws, "positions", "risk")
        assert (await next_message(ws, "snapshot", "positions"))["data"] == {"positions": []}
        risk = (await next_message(ws, "snapshot", "risk"))["data"]
        assert risk["state"] == "ACTIVE"

        async with http.post(
            f"{api_url(bot)}/api/v1/positions",
            json={"symbol": "ETHUSDT", "quote_amount": "50"},
            headers=auth(tokens["trade"]),
        ) as response:
            opened = await response.json()
            assert response.status == 201, opened
        update = await next_message(ws, "update", "positions")
        assert update["data"]["position"]["id"] == opened["position"]["id"]
        assert update["data"]["position"]["symbol"] == "ETHUSDT"

        async with http.put(
            f"{api_url(bot)}/api/v1/risk",
            json={"state": "REDUCING", "reason": "test"},
            headers=auth(tokens["admin"]),
        ) as response:
            assert response.status == 200, await response.text()
        state = await next_message(ws, "update", "risk")
        assert state["data"]["state"] == "REDUCING"


async def test_a_symbol_first_traded_after_the_start_streams_its_ticker(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """A fresh bot follows no symbol; the first order on ETHUSDT makes the market stream follow
    it (its ticker topic moves, its exits get stream prices), with no restart and no rule."""
    await _place(
        http, bot, tokens["trade"], symbol="ETHUSDT", side="BUY", type="MARKET", quote_amount="20"
    )
    async with await connect(http, bot, tokens["read"]) as ws:
        await next_message(ws, "authenticated")
        await subscribe(ws, "tickers:ETHUSDT")
        update = await next_message(ws, "update", "tickers:ETHUSDT")
        while update["data"]["last_price"] is None:  # book quotes may come before a trade
            update = await next_message(ws, "update", "tickers:ETHUSDT")
    assert update["data"]["symbol"] == "ETHUSDT"
    assert Decimal(update["data"]["last_price"]) > 0
