"""Parsing of recorded MEXC responses (reference §2-§5), including the real-world variations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolStatus, TradeSideType
from mexcbot.mexc import wire
from mexcbot.mexc.errors import MinNotional
from mexcbot.mexc.models import NewOrder

METAL = (
    b'{"symbol":"METALUSDT","status":"1","baseAsset":"METAL","baseAssetPrecision":2,'
    b'"quoteAsset":"USDT","quotePrecision":5,"quoteAssetPrecision":5,"baseCommissionPrecision":2,'
    b'"quoteCommissionPrecision":5,"orderTypes":["LIMIT","MARKET","LIMIT_MAKER"],'
    b'"isSpotTradingAllowed":true,"isMarginTradingAllowed":false,"quoteAmountPrecision":"1",'
    b'"baseSizePrecision":"0.1","permissions":["SPOT"],"filters":[{"filterType":'
    b'"PERCENT_PRICE_BY_SIDE","bidMultiplierUp":"5","askMultiplierDown":"0.2"}],'
    b'"maxQuoteAmount":"2000000","makerCommission":"0","takerCommission":"0.0005",'
    b'"quoteAmountPrecisionMarket":"1","maxQuoteAmountMarket":"100000",'
    b'"fullName":"Metal Blockchain","tradeSideType":"1","contractAddress":"xtokens","st":false}'
)


def test_exchange_info_symbol_becomes_rules() -> None:
    payload = wire.decode(b'{"timezone":"CST","serverTime":1,"symbols":[' + METAL + b"]}")
    [rules] = wire.parse_exchange_info(payload)
    assert rules.symbol == "METALUSDT"
    assert rules.status is SymbolStatus.ONLINE
    assert rules.is_tradable
    assert rules.quantity_precision == 2
    assert rules.price_precision == 5
    assert rules.min_quantity == Decimal("0.1")
    assert rules.min_notional == Decimal("1")
    assert rules.max_notional == Decimal("2000000")
    assert rules.max_notional_market == Decimal("100000")
    assert rules.order_types == {OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER}
    assert rules.bid_multiplier_up == Decimal("5")
    assert rules.ask_multiplier_down == Decimal("0.2")
    assert rules.taker_commission == Decimal("0.0005")
    assert rules.trade_side_type is TradeSideType.ALL


@pytest.mark.parametrize(
    ("status", "side_type", "expected_status", "expected_side"),
    [
        ('"ENABLED"', "2", SymbolStatus.ONLINE, TradeSideType.BUY_ONLY),
        ('"2"', '"3"', SymbolStatus.PAUSED, TradeSideType.SELL_ONLY),
        ('"3"', "4", SymbolStatus.OFFLINE, TradeSideType.CLOSED),
        ('"SOMETHING_NEW"', "1", SymbolStatus.OFFLINE, TradeSideType.ALL),
    ],
)
def test_status_and_trade_side_variants(
    status: str,
    side_type: str,
    expected_status: SymbolStatus,
    expected_side: TradeSideType,
) -> None:
    raw = METAL.replace(b'"status":"1"', f'"status":{status}'.encode())
    raw = raw.replace(b'"tradeSideType":"1"', f'"tradeSideType":{side_type}'.encode())
    rules = wire.parse_symbol_rules(wire.decode(raw))
    assert rules.status is expected_status
    assert rules.trade_side_type is expected_side
    assert not rules.is_tradable or expected_status is SymbolStatus.ONLINE


def test_order_ack_keeps_sent_client_id() -> None:
    ack = wire.parse_order_ack(
        wire.decode(
            b'{"symbol":"MXUSDT","orderId":"06a480e69e604477bfb48dddd5f0b750","orderListId":-1,'
            b'"price":"0.1","origQty":"50","type":"LIMIT","side":"BUY","transactTime":1666676533741}'
        ),
        "my-id",
    )
    assert ack.order_id == "06a480e69e604477bfb48dddd5f0b750"
    assert ack.client_order_id == "my-id"
    assert ack.price == Decimal("0.1")
    assert ack.orig_qty == Decimal("50")
    assert (ack.type, ack.side, ack.transact_time) == (
        OrderType.LIMIT,
        OrderSide.BUY,
        1666676533741,
    )


def test_order_ack_of_ioc_maps_back_to_limit_ioc() -> None:
    ack = wire.parse_order_ack(
        {
            "symbol": "A",
            "orderId": 7,
            "type": "IMMEDIATE_OR_CANCEL",
            "side": "SELL",
            "transactTime": 1,
            "price": "",
            "origQty": None,
        },
        None,
    )
    assert (ack.type, ack.time_in_force) == (OrderType.LIMIT, TimeInForce.IOC)
    assert ack.order_id == "7"
    assert ack.price is None
    assert ack.orig_qty is None


def test_query_order_with_real_world_nulls() -> None:
    order = wire.parse_order(
        wire.decode(
            b'{"symbol":"LTCBTC","orderId":"C02__426060921085927424065","orderListId":-1,'
            b'"clientOrderId":null,"price":"0.1","origQty":"1.0","executedQty":"0.4",'
            b'"cummulativeQuoteQty":"0.04","status":"PARTIALLY_FILLED","timeInForce":null,'
            b'"type":"LIMIT","side":"BUY","stopPrice":null,"time":1499827319559,'
            b'"updateTime":1499827319559,"isWorking":true,"origQuoteOrderQty":"0.000000"}'
        )
    )
    assert order.order_id == "C02__426060921085927424065"
    assert order.client_order_id is None
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.executed_qty == Decimal("0.4")
    assert order.cummulative_quote_qty == Decimal("0.04")
    assert order.orig_quote_order_qty == Decimal("0")
    assert order.time == 1499827319559


def test_cancel_answer_uses_orig_client_id_and_has_no_times() -> None:
    order = wire.parse_order(
        {
            "symbol": "LTCBTC",
            "origClientOrderId": "myOrder1",
            "orderId": 4,
            "clientOrderId": "cancelMyOrder1",
            "price": "2.00000000",
            "origQty": "1.00000000",
            "executedQty": "0.00000000",
            "cummulativeQuoteQty": "0.00000000",
            "status": "CANCELED",
            "timeInForce": "GTC",
            "type": "LIMIT",
            "side": "BUY",
        }
    )
    assert order.client_order_id == "myOrder1"
    assert order.status is OrderStatus.CANCELED
    assert order.time is None
    assert order.orig_quote_order_qty is None


def test_unknown_order_status_reads_as_unknown() -> None:
    order = wire.parse_order(
        {"symbol": "A", "orderId": "1", "status": "WEIRD", "type": "MARKET", "side": "SELL"}
    )
    assert order.status is OrderStatus.UNKNOWN
    assert order.price == Decimal(0)


def test_batch_results_mix_successes_and_typed_failures() -> None:
    results = wire.parse_batch_results(
        wire.decode(
            '[{"symbol":"BTCUSDT","orderId":"1196315350023612316","newClientOrderId":"hio8279",'
            '"orderListId":-1},{"newClientOrderId":"123456","msg":"The minimum transaction volume'
            ' cannot be less than\uff1a0.5USDT","code":30002}]'.encode()
        )
    )
    assert results[0].order_id == "1196315350023612316"
    assert results[0].client_order_id == "hio8279"
    assert results[0].error is None
    assert results[1].order_id is None
    assert isinstance(results[1].error, MinNotional)
    assert results[1].error.code == 30002


def test_batch_json_is_compact_and_uses_wire_types() -> None:
    text = wire.batch_orders_json(
        "BTCUSDT",
        [
            NewOrder(
                OrderSide.BUY,
                OrderType.LIMIT,
                TimeInForce.FOK,
                Decimal("1"),
                None,
                Decimal("2.50"),
                "c1",
            )
        ],
    )
    assert text == (
        '[{"symbol":"BTCUSDT","side":"BUY","type":"FILL_OR_KILL","quantity":"1",'
        '"price":"2.5","newClientOrderId":"c1"}]'
    )


def test_market_time_in_force_is_refused() -> None:
    with pytest.raises(ValueError, match="time_in_force IOC"):
        wire.wire_order_type(OrderType.MARKET, TimeInForce.IOC)


def test_my_trades() -> None:
    [trade] = wire.parse_trades(
        wire.decode(
            b'[{"symbol":"BNBBTC","id":"fad2af9e942049b6adbda1a271f990c6","orderId":"bb41e5663e12",'
            b'"orderListId":-1,"price":"0.00000301","qty":"1000","quoteQty":"0.00301",'
            b'"commission":"0.0000015","commissionAsset":"BTC","time":1499865549590,"isBuyer":true,'
            b'"isMaker":false,"isBestMatch":true,"isSelfTrade":false,"clientOrderId":null}]'
        )
    )
    assert trade.trade_id == "fad2af9e942049b6adbda1a271f990c6"
    assert trade.price == Decimal("0.00000301")
    assert trade.commission == Decimal("0.0000015")
    assert trade.client_order_id is None
    assert trade.is_buyer
    assert not trade.is_maker


def test_account_balances() -> None:
    account = wire.parse_account(
        wire.decode(
            b'{"canTrade":true,"canWithdraw":true,"canDeposit":true,"updateTime":null,'
            b'"accountType":"SPOT","balances":[{"asset":"USDT","free":"10.5","locked":"2"}],'
            b'"permissions":["SPOT"]}'
        )
    )
    assert account.balance("USDT").free == Decimal("10.5")
    assert account.balance("USDT").locked == Decimal("2")
    assert account.balance("BTC").free == Decimal(0)
    assert account.update_time is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"code":200,"data":["GENE1USDT","BTCUSDT"],"msg":null}',
        b'{"data":["GENE1USDT","BTCUSDT"],"code":0,"msg":"success","timestamp":1}',
    ],
)
def test_default_symbols_both_envelopes(raw: bytes) -> None:
    payload = wire.decode(raw)
    assert wire.error_in(payload) is None
    assert wire.parse_default_symbols(payload) == ["GENE1USDT", "BTCUSDT"]


def test_error_detection() -> None:
    assert wire.error_in(wire.decode(b'{"msg":"Oversold","code":30005}')) == (30005, "Oversold")
    assert wire.error_in(wire.decode(b'{"code":"700003","msg":"x"}')) == (700003, "x")
    assert wire.error_in({"serverTime": 1}) is None
    assert wire.error_in([]) is None


def test_trade_fee_json_floats_are_exact() -> None:
    fee = wire.parse_trade_fee(
        wire.decode(b'{"data":{"makerCommission":0.003,"takerCommission":0.001},"code":0}')
    )
    assert fee.maker_commission == Decimal("0.003")
    assert fee.taker_commission == Decimal("0.001")


def test_market_data_shapes() -> None:
    book = wire.parse_depth(
        wire.decode(b'{"lastUpdateId":1112416,"bids":[["15.00000","49999.00000"]],"asks":[]}')
    )
    assert book.last_update_id == 1112416
    assert book.bids[0].price == Decimal("15.00000")
    assert book.timestamp is None
    [trade] = wire.parse_public_trades(
        wire.decode(
            b'[{"id":null,"price":"3219.58","qty":"0.04757","quoteQty":"153.15",'
            b'"time":1737623988881,"isBuyerMaker":false,"isBestMatch":true,"tradeType":"BID"}]'
        )
    )
    assert trade.trade_id is None
    assert trade.quote_qty == Decimal("153.15")
    [kline] = wire.parse_klines(
        wire.decode(
            b'[[1640804880000,"47482.36","47482.36","47416.57","47436.1",'
            b'"3.550717",1640804940000,"168387.3"]]'
        )
    )
    assert kline.close == Decimal("47436.1")
    assert kline.close_time == 1640804940000
    avg = wire.parse_avg_price(wire.decode(b'{"mins":5,"price":"9.35751834"}'))
    assert avg.price == Decimal("9.35751834")


def test_tickers_accept_object_array_null_and_empty() -> None:
    [ticker] = wire.parse_tickers_24h(
        wire.decode(
            b'{"symbol":"BTCUSDT","priceChange":"","priceChangePercent":null,'
            b'"lastPrice":"184.34","openTime":1,"closeTime":2,"count":null}'
        )
    )
    assert ticker.price_change is None
    assert ticker.price_change_percent is None
    assert ticker.last_price == Decimal("184.34")
    prices = wire.parse_ticker_prices(
        wire.decode(b'[{"symbol":"A","price":"1"},{"symbol":"B","price":"2.5"}]')
    )
    assert [p.price for p in prices] == [Decimal("1"), Decimal("2.5")]
    [book] = wire.parse_book_tickers(
        wire.decode(b'{"symbol":"A","bidPrice":"1","bidQty":"2","askPrice":null,"askQty":""}')
    )
    assert book.bid_qty == Decimal("2")
    assert book.ask_price is None


def test_listen_keys() -> None:
    assert wire.parse_listen_key({"listenKey": "abc"}) == "abc"
    assert wire.parse_listen_keys({"listenKey": ["a", "b"]}) == ["a", "b"]
    assert wire.parse_listen_keys({"listenKey": "a"}) == ["a"]
