"""Every acknowledged change survives a SIGKILL: the journal, its replay and its compaction."""

from __future__ import annotations

import dataclasses
import json
import stat
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from mexcsim import SimConfig, SimExchange, SimServer
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from mexcsim.state.document import encode_world
from mexcsim.state.journal import journal_path
from mexcsim.state.keeper import StateFileError
from mexcsim.world import Command
from tests.fixtures.sim import (
    SIM_API_KEY,
    SIM_API_SECRET,
    auth_headers,
    signed_url,
    start_sim_process,
)

START_MS = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


def limit(side: str, qty: str, price: str, cid: str, symbol: str = "BTCUSDT") -> dict[str, str]:
    return {"symbol": symbol, "side": side, "type": "LIMIT", "quantity": qty, "price": price,
            "newClientOrderId": cid}  # fmt: skip


def world_document(exchange: SimExchange) -> dict[str, object]:
    document = encode_world(exchange.snapshot())
    document.pop("saved_at_ms")
    return document


def test_replaying_the_commands_rebuilds_the_living_market_exactly() -> None:
    clock = Clock()
    live = SimExchange(seed=5, now_ms=clock)
    base = live.snapshot()
    commands: list[Command] = []
    live.record_commands(commands.append)
    live.create_account("alice", "secret", {"USDT": Decimal("50000"), "BTC": Decimal("1")})
    new_coin = dataclasses.replace(DEFAULT_SYMBOLS[3], symbol="NEWUSDT", base_asset="NEW")
    live.schedule_listing(new_coin, START_MS + 1_000, Decimal("0.5"))
    for step in range(60):
        clock.now += 250
        live.advance()  # the provider's quotes move and its taker flow fills resting orders
        if step % 10 == 0:
            best_ask = live.depth("BTCUSDT", 1)["asks"]
            assert isinstance(best_ask, list)
            price = best_ask[0][0]
            live.place_order("alice", limit("BUY", "0.002", price, f"take{step}"))
            live.place_order("alice", limit("SELL", "0.001", price, f"rest{step}"))
    live.place_order("alice", limit("BUY", "100", "1", "too-big"))  # rejected: still a command
    live.fund("alice", "USDT", Decimal("-1.5"))
    live.cancel_open_orders("alice", {"symbol": "BTCUSDT"})
    key = live.create_listen_key("alice")["listenKey"]
    assert isinstance(key, str)
    live.keepalive_listen_key("alice", key)
    assert any(c.op == "open_listings" for c in commands) or any(
        c.op == "advance" for c in commands
    )
    assert len(live.my_trades("alice", {"symbol": "BTCUSDT", "startTime": "0"})) > 0

    twin = SimExchange(seed=99, now_ms=clock)
    twin.restore(base)
    for command in json.loads(json.dumps([dataclasses.asdict(c) for c in commands])):
        twin.replay(Command(**command))
    assert world_document(twin) == world_document(live)
    assert twin.command_seq == live.command_seq == len(commands)


def test_replay_refuses_a_gap_in_the_commands() -> None:
    exchange = SimExchange(now_ms=Clock())
    with pytest.raises(ValueError, match="does not follow"):
        exchange.replay(Command(2, START_MS, "advance", {}))


async def http_state(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    """What the account looks like over MEXC's API: balances, open orders and fills."""
    headers = auth_headers()
    state: dict[str, object] = {}
    for name, path, params in (
        ("account", "/api/v3/account", {}),
        ("open", "/api/v3/openOrders", {"symbol": "BTCUSDT"}),
        ("trades", "/api/v3/myTrades", {"symbol": "BTCUSDT", "startTime": "0"}),
        ("all", "/api/v3/allOrders", {"symbol": "BTCUSDT", "startTime": "0"}),
    ):
        async with http.get(signed_url(url, path, params), headers=headers) as response:
            assert response.status == 200, await response.text()
            state[name] = await response.json()
    return state


async def post_order(http: aiohttp.ClientSession, url: str, params: dict[str, str]) -> None:
    order_url = signed_url(url, "/api/v3/order", params)
    async with http.post(order_url, headers=auth_headers()) as response:
        assert response.status == 200, await response.text()


@pytest.mark.slow
async def test_a_sigkill_right_after_the_answers_loses_nothing(tmp_path: Path) -> None:
    state_file = tmp_path / "paper.json"
    flags: dict[str, object] = {
        "api_key": SIM_API_KEY,
        "api_secret": SIM_API_SECRET,
        "state_file": str(state_file),
        "tick_interval": 3600,  # no tick between our last read and the kill
        "no_rate_limits": True,
    }
    async with aiohttp.ClientSession() as http:
        with start_sim_process(**flags) as url:
            async with http.get(f"{url}/api/v3/depth?symbol=BTCUSDT&limit=1") as response:
                best_ask = (await response.json())["asks"][0][0]
            await post_order(http, url, limit("BUY", "0.003", best_ask, "fills-now"))
            await post_order(http, url, limit("BUY", "0.002", "20000", "rests"))
            await post_order(http, url, limit("BUY", "0.001", "20001", "canceled"))
            cancel = signed_url(
                url, "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "canceled"}
            )
            async with http.delete(cancel, headers=auth_headers()) as response:
                assert response.status == 200
            fund = f"{url}/_sim/accounts/{SIM_API_KEY}/fund"
            async with http.post(fund, json={"asset": "USDT", "amount": "12.5"}) as response:
                assert response.status == 200
            before = await http_state(http, url)
        # leaving the block SIGKILLs the process: no save at stop ran
        assert json.loads(state_file.read_text())["users"] == []  # only the first snapshot
        journal = journal_path(state_file)
        assert stat.S_IMODE(journal.stat().st_mode) == 0o600
        with start_sim_process(**flags) as url:
            after = await http_state(http, url)
    open_orders = before["open"]
    assert isinstance(open_orders, list)
    assert [o["clientOrderId"] for o in open_orders] == ["rests"]
    assert before["trades"], "the crossing order must have filled"
    assert after == before


async def test_a_torn_last_line_is_ignored_and_a_broken_journal_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    config = SimConfig(api_key=SIM_API_KEY, api_secret=SIM_API_SECRET, state_file=str(state_file))
    server = SimServer(config)
    await server.start()
    server.exchange.place_order(SIM_API_KEY, limit("BUY", "0.001", "20000", "kept"))
    balances = server.exchange.balances(SIM_API_KEY)
    # a crash: the server is abandoned without stop(); a write was cut half way
    journal = journal_path(state_file)
    with journal.open("ab") as out:
        out.write(b'{"seq": 99, "t": 1, "op": "pla')
    restarted = SimServer(SimConfig(state_file=str(state_file)))
    await restarted.start()
    try:
        assert restarted.exchange.balances(SIM_API_KEY) == balances
        assert restarted.exchange.order_exists(SIM_API_KEY, "BTCUSDT", "kept")
    finally:
        await restarted.stop()
        await server.stop()
    assert not journal.exists()  # a clean stop compacts and removes the empty journal
    journal.write_text('not json\n{"seq": 1, "t": 1, "op": "advance", "args": {}}\n')
    with pytest.raises(StateFileError, match="broken at line 1"):
        await SimServer(SimConfig(state_file=str(state_file))).start()
