"""Order entry validation, queries and batch orders through the facade, with MEXC's codes."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest

from mexcsim import SimExchange
from mexcsim.errors import SimError
from mexcsim.market.symbols import DEFAULT_SYMBOLS, TRADE_SIDE_BUY_ONLY
from tests.fixtures.sim_core import ManualClock

BTC = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000"}


def rejected(ex: SimExchange, params: dict[str, str], key: str = "alice") -> SimError:
    with pytest.raises(SimError) as err:
        ex.place_order(key, params)
    assert err.value.http_status == 400
    return err.value


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"symbol": ""}, -1102, "'symbol'"),
        ({"symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
        ({"side": "HOLD"}, 700008, "'side'"),
        ({"type": "STOP_LIMIT"}, 700008, "'type'"),
        ({"quantity": ""}, -1102, "'quantity'"),
        ({"price": ""}, -1102, "'price'"),
        ({"quantity": "abc"}, 700008, "'quantity'"),
        ({"quantity": "-1"}, 700008, "greater than 0"),
        ({"price": "60000.001"}, 400, " price scale is invalid"),
        ({"price": "60000.000"}, 400, " price scale is invalid"),  # trailing zeros count
        ({"quantity": "0.0000001"}, 400, " quantity scale is invalid"),
        ({"quantity": "0.0100000"}, 400, " quantity scale is invalid"),
        ({"quantity": "0.00001", "price": "60000"}, 30002, "less than：1USDT"),
        ({"quantity": "40", "price": "60000"}, 30003, "2000000USDT"),
        ({"quantity": "1.9", "price": "60000"}, 30004, "Insufficient"),
        ({"side": "SELL", "quantity": "1.5", "price": "70000"}, 30005, "Oversold"),
        ({"newClientOrderId": "bad id!"}, 700008, "'newClientOrderId'"),
        ({"newClientOrderId": "x" * 33}, 700008, "'newClientOrderId'"),
        ({"price": "1000000"}, 30010, "PERCENT_PRICE_BY_SIDE"),
        ({"type": "IMMEDIATE_OR_CANCEL", "price": "1000000"}, 30010, "PERCENT_PRICE_BY_SIDE"),
        ({"type": "FILL_OR_KILL", "price": "1000000"}, 30010, "PERCENT_PRICE_BY_SIDE"),
    ],
)
def test_validation_errors(
    quiet_exchange: SimExchange, change: dict[str, str], code: int, fragment: str
) -> None:
    quiet_exchange.set_price("BTCUSDT", Decimal(60000))
    # a quiet market has no last trade: make one so the price band applies
    quiet_exchange.place_order("bob", {**BTC, "side": "SELL"})
    quiet_exchange.place_order("alice", BTC)
    error = rejected(quiet_exchange, {**BTC, **change})
    assert error.code == code
    assert fragment in error.msg


def test_scale_errors_are_mexcs_recorded_body(quiet_exchange: SimExchange) -> None:
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    error = rejected(quiet_exchange, {**market, "quoteOrderQty": "10.001"})
    assert error.body() == {"msg": " amount scale is invalid", "code": 400}
    assert rejected(quiet_exchange, {**market, "quoteOrderQty": "10.000"}).code == 400
    assert rejected(quiet_exchange, {**BTC, "quantity": "0.0100000"}).body() == {
        "msg": " quantity scale is invalid",
        "code": 400,
    }
    # as many decimals as allowed, trailing zeros included, is fine
    quiet_exchange.place_order("alice", {**BTC, "quantity": "0.010000", "price": "60000.00"})


def test_price_band_ignores_limit_maker_and_uses_the_last_trade(
    quiet_exchange: SimExchange,
) -> None:
    quiet_exchange.place_order("bob", {**BTC, "side": "SELL"})
    quiet_exchange.place_order("alice", BTC)  # last trade 60000: sells below 12000 are banded
    low_sell = {**BTC, "side": "SELL", "price": "11000"}
    assert rejected(quiet_exchange, low_sell, key="bob").code == 30010
    ack = quiet_exchange.place_order("bob", {**low_sell, "type": "LIMIT_MAKER"})
    view = quiet_exchange.query_order("bob", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert view["status"] == "NEW"


def test_min_notional_message_is_mexcs_exact_text(quiet_exchange: SimExchange) -> None:
    error = rejected(quiet_exchange, {**BTC, "quantity": "0.00001"})
    assert error.body() == {
        "code": 30002,
        "msg": "The minimum transaction volume cannot be less than：1USDT",
    }


def test_order_type_not_allowed_on_symbol(quiet_exchange: SimExchange) -> None:
    params = {"symbol": "METALUSDT", "side": "BUY", "type": "IMMEDIATE_OR_CANCEL",
              "quantity": "10", "price": "0.85"}  # fmt: skip
    assert rejected(quiet_exchange, params).code == 30041


def test_api_market_order_disabled(clock: ManualClock) -> None:
    limit_only = replace(DEFAULT_SYMBOLS[0], symbol="LIMITUSDT", base_asset="LO",
                         order_types=("LIMIT", "LIMIT_MAKER"))  # fmt: skip
    ex = SimExchange(now_ms=clock, symbols=[limit_only], provide_liquidity=False)
    ex.create_account("alice", "s", {"USDT": Decimal(1000)})
    params = {"symbol": "LIMITUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "10"}
    assert rejected(ex, params).body() == {"msg": "api market order is disabled", "code": 30051}
    assert rejected(ex, {**params, "type": "IMMEDIATE_OR_CANCEL"}).code == 30041


def test_min_quantity(quiet_exchange: SimExchange) -> None:
    params = {"symbol": "METALUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.05",
              "price": "0.85"}  # fmt: skip
    error = rejected(quiet_exchange, params)
    assert error.code == -1013
    assert "minimum quantity 0.1" in error.msg


def test_trade_side_type_and_api_disabled(clock: ManualClock) -> None:
    btc = DEFAULT_SYMBOLS[0]
    buy_only = replace(
        btc, symbol="BUYONLYUSDT", base_asset="BO", trade_side_type=TRADE_SIDE_BUY_ONLY
    )
    no_api = replace(btc, symbol="NOAPIUSDT", base_asset="NA", api_enabled=False)
    ex = SimExchange(now_ms=clock, symbols=[btc, buy_only, no_api], provide_liquidity=False)
    ex.create_account("alice", "s", {"USDT": Decimal(1000), "BO": Decimal(1)})
    error = rejected(ex, {**BTC, "symbol": "BUYONLYUSDT", "side": "SELL", "quantity": "0.001"})
    assert error.code == 30001
    error = rejected(ex, {**BTC, "symbol": "NOAPIUSDT", "quantity": "0.001"})
    assert error.body() == {"code": 10007, "msg": "symbol not support api"}
    assert "NOAPIUSDT" not in ex.default_symbols()["data"]  # type: ignore[operator]


def test_client_order_ids(quiet_exchange: SimExchange) -> None:
    plain = quiet_exchange.place_order("alice", BTC)
    assert re.fullmatch(r"C02__\d+", str(plain["orderId"]))
    view = quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": plain["orderId"]})
    assert view["clientOrderId"] is None
    named = quiet_exchange.place_order("alice", {**BTC, "newClientOrderId": "bot-1_A"})
    assert int(str(named["orderId"])[5:]) > int(str(plain["orderId"])[5:])
    assert quiet_exchange.order_exists("alice", "BTCUSDT", "bot-1_A")
    assert not quiet_exchange.order_exists("bob", "BTCUSDT", "bot-1_A")
    error = rejected(quiet_exchange, {**BTC, "newClientOrderId": "bot-1_A"})
    assert error.code == 30026
    # the other account may reuse it
    quiet_exchange.place_order("bob", {**BTC, "newClientOrderId": "bot-1_A"})
    by_client = quiet_exchange.query_order(
        "alice", {"symbol": "BTCUSDT", "origClientOrderId": "bot-1_A"}
    )
    assert by_client["orderId"] == named["orderId"]


def test_ack_shape(quiet_exchange: SimExchange, clock: ManualClock) -> None:
    ack = quiet_exchange.place_order("alice", BTC)
    assert ack == {
        "symbol": "BTCUSDT",
        "orderId": ack["orderId"],
        "orderListId": -1,
        "price": "60000",
        "origQty": "0.01",
        "type": "LIMIT",
        "side": "BUY",
        "transactTime": clock.now,
    }


def test_unknown_order_and_missing_ids(quiet_exchange: SimExchange) -> None:
    with pytest.raises(SimError) as err:
        quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": "C02__1"})
    assert (err.value.http_status, err.value.body()) == (
        400,
        {"msg": "Order does not exist.", "code": -2013, "_extend": None},
    )
    with pytest.raises(SimError) as err:
        quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "origClientOrderId": "nope"})
    assert err.value.code == -2013
    with pytest.raises(SimError) as err:
        quiet_exchange.cancel_order("alice", {"symbol": "BTCUSDT"})
    assert err.value.code == 700004
    theirs = quiet_exchange.place_order("bob", BTC)
    with pytest.raises(SimError) as err:
        quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": theirs["orderId"]})
    assert err.value.code == -2013


def test_cancel_of_an_unknown_filled_or_canceled_order_is_unknown_order_sent(
    quiet_exchange: SimExchange,
) -> None:
    unknown = {"code": -2011, "msg": "Unknown order sent."}

    def cancel_refused(params: dict[str, str]) -> dict[str, object]:
        with pytest.raises(SimError) as err:
            quiet_exchange.cancel_order("alice", {"symbol": "BTCUSDT", **params})
        assert err.value.http_status == 400
        return err.value.body()

    assert cancel_refused({"orderId": "C02__1"}) == unknown
    assert cancel_refused({"origClientOrderId": "never-placed"}) == unknown
    theirs = quiet_exchange.place_order("bob", {**BTC, "side": "SELL"})
    assert cancel_refused({"orderId": str(theirs["orderId"])}) == unknown
    filled = quiet_exchange.place_order("alice", BTC)
    assert cancel_refused({"orderId": str(filled["orderId"])}) == unknown
    canceled = quiet_exchange.place_order("alice", {**BTC, "price": "50000"})
    quiet_exchange.cancel_order("alice", {"symbol": "BTCUSDT", "orderId": canceled["orderId"]})
    assert cancel_refused({"orderId": str(canceled["orderId"])}) == unknown


def test_order_test_validates_without_placing(quiet_exchange: SimExchange) -> None:
    assert quiet_exchange.place_order("alice", BTC, test=True) == {}
    assert quiet_exchange.open_orders("alice", {"symbol": "BTCUSDT"}) == []
    with pytest.raises(SimError) as err:
        quiet_exchange.place_order("alice", {**BTC, "quantity": "5"}, test=True)
    assert err.value.code == 30004


def test_open_order_cap(quiet_exchange: SimExchange) -> None:
    small = {**BTC, "quantity": "0.0001", "price": "20000"}
    for _ in range(500):
        quiet_exchange.place_order("alice", small)
    assert rejected(quiet_exchange, small).body() == {
        "code": 30029,
        "msg": "Cannot exceed the maximum order limit",
    }
    quiet_exchange.cancel_open_orders("alice", {"symbol": "BTCUSDT"})
    quiet_exchange.place_order("alice", small)


def test_batch_orders_mix_successes_and_failures(quiet_exchange: SimExchange) -> None:
    results = quiet_exchange.batch_orders(
        "alice",
        [
            {**BTC, "newClientOrderId": "ok1"},
            {**BTC, "quantity": "0.00001", "newClientOrderId": "small"},
        ],
    )
    assert results[0]["newClientOrderId"] == "ok1"
    assert str(results[0]["orderId"]).startswith("C02__")
    assert results[0]["orderListId"] == -1
    assert results[1] == {
        "newClientOrderId": "small",
        "msg": "The minimum transaction volume cannot be less than：1USDT",
        "code": 30002,
    }
    with pytest.raises(SimError):
        quiet_exchange.batch_orders("alice", [BTC] * 21)
    with pytest.raises(SimError):
        quiet_exchange.batch_orders("alice", [BTC, {**BTC, "symbol": "ETHUSDT"}])


def test_open_orders_all_orders_and_windows(
    quiet_exchange: SimExchange, clock: ManualClock
) -> None:
    old = quiet_exchange.place_order("alice", BTC)
    clock.advance(2 * 86_400_000)
    new = quiet_exchange.place_order("alice", BTC)
    quiet_exchange.place_order("alice", {**BTC, "symbol": "ETHUSDT", "price": "3000"})
    assert len(quiet_exchange.open_orders("alice", {})) == 3
    assert len(quiet_exchange.open_orders("alice", {"symbol": "BTCUSDT"})) == 2
    recent = quiet_exchange.all_orders("alice", {"symbol": "BTCUSDT"})
    assert [o["orderId"] for o in recent] == [new["orderId"]]
    since = quiet_exchange.all_orders(
        "alice", {"symbol": "BTCUSDT", "startTime": str(clock.now - 3 * 86_400_000)}
    )
    assert [o["orderId"] for o in since] == [old["orderId"], new["orderId"]]
    limited = quiet_exchange.all_orders(
        "alice", {"symbol": "BTCUSDT", "startTime": str(clock.now - 86_400_000 * 3), "limit": "1"}
    )
    assert [o["orderId"] for o in limited] == [old["orderId"]]
    clock.advance(8 * 86_400_000)
    too_old = quiet_exchange.all_orders("alice", {"symbol": "BTCUSDT", "startTime": "0"})
    assert too_old == []
    with pytest.raises(SimError):
        quiet_exchange.all_orders("alice", {"symbol": "BTCUSDT", "limit": "1001"})
    with pytest.raises(SimError):
        quiet_exchange.my_trades("alice", {"symbol": "BTCUSDT", "limit": "101"})


def test_cancel_open_orders_on_several_symbols(quiet_exchange: SimExchange) -> None:
    quiet_exchange.place_order("alice", BTC)
    quiet_exchange.place_order("alice", {**BTC, "symbol": "ETHUSDT", "price": "3000"})
    rows = quiet_exchange.cancel_open_orders("alice", {"symbol": "BTCUSDT,ETHUSDT"})
    assert {r["symbol"] for r in rows} == {"BTCUSDT", "ETHUSDT"}
    assert all(r["status"] == "CANCELED" for r in rows)
    assert quiet_exchange.balances("alice")["USDT"] == (Decimal(100000), Decimal(0))
    with pytest.raises(SimError):
        quiet_exchange.cancel_open_orders("alice", {"symbol": "A,B,C,D,E,F"})


def test_query_shape(quiet_exchange: SimExchange, clock: ManualClock) -> None:
    ack = quiet_exchange.place_order("alice", {**BTC, "newClientOrderId": "q1"})
    view = quiet_exchange.query_order("alice", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert view == {
        "symbol": "BTCUSDT",
        "orderId": ack["orderId"],
        "orderListId": -1,
        "clientOrderId": "q1",
        "price": "60000",
        "origQty": "0.01",
        "executedQty": "0",
        "cummulativeQuoteQty": "0",
        "status": "NEW",
        "timeInForce": None,
        "type": "LIMIT",
        "side": "BUY",
        "stopPrice": None,
        "time": clock.now,
        "updateTime": clock.now,
        "isWorking": True,
        "origQuoteOrderQty": "0",
    }
