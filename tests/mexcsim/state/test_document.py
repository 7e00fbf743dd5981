"""Saving and restoring the simulator's complete state, and a server keeping it across restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from mexcsim import SimConfig, SimExchange, SimServer, errors
from mexcsim.errors import SimError
from mexcsim.http.command_line import main
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from mexcsim.state.document import StateError, decode_world, encode_world
from mexcsim.state.keeper import StateFileError
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET, auth_headers, signed_url

START_MS = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


def limit(side: str, qty: str, price: str, cid: str, symbol: str = "BTCUSDT") -> dict[str, str]:
    return {
        "symbol": symbol,
        "side": side,
        "type": "LIMIT",
        "quantity": qty,
        "price": price,
        "newClientOrderId": cid,
    }


def export(exchange: SimExchange) -> dict[str, object]:
    """The exchange's state as the JSON-ready document a state file holds."""
    return encode_world(exchange.snapshot())


def restore(exchange: SimExchange, document: object) -> None:
    exchange.restore(decode_world(document))


def reborn(exchange: SimExchange, clock: Clock) -> SimExchange:
    """A fresh exchange (other seed, default settings) restored from `exchange`'s JSON text."""
    text = json.dumps(export(exchange))
    twin = SimExchange(seed=99, now_ms=clock)
    restore(twin, json.loads(text))
    return twin


def living_exchange() -> tuple[SimExchange, Clock]:
    """A ticking market with a user who has open, filled and canceled orders and a listen key."""
    clock = Clock()
    ex = SimExchange(seed=7, now_ms=clock)
    ex.create_account("alice", "alice-secret")
    ex.fund("alice", "USDT", Decimal("0.123456789"))
    ex.place_order("alice", limit("BUY", "0.001", "60000", "rest1"))
    ex.place_order("alice", limit("SELL", "0.5", "3500", "rest2", "ETHUSDT"))
    ex.place_order("alice", limit("BUY", "0.01", "70000", "taken"))  # crosses: fills now
    ex.place_order("alice", limit("BUY", "0.001", "61000", "gone"))
    ex.cancel_order("alice", {"symbol": "BTCUSDT", "origClientOrderId": "gone"})
    ex.create_listen_key("alice")
    new_coin = dataclasses.replace(DEFAULT_SYMBOLS[3], symbol="NEWUSDT", base_asset="NEW")
    ex.schedule_listing(new_coin, START_MS + 3_600_000, Decimal("0.5"))
    for _ in range(20):
        clock.now += 250
        ex.advance()
    return ex, clock


def test_round_trip_is_exact_and_the_market_moves_on_identically() -> None:
    ex, clock = living_exchange()
    twin = reborn(ex, clock)
    assert export(twin) == export(ex)
    assert twin.balances("alice") == ex.balances("alice")
    assert twin.balances("alice")["USDT"][0] == ex.balances("alice")["USDT"][0]
    for query in (twin.open_orders, ex.open_orders):
        assert [o["clientOrderId"] for o in query("alice", {})] == ["rest1", "rest2"]
    params = {"symbol": "BTCUSDT"}
    assert twin.all_orders("alice", params) == ex.all_orders("alice", params)
    assert twin.my_trades("alice", params) == ex.my_trades("alice", params)
    assert twin.my_trades("alice", params)  # the crossing order did fill
    assert twin.depth("BTCUSDT", 20) == ex.depth("BTCUSDT", 20)
    assert twin.listen_keys("alice") == ex.listen_keys("alice")
    assert twin.secret_for("alice") == "alice-secret"
    assert twin.api_keys() == ["alice"]
    # same random walk, same listing opening, same ids from here on
    for _ in range(40):
        clock.now += 100_000
        ex.advance()
        twin.advance()
    assert export(twin) == export(ex)
    assert twin.ticker_price("NEWUSDT") == ex.ticker_price("NEWUSDT")


def test_restored_orders_can_be_canceled_and_ids_do_not_collide() -> None:
    ex, clock = living_exchange()
    before = {o["orderId"] for o in ex.all_orders("alice", {"symbol": "BTCUSDT"})}
    twin = reborn(ex, clock)
    free, locked = twin.balances("alice")["BTC"]
    canceled = twin.cancel_order("alice", {"symbol": "ETHUSDT", "origClientOrderId": "rest2"})
    assert canceled["status"] == "CANCELED"
    assert twin.balances("alice")["ETH"][1] == ex.balances("alice")["ETH"][1] - Decimal("0.5")
    assert twin.balances("alice")["BTC"] == (free, locked)
    ack = twin.place_order("alice", limit("BUY", "0.001", "50000", "after"))
    assert ack["orderId"] not in before
    assert (
        ack["orderId"]
        == ex.place_order("alice", limit("BUY", "0.001", "50000", "after"))["orderId"]
    )
    for used in ("rest1", "taken", "gone"):
        with pytest.raises(SimError) as caught:
            twin.place_order("alice", limit("BUY", "0.001", "50000", used))
        assert caught.value.code == errors.DUPLICATE_CLIENT_ORDER_ID


def test_restored_resting_order_fills_against_a_new_order() -> None:
    clock = Clock()
    ex = SimExchange(now_ms=clock, provide_liquidity=False)
    ex.create_account("maker", "m")
    ex.create_account("taker", "t")
    ex.place_order("maker", limit("BUY", "0.002", "60000", "bid"))
    twin = reborn(ex, clock)
    twin.place_order("taker", limit("SELL", "0.002", "60000", "hit"))
    bid = twin.query_order("maker", {"symbol": "BTCUSDT", "origClientOrderId": "bid"})
    assert bid["status"] == "FILLED"
    assert twin.open_orders("maker", {}) == []
    assert twin.balances("maker")["USDT"] == (Decimal(100_000) - Decimal(120), Decimal(0))
    (row,) = twin.my_trades("maker", {"symbol": "BTCUSDT"})
    assert row["isMaker"] is True


def test_unreadable_states_are_refused_and_leave_the_exchange_untouched() -> None:
    ex, clock = living_exchange()
    good = export(ex)
    target = SimExchange(now_ms=clock)
    target.create_account("bob", "b")
    snapshot = export(target)
    broken_balance = json.loads(json.dumps(good))
    broken_balance["ledger"]["balances"]["alice"]["USDT"] = [1.5, "0"]  # a float: not exact
    broken_order = json.loads(json.dumps(good))
    del broken_order["orders"][0]["locked"]
    cases = [
        ({**good, "version": 4}, "version 4"),
        ({**good, "format": "pickle"}, "not a mexcsim state"),
        ([1, 2], "not a mexcsim state"),
        (broken_balance, "'ledger'"),
        (broken_order, "'orders'"),
    ]
    for document, message in cases:
        with pytest.raises(StateError, match=message):
            restore(target, document)
        assert export(target) == snapshot
        assert target.secret_for("bob") == "b"


def server_config(state_file: Path, **extra: object) -> SimConfig:
    return SimConfig(
        api_key=SIM_API_KEY,
        api_secret=SIM_API_SECRET,
        tick_interval=0.02,
        state_file=str(state_file),
        **extra,  # type: ignore[arg-type]
    )


async def open_orders_over_http(url: str) -> list[dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(signed_url(url, "/api/v3/openOrders", {}), headers=auth_headers()) as response,
    ):
        assert response.status == 200
        body: list[dict[str, object]] = await response.json()
        return body


async def test_server_restart_keeps_the_account_and_its_open_orders(tmp_path: Path) -> None:
    state_file = tmp_path / "sim-state.json"
    async with SimServer(server_config(state_file)) as first:
        first.exchange.place_order(SIM_API_KEY, limit("BUY", "0.001", "30000", "keep-me"))
        balances = first.exchange.balances(SIM_API_KEY)
    assert state_file.exists()
    assert sorted(os.listdir(tmp_path)) == ["sim-state.json"]  # no temp file left behind
    # the second start has no key in its config: the account comes from the file alone
    async with SimServer(SimConfig(tick_interval=0.02, state_file=str(state_file))) as second:
        assert second.exchange.secret_for(SIM_API_KEY) == SIM_API_SECRET
        assert second.exchange.balances(SIM_API_KEY) == balances
        orders = await open_orders_over_http(second.url)
        assert [o["clientOrderId"] for o in orders] == ["keep-me"]
        canceled = second.exchange.cancel_order(
            SIM_API_KEY, {"symbol": "BTCUSDT", "origClientOrderId": "keep-me"}
        )
        assert canceled["status"] == "CANCELED"
    async with SimServer(server_config(state_file)) as third:
        assert await open_orders_over_http(third.url) == []


async def test_server_saves_while_running(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    async with SimServer(server_config(state_file, state_save_interval=0.0)) as sim:
        sim.exchange.place_order(SIM_API_KEY, limit("BUY", "0.001", "30000", "early"))
        for _ in range(200):
            if state_file.exists() and "early" in state_file.read_text():
                break
            await asyncio.sleep(0.02)
        saved = json.loads(state_file.read_text())
        assert any(o["client_order_id"] == "early" for o in saved["orders"])


async def test_corrupted_state_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    state_file = tmp_path / "broken.json"
    state_file.write_text('{"format": "mexcsim-state", "version": 1, "seed": ')
    server = SimServer(server_config(state_file))
    with pytest.raises(StateFileError, match=r"broken\.json"):
        await server.start()
    assert state_file.read_text().endswith('"seed": ')  # never overwritten
    state_file.write_text(json.dumps({"format": "mexcsim-state", "version": 1}))
    with pytest.raises(StateFileError, match=r"broken\.json cannot be restored"):
        await SimServer(server_config(state_file)).start()


async def test_same_key_with_another_secret_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    async with SimServer(server_config(state_file)):
        pass
    other = SimConfig(api_key=SIM_API_KEY, api_secret="other", state_file=str(state_file))
    with pytest.raises(StateFileError, match="different secret"):
        await SimServer(other).start()


def test_cli_reports_a_corrupted_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_file = tmp_path / "cli-state.json"
    state_file.write_text("not json")
    assert main(["--port", "0", "--state-file", str(state_file)]) == 2
    assert "cli-state.json" in capsys.readouterr().err
