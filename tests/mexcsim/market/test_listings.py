"""New listings: hidden before the open (10007), trading from the open, on the calendar."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from mexcsim import SimExchange
from mexcsim.errors import SimError
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from tests.fixtures.sim_core import ManualClock

NEW = replace(
    DEFAULT_SYMBOLS[3], symbol="NEWUSDT", base_asset="NEW", full_name="New Coin", status="1"
)
ORDER = {"symbol": "NEWUSDT", "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "0.5"}


def test_listing_before_and_after_open(live_exchange: SimExchange, clock: ManualClock) -> None:
    opens = clock.now + 60_000
    live_exchange.schedule_listing(NEW, opens, Decimal("0.5"))
    assert "NEWUSDT" not in live_exchange.default_symbols()["data"]  # type: ignore[operator]
    info = live_exchange.exchange_info(["NEWUSDT"])
    assert info["symbols"][0]["status"] == "2"  # type: ignore[index]
    with pytest.raises(SimError) as err:
        live_exchange.place_order("alice", ORDER)
    assert (err.value.http_status, err.value.body()) == (
        400,
        {"code": 10007, "msg": "symbol not support api"},
    )
    coins = live_exchange.new_coin_calendar()["data"]["newCoins"]  # type: ignore[index]
    assert coins[0]["vcoinName"] == "NEW"
    assert coins[0]["vcoinNameFull"] == "New Coin"
    assert coins[0]["firstOpenTime"] == opens
    assert len(coins[0]["vcoinId"]) == 32

    clock.advance(60_000)
    assert "NEWUSDT" in live_exchange.default_symbols()["data"]  # type: ignore[operator]
    assert live_exchange.exchange_info(["NEWUSDT"])["symbols"][0]["status"] == "1"  # type: ignore[index]
    assert live_exchange.ticker_price("NEWUSDT") == {"symbol": "NEWUSDT", "price": "0.5"}
    book = live_exchange.depth("NEWUSDT", 5)
    assert len(book["bids"]) == 5  # type: ignore[arg-type]
    ack = live_exchange.place_order("alice", {**ORDER, "price": "0.51"})
    view = live_exchange.query_order("alice", {"symbol": "NEWUSDT", "orderId": ack["orderId"]})
    assert view["status"] == "FILLED"
    live_exchange.advance()


def test_listing_already_open_at_schedule_time(clock: ManualClock) -> None:
    ex = SimExchange(now_ms=clock)
    ex.schedule_listing(NEW, clock.now - 1, Decimal("0.5"))
    assert "NEWUSDT" in ex.default_symbols()["data"]  # type: ignore[operator]
    with pytest.raises(SimError):
        ex.schedule_listing(NEW, clock.now, Decimal("0.5"))
