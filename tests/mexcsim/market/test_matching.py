"""Matching rules through the facade on a quiet market (users trade only with each other)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mexcsim import SimExchange
from mexcsim.errors import SimError

D = Decimal


def place(
    ex: SimExchange, key: str, side: str, order_type: str, **params: str
) -> dict[str, object]:
    raw = {"symbol": params.pop("symbol", "BTCUSDT"), "side": side, "type": order_type, **params}
    return ex.place_order(key, raw)


def status(ex: SimExchange, key: str, ack: dict[str, object], symbol: str = "BTCUSDT") -> str:
    view = ex.query_order(key, {"symbol": symbol, "orderId": str(ack["orderId"])})
    return str(view["status"])


def test_limit_order_rests_and_locks_price_times_quantity(quiet_exchange: SimExchange) -> None:
    ack = place(quiet_exchange, "alice", "BUY", "LIMIT", quantity="0.5", price="60000")
    assert quiet_exchange.balances("alice")["USDT"] == (D(70000), D(30000))
    assert status(quiet_exchange, "alice", ack) == "NEW"
    canceled = quiet_exchange.cancel_order(
        "alice", {"symbol": "BTCUSDT", "orderId": ack["orderId"]}
    )
    assert canceled["status"] == "CANCELED"
    assert quiet_exchange.balances("alice")["USDT"] == (D(100000), D(0))


def test_cross_trades_at_maker_price_and_releases_buyer_excess(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    ack = place(quiet_exchange, "alice", "BUY", "LIMIT", quantity="0.1", price="61000")
    assert status(quiet_exchange, "alice", ack) == "FILLED"
    # taker buyer pays 0.0005 in BTC (the asset received); maker seller pays maker rate 0
    alice = quiet_exchange.balances("alice")
    assert alice["USDT"] == (D(100000) - D(6000), D(0))
    assert alice["BTC"] == (D(1) + D("0.1") - D("0.00005"), D(0))
    bob = quiet_exchange.balances("bob")
    assert bob["USDT"] == (D(106000), D(0))
    assert bob["BTC"] == (D("0.9"), D(0))
    trade = quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT"})[0]
    assert trade["price"] == "60000"
    assert trade["commission"] == "0.00005"
    assert trade["commissionAsset"] == "BTC"
    assert trade["isMaker"] is False
    assert trade["isBuyer"] is True
    seller_row = quiet_exchange.my_trades("bob", {"symbol": "BTCUSDT"})[0]
    assert seller_row["commissionAsset"] == "USDT"
    assert seller_row["isMaker"] is True


def test_seller_taker_pays_fee_in_quote_rounded_half_up(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "bob", "BUY", "LIMIT", quantity="0.000123", price="60001.01")
    place(quiet_exchange, "alice", "SELL", "LIMIT", quantity="0.000123", price="60000")
    row = quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT"})[0]
    # 0.000123 * 60001.01 = 7.38012423 USDT; * 0.0005 = 0.00369006 -> 2 decimals half-up = 0.00
    assert row["quoteQty"] == "7.38012423"
    assert row["commission"] == "0"
    place(quiet_exchange, "bob", "BUY", "LIMIT", quantity="0.01", price="60001.01")
    place(quiet_exchange, "alice", "SELL", "LIMIT", quantity="0.01", price="60000")
    row = quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT"})[-1]
    # 600.0101 * 0.0005 = 0.30000505 -> 0.30
    assert row["commission"] == "0.3"


def test_price_time_priority(quiet_exchange: SimExchange) -> None:
    first = place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    second = place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    better = place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="59999")
    place(quiet_exchange, "alice", "BUY", "LIMIT", quantity="0.15", price="60000")
    assert status(quiet_exchange, "bob", better) == "FILLED"
    assert status(quiet_exchange, "bob", first) == "PARTIALLY_FILLED"
    assert status(quiet_exchange, "bob", second) == "NEW"


def test_partial_fill_then_cancel_is_partially_canceled(quiet_exchange: SimExchange) -> None:
    ack = place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.3", price="60000")
    place(quiet_exchange, "alice", "BUY", "LIMIT", quantity="0.1", price="60000")
    assert quiet_exchange.balances("bob")["BTC"] == (D("0.7"), D("0.2"))
    result = quiet_exchange.cancel_order("bob", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert result["status"] == "PARTIALLY_CANCELED"
    assert result["executedQty"] == "0.1"
    assert quiet_exchange.balances("bob")["BTC"] == (D("0.9"), D(0))
    with pytest.raises(SimError) as err:
        quiet_exchange.cancel_order("bob", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert err.value.body() == {"code": -2011, "msg": "Unknown order sent."}


def test_market_by_quote_walks_levels_at_quantity_precision(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.001", price="60000")
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.9", price="61000")
    ack = place(quiet_exchange, "alice", "BUY", "MARKET", quoteOrderQty="100")
    assert ack["origQty"] == ""
    view = quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    # 60 USDT at 60000 buys 0.001; the other 40 USDT buy floor(40/61000, 6) = 0.000655
    assert view["executedQty"] == "0.001655"
    assert view["cummulativeQuoteQty"] == "99.955"
    assert view["status"] == "FILLED"
    assert view["origQuoteOrderQty"] == "100"
    assert quiet_exchange.balances("alice")["USDT"][1] == 0


def test_market_order_that_runs_out_of_book(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.001", price="60000")
    partial = place(quiet_exchange, "alice", "BUY", "MARKET", quantity="0.01")
    assert status(quiet_exchange, "alice", partial) == "PARTIALLY_CANCELED"
    nothing = place(quiet_exchange, "alice", "BUY", "MARKET", quoteOrderQty="50")
    assert status(quiet_exchange, "alice", nothing) == "CANCELED"
    assert quiet_exchange.balances("alice")["USDT"] == (D(100000) - D(60), D(0))


def test_market_sell_by_quantity_and_no_liquidity(quiet_exchange: SimExchange) -> None:
    with pytest.raises(SimError) as err:
        place(quiet_exchange, "alice", "SELL", "MARKET", quantity="0.1")
    assert err.value.body() == {"code": 30005, "msg": "Oversold"}
    place(quiet_exchange, "bob", "BUY", "LIMIT", quantity="0.05", price="60000")
    ack = place(quiet_exchange, "alice", "SELL", "MARKET", quantity="0.1")
    view = quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert (view["status"], view["executedQty"]) == ("PARTIALLY_CANCELED", "0.05")
    assert quiet_exchange.balances("alice")["BTC"] == (D("0.95"), D(0))


def test_immediate_or_cancel(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    partial = place(
        quiet_exchange, "alice", "BUY", "IMMEDIATE_OR_CANCEL", quantity="0.3", price="60000"
    )
    assert status(quiet_exchange, "alice", partial) == "PARTIALLY_CANCELED"
    none = place(
        quiet_exchange, "alice", "BUY", "IMMEDIATE_OR_CANCEL", quantity="0.1", price="59000"
    )
    assert status(quiet_exchange, "alice", none) == "CANCELED"
    assert quiet_exchange.open_orders("alice", {}) == []
    assert quiet_exchange.balances("alice")["USDT"][1] == 0


def test_fill_or_kill(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    killed = place(quiet_exchange, "alice", "BUY", "FILL_OR_KILL", quantity="0.2", price="60000")
    assert status(quiet_exchange, "alice", killed) == "CANCELED"
    assert quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT"}) == []
    filled = place(quiet_exchange, "alice", "BUY", "FILL_OR_KILL", quantity="0.1", price="60000")
    assert status(quiet_exchange, "alice", filled) == "FILLED"


def test_limit_maker_that_would_take_is_accepted_then_canceled(
    quiet_exchange: SimExchange,
) -> None:
    place(quiet_exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    before = quiet_exchange.balances("alice")["USDT"]
    ack = place(quiet_exchange, "alice", "BUY", "LIMIT_MAKER", quantity="0.1", price="60000")
    assert str(ack["orderId"]).startswith("C02__")
    view = quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert (view["status"], view["executedQty"]) == ("CANCELED", "0")
    assert quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT"}) == []
    assert quiet_exchange.balances("alice")["USDT"] == before  # nothing stays locked
    assert quiet_exchange.open_orders("alice", {}) == []
    # the maker it would have hit is untouched
    assert quiet_exchange.open_orders("bob", {})[0]["executedQty"] == "0"
    rests = place(quiet_exchange, "alice", "BUY", "LIMIT_MAKER", quantity="0.1", price="59999.99")
    assert status(quiet_exchange, "alice", rests) == "NEW"


def test_limit_maker_that_would_take_can_be_rejected_as_before() -> None:
    exchange = SimExchange(seed=7, provide_liquidity=False, reject_taking_limit_maker=True)
    exchange.create_account("alice", "alice-secret")
    exchange.create_account("bob", "bob-secret")
    place(exchange, "bob", "SELL", "LIMIT", quantity="0.1", price="60000")
    with pytest.raises(SimError) as err:
        place(exchange, "alice", "BUY", "LIMIT_MAKER", quantity="0.1", price="60000")
    assert err.value.code == -2010
    assert exchange.all_orders("alice", {"symbol": "BTCUSDT"}) == []
    ack = place(exchange, "alice", "BUY", "LIMIT_MAKER", quantity="0.1", price="59999.99")
    assert status(exchange, "alice", ack) == "NEW"


def test_self_trade_is_flagged(quiet_exchange: SimExchange) -> None:
    place(quiet_exchange, "alice", "SELL", "LIMIT", quantity="0.1", price="60000")
    place(quiet_exchange, "alice", "BUY", "LIMIT", quantity="0.1", price="60000")
    rows = quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT"})
    assert len(rows) == 2
    assert all(r["isSelfTrade"] is True for r in rows)
    assert {r["isBuyer"] for r in rows} == {True, False}
