"""A kill -9 of `mexcbot run` in the middle of a position's exits changes nothing: after the
restart on the same database and paper exchange, the position ends exactly as it would have
without the crash, and no level of its take-profit ladder is sold twice.

Two crash points, each on a real bot subprocess in paper mode, prices moved with the paper
exchange's admin API (`/_sim/prices`) as a user does:

- between two ladder levels: level 1 sold and recorded, the bot killed, level 2 sold after the
  restart;
- between trigger and fill: the exchange has executed the level-1 sell, but its answer (and the
  stream's execution report) is held back (`/_sim/faults`), and the bot is killed while it waits.
  The restart must learn the outcome by the exit's deterministic client order id, never sell
  again.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest

from mexcbot.domain.exits import ExitTrigger
from mexcbot.domain.orders.ids import client_order_id_for
from mexcbot.paper import ADMIN_TOKEN_SUFFIX, PAPER_API_KEY
from tests.fixtures.api import BotProcess, bot_env, start_bot_process

D = Decimal
SYMBOL = "ETHUSDT"
BASE = "ETH"
START_PRICE = D("3200")
#: 50 % at +2 %, the rest at +4 %, and a stop 5 % under the entry.
EXITS = {
    "stop_loss": {"percent": "5"},
    "take_profits": [{"fraction": "0.5", "percent": "2"}, {"fraction": "0.5", "percent": "4"}],
}
LEVEL_1_PRICE = D("1.03")  # × entry: over level 1, under level 2
LEVEL_2_PRICE = D("1.06")  # × entry: over level 2
WAIT_S = 15.0

pytestmark = pytest.mark.slow


def request(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(call, timeout=10) as response:
        return json.loads(response.read())


class Running:
    """One run of the bot: its API with our token, and its paper exchange's admin API."""

    def __init__(self, bot: BotProcess, token: str) -> None:
        self.bot, self.token = bot, token
        line = next(x for x in bot.lines if x.startswith("paper exchange (mexcsim): "))
        self.sim_url = line.split(": ", 1)[1].strip()
        token_file = bot.workdir / ("mexcbot-paper.json" + ADMIN_TOKEN_SUFFIX)
        self.sim_token = token_file.read_text().strip()  # new on every run

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return request(f"{self.bot.base_url}/api/v1{path}", self.token, method, body)

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        return request(f"{self.sim_url}/_sim{path}", self.sim_token, method, body)

    def set_price(self, price: Decimal) -> None:
        self.sim("POST", "/prices", {"symbol": SYMBOL, "price": str(price.quantize(D("0.01")))})

    def position(self, position_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.api("GET", f"/positions/{position_id}")
        return found

    def sells(self) -> list[dict[str, Any]]:
        page = self.api("GET", f"/trades/orders?symbol={SYMBOL}&limit=100")
        return [o for o in page["orders"] if o["side"] == "SELL"]

    def base_held(self) -> Decimal:
        """The paper account's base asset (free + locked), as the exchange itself has it."""
        account = self.sim("GET", f"/accounts/{PAPER_API_KEY}")
        for row in account["balances"]:
            if row["asset"] == BASE:
                return D(row["free"]) + D(row["locked"])
        return D(0)

    def kill(self) -> None:
        self.bot.process.send_signal(signal.SIGKILL)
        self.bot.process.wait(timeout=10)


def until(read: Callable[[], Any], check: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s; last value {value}")
        time.sleep(0.02)


@pytest.fixture
def env() -> dict[str, str]:
    # the REST timer re-evaluates exits often (the stream serves most ticks anyway)
    return bot_env(MEXCBOT_EXIT_CHECK_INTERVAL="0.2")


@pytest.fixture
def first_run(tmp_path: Path, env: dict[str, str]) -> Iterator[Running]:
    with start_bot_process(tmp_path, env=env) as bot:
        token = bot.printed_token
        assert token is not None
        yield Running(bot, token)


def open_position(run: Running) -> tuple[dict[str, Any], Decimal]:
    """The position opened with a market buy at about START_PRICE, and the account's base
    asset before that buy."""
    run.set_price(START_PRICE)
    base_before = run.base_held()
    opened = run.api(
        "POST", "/positions", {"symbol": SYMBOL, "quote_amount": "320", "exits": EXITS}
    )
    assert opened["entry_order"]["status"] == "FILLED"
    position: dict[str, Any] = opened["position"]
    return position, base_before


def level_1_quantity(run: Running, entered: Decimal) -> Decimal:
    """Half the entered quantity, rounded down to the symbol's step (the ladder's rule)."""
    rules = run.api("GET", f"/market/symbols/{SYMBOL}")
    step = D(1).scaleb(-int(rules["quantity_precision"]))
    return (entered * D("0.5")).quantize(step, ROUND_DOWN)


def tp_client_order_id(position_id: int, level: int) -> str:
    return client_order_id_for(f"position:{position_id}:{ExitTrigger.TAKE_PROFIT}:{level}")


def assert_closed_exactly_once_per_level(
    run: Running, position_id: int, held: Decimal, first_sell: Decimal, base_before: Decimal
) -> None:
    """CLOSED after two sells, level 1 then level 2, with the quantities of a run without a
    crash, each fill counted once in the position."""
    closed = until(lambda: run.position(position_id), lambda p: p["status"] == "CLOSED")
    sells = run.sells()
    assert sorted(o["client_order_id"] for o in sells) == sorted(
        [tp_client_order_id(position_id, 0), tp_client_order_id(position_id, 1)]
    )
    by_id = {o["client_order_id"]: o for o in sells}
    first = by_id[tp_client_order_id(position_id, 0)]
    second = by_id[tp_client_order_id(position_id, 1)]
    assert first["status"] == second["status"] == "FILLED"
    assert D(first["executed_qty"]) == first_sell
    assert D(second["executed_qty"]) == held - first_sell
    assert D(closed["quantity"]) == 0
    assert closed["take_profits_done"] == 2
    assert closed["exit_order_id"] is None
    assert closed["exit_failed_reason"] is None
    sold_in_position = sum(D(f["quantity"]) for f in closed["fills"] if f["side"] == "SELL")
    assert sold_in_position == held  # no fill lost, none recorded twice
    trade_ids = [f["exchange_trade_id"] for f in closed["fills"]]
    assert len(trade_ids) == len(set(trade_ids))
    # the exchange agrees: all that was bought is sold, nothing more
    assert run.base_held() == base_before
    time.sleep(0.5)  # more ticks: nothing more is sold
    assert len(run.sells()) == 2


def test_kill_9_between_two_ladder_levels(
    tmp_path: Path, env: dict[str, str], first_run: Running
) -> None:
    run = first_run
    position, base_before = open_position(run)
    pid, entry = position["id"], D(position["average_entry"])
    held = D(position["quantity"])
    first_sell = level_1_quantity(run, D(position["entered_quantity"]))

    run.set_price(entry * LEVEL_1_PRICE)
    after_1 = until(
        lambda: run.position(pid),
        lambda p: p["take_profits_done"] == 1 and p["exit_order_id"] is None,
    )
    assert D(after_1["quantity"]) == held - first_sell
    run.kill()

    with start_bot_process(tmp_path, env=env) as bot:
        again = Running(bot, run.token)
        resumed = again.position(pid)
        assert (resumed["status"], resumed["take_profits_done"]) == ("OPEN", 1)
        assert D(resumed["quantity"]) == held - first_sell
        assert [o["client_order_id"] for o in again.sells()] == [tp_client_order_id(pid, 0)]
        again.set_price(entry * LEVEL_2_PRICE)
        assert_closed_exactly_once_per_level(again, pid, held, first_sell, base_before)


def test_kill_9_between_trigger_and_fill(
    tmp_path: Path, env: dict[str, str], first_run: Running
) -> None:
    run = first_run
    position, base_before = open_position(run)
    pid, entry = position["id"], D(position["average_entry"])
    held = D(position["quantity"])
    first_sell = level_1_quantity(run, D(position["entered_quantity"]))
    level_1 = tp_client_order_id(pid, 0)

    # the exchange executes an order POST at once but answers it 20 s later, and every stream
    # push (the price tick, then the execution report) leaves 4 s late: time to see the sell
    # executed and kill the bot before it hears of it
    run.sim(
        "POST",
        "/faults",
        {"latency_ms": 20_000, "latency_paths": ["/api/v3/order"], "ws_push_delay_ms": 4_000},
    )
    run.set_price(entry * LEVEL_1_PRICE)
    until(run.base_held, lambda base: base == base_before + held - first_sell)
    in_flight = run.position(pid)
    run.kill()
    # killed with the level-1 sell executed on the exchange but not yet known to the bot
    assert in_flight["exit_order_id"] == level_1
    assert in_flight["take_profits_done"] == 0
    assert D(in_flight["quantity"]) == held

    with start_bot_process(tmp_path, env=env) as bot:
        again = Running(bot, run.token)
        assert again.sim("GET", "/faults")["latency_ms"] == 0  # a new run: a sound exchange
        resumed = until(
            lambda: again.position(pid),
            lambda p: p["take_profits_done"] == 1 and p["exit_order_id"] is None,
        )
        assert D(resumed["quantity"]) == held - first_sell
        sells = again.sells()
        assert [(o["client_order_id"], o["status"]) for o in sells] == [(level_1, "FILLED")]
        assert D(sells[0]["executed_qty"]) == first_sell
        assert again.base_held() == base_before + held - first_sell  # sold once, not twice
        again.set_price(entry * LEVEL_2_PRICE)
        assert_closed_exactly_once_per_level(again, pid, held, first_sell, base_before)
