"""MexcClient against the real simulator over HTTP on 127.0.0.1: every endpoint, every error."""

from __future__ import annotations

import dataclasses
import socket
import time
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolStatus
from mexcbot.mexc.errors import (
    AccessDenied,
    ExchangeUnavailable,
    InsufficientBalance,
    InvalidOrderParameter,
    InvalidSignature,
    MinNotional,
    OrderNotFound,
    OrderRejected,
    Oversold,
    SymbolNotTradable,
)
from mexcbot.mexc.models import NewOrder
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcsim import SimServer
from mexcsim.market.symbols import DEFAULT_SYMBOLS
from tests.fixtures.mexc import client_config
from tests.fixtures.sim import sim_config

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET


async def test_public_market_data(client: MexcClient) -> None:
    await client.ping()
    assert abs(await client.server_time() - time.time() * 1000) < 5000
    assert "BTCUSDT" in await client.default_symbols()
    book = await client.depth("BTCUSDT", limit=5)
    assert book.bids[0].price < book.asks[0].price
    assert len(book.bids) <= 5
    trades = await client.recent_trades("BTCUSDT", limit=3)
    assert all(t.price > 0 for t in trades)
    klines = await client.klines("BTCUSDT", "1m", limit=2)
    assert all(k.low <= k.close <= k.high for k in klines)
    assert (await client.avg_price("BTCUSDT")).price > 0
    assert (await client.ticker_24h("BTCUSDT")).symbol == "BTCUSDT"
    assert {"BTCUSDT", "ETHUSDT"} <= {t.symbol for t in await client.tickers_24h()}
    assert (await client.ticker_price("ETHUSDT")).price > 0
    assert len(await client.ticker_prices()) >= 2
    ticker = await client.book_ticker("BTCUSDT")
    assert ticker.bid_price is not None
    assert ticker.ask_price is not None
    assert ticker.bid_price < ticker.ask_price
    assert len(await client.book_tickers()) >= 2


async def test_kline_interval_is_checked_before_sending(client: MexcClient) -> None:
    with pytest.raises(ValueError, match="interval '1h'"):
        await client.klines("BTCUSDT", "1h")


async def test_exchange_info_gives_symbol_rules(client: MexcClient) -> None:
    rules = await client.symbol_rules("BTCUSDT")
    assert rules.is_tradable
    assert rules.quantity_precision == 6
    assert rules.price_precision == 2
    assert OrderType.LIMIT in rules.order_types
    everything = await client.exchange_info()
    assert {"BTCUSDT", "METALUSDT"} <= {r.symbol for r in everything}


async def test_order_lifecycle(client: MexcClient) -> None:
    ack = await client.place_order(
        "BTCUSDT", BUY, LIMIT, quantity=D("0.001"), price=D("30000.00"), client_order_id="life-1"
    )
    assert ack.client_order_id == "life-1"
    assert ack.order_id.startswith("C02__")
    assert (ack.price, ack.orig_qty, ack.type, ack.side) == (D("30000"), D("0.001"), LIMIT, BUY)

    by_client = await client.get_order("BTCUSDT", client_order_id="life-1")
    by_id = await client.get_order("BTCUSDT", order_id=ack.order_id)
    assert by_client == by_id
    assert by_id.status is OrderStatus.NEW
    assert [o.order_id for o in await client.open_orders("BTCUSDT")] == [ack.order_id]
    assert ack.order_id in {o.order_id for o in await client.open_orders()}
    account = await client.account()
    assert account.balance("USDT").locked == D("30")

    canceled = await client.cancel_order("BTCUSDT", client_order_id="life-1")
    assert canceled.status is OrderStatus.CANCELED
    assert canceled.order_id == ack.order_id
    assert await client.open_orders("BTCUSDT") == []
    assert ack.order_id in {o.order_id for o in await client.all_orders("BTCUSDT")}


async def test_market_buy_fills_and_shows_in_my_trades(client: MexcClient) -> None:
    ack = await client.place_order("ETHUSDT", BUY, MARKET, quote_order_qty=D("100"))
    assert ack.client_order_id  # generated when not given, so an unknown outcome is resolvable
    order = await client.get_order("ETHUSDT", order_id=ack.order_id)
    assert order.status is OrderStatus.FILLED
    assert D("99") < order.cummulative_quote_qty <= D("100")
    trades = await client.my_trades("ETHUSDT", order_id=ack.order_id)
    assert trades
    assert sum(t.qty for t in trades) == order.executed_qty
    assert all(t.is_buyer and t.client_order_id == ack.client_order_id for t in trades)


async def test_ioc_far_from_market_expires_unfilled(client: MexcClient) -> None:
    ack = await client.place_order(
        "BTCUSDT", BUY, LIMIT, TimeInForce.IOC, quantity=D("0.001"), price=D("30000")
    )
    assert ack.time_in_force is TimeInForce.IOC
    order = await client.get_order("BTCUSDT", order_id=ack.order_id)
    assert order.time_in_force is TimeInForce.IOC
    assert order.status is OrderStatus.CANCELED
    assert order.executed_qty == 0


async def test_test_order_validates_without_placing(client: MexcClient) -> None:
    await client.test_order("BTCUSDT", BUY, LIMIT, quantity=D("0.001"), price=D("30000"))
    assert await client.open_orders("BTCUSDT") == []
    with pytest.raises(MinNotional):
        await client.test_order("BTCUSDT", BUY, LIMIT, quantity=D("0.000001"), price=D("30000"))


async def test_batch_orders_mixed_results_and_cancel_all(client: MexcClient) -> None:
    results = await client.place_batch_orders(
        "BTCUSDT",
        [
            NewOrder(BUY, LIMIT, quantity=D("0.001"), price=D("30000"), client_order_id="b-1"),
            NewOrder(BUY, LIMIT, quantity=D("0.000001"), price=D("30000"), client_order_id="b-2"),
            NewOrder(BUY, LIMIT, quantity=D("0.002"), price=D("31000")),
        ],
    )
    assert [r.client_order_id for r in results][:2] == ["b-1", "b-2"]
    assert results[0].order_id is not None
    assert isinstance(results[1].error, MinNotional)
    assert results[2].order_id is not None
    canceled = await client.cancel_open_orders("BTCUSDT")
    assert {o.order_id for o in canceled} == {results[0].order_id, results[2].order_id}
    assert await client.open_orders("BTCUSDT") == []


async def test_batch_size_is_checked(client: MexcClient) -> None:
    with pytest.raises(ValueError, match=r"1\.\.20"):
        await client.place_batch_orders("BTCUSDT", [])


async def test_trade_fee_and_listen_keys(client: MexcClient) -> None:
    fee = await client.trade_fee("BTCUSDT")
    assert fee.taker_commission >= 0
    key = await client.create_listen_key()
    assert key in await client.listen_keys()
    await client.keepalive_listen_key(key)
    await client.close_listen_key(key)
    assert key not in await client.listen_keys()


async def test_signature_edge_cases_are_accepted(client: MexcClient) -> None:
    # Values needing percent-encoding, trailing zeros and exponent-form Decimals all sign correctly.
    ack = await client.place_order(
        "BTCUSDT",
        BUY,
        LIMIT,
        quantity=D("1E-3"),
        price=D("30000.0000"),
        client_order_id="edge_1-A",
    )
    order = await client.get_order("BTCUSDT", client_order_id="edge_1-A")
    assert order.order_id == ack.order_id
    assert order.orig_qty == D("0.001")


# --- errors, provoked for real -------------------------------------------------------------------


async def test_wrong_secret_is_invalid_signature_without_leaking_it(sim: SimServer) -> None:
    async with MexcClient(client_config(sim.url, api_secret="not-the-secret")) as mexc:
        with pytest.raises(InvalidSignature) as info:
            await mexc.account()
    assert info.value.code == 700002
    assert info.value.http_status == 400
    assert "not-the-secret" not in str(info.value)


async def test_unknown_api_key_is_access_denied(sim: SimServer) -> None:
    async with MexcClient(client_config(sim.url, api_key="who-is-this")) as mexc:
        with pytest.raises(AccessDenied):
            await mexc.account()


async def test_sync_time_measures_the_server_clock_offset() -> None:
    skew_ms = 30_000
    server = SimServer(sim_config(), now_ms=lambda: time.time_ns() // 1_000_000 + skew_ms)
    async with server, MexcClient(client_config(server.url)) as mexc:
        offset = await mexc.sync_time()
        assert abs(offset - skew_ms) < 1000
        assert mexc.time_offset_ms == offset
        assert (await mexc.account()).can_trade


async def test_min_notional(client: MexcClient) -> None:
    with pytest.raises(MinNotional) as info:
        await client.place_order("BTCUSDT", BUY, LIMIT, quantity=D("0.000001"), price=D("30000"))
    assert info.value.code == 30002


async def test_insufficient_balance(client: MexcClient) -> None:
    with pytest.raises(InsufficientBalance):
        await client.place_order("BTCUSDT", BUY, LIMIT, quantity=D("10"), price=D("60000"))


async def test_oversold(client: MexcClient) -> None:
    with pytest.raises(Oversold) as info:
        await client.place_order("ETHUSDT", SELL, MARKET, quantity=D("20"))
    assert info.value.code == 30005


async def test_unlisted_symbol_is_not_tradable(sim: SimServer, client: MexcClient) -> None:
    spec = dataclasses.replace(DEFAULT_SYMBOLS[0], symbol="NEWUSDT", base_asset="NEW")
    sim.exchange.schedule_listing(spec, int(time.time() * 1000) + 3_600_000, D("1"))
    rules = await client.symbol_rules("NEWUSDT")
    assert rules.status is not SymbolStatus.ONLINE
    assert not rules.is_tradable
    with pytest.raises(SymbolNotTradable) as info:
        await client.place_order("NEWUSDT", BUY, LIMIT, quantity=D("10"), price=D("1"))
    assert info.value.code == 10007
    assert isinstance(info.value, OrderRejected)


async def test_unknown_order(client: MexcClient) -> None:
    with pytest.raises(OrderNotFound) as info:
        await client.get_order("BTCUSDT", client_order_id="never-placed")
    assert (info.value.code, info.value.msg) == (-2013, "Order does not exist.")
    with pytest.raises(OrderNotFound) as info:
        await client.cancel_order("BTCUSDT", order_id="C02__1")
    assert (info.value.code, info.value.msg) == (-2011, "Unknown order sent.")


async def test_cancel_of_a_final_order_is_order_not_found(client: MexcClient) -> None:
    ack = await client.place_order("ETHUSDT", BUY, MARKET, quote_order_qty=D("100"))
    assert (await client.get_order("ETHUSDT", order_id=ack.order_id)).status is OrderStatus.FILLED
    with pytest.raises(OrderNotFound) as info:
        await client.cancel_order("ETHUSDT", order_id=ack.order_id)
    assert info.value.code == -2011


@pytest.mark.parametrize(
    ("params", "field", "msg"),
    [
        ({"quantity": D("0.001"), "price": D("30000.001")}, "price", " price scale is invalid"),
        (
            {"quantity": D("0.0010001"), "price": D("30000")},
            "quantity",
            " quantity scale is invalid",
        ),
        ({"quote_order_qty": D("10.001")}, "quoteOrderQty", " amount scale is invalid"),
    ],
)
async def test_too_many_decimals_is_an_invalid_parameter_naming_the_field(
    client: MexcClient, params: dict[str, Decimal], field: str, msg: str
) -> None:
    order_type = MARKET if "quote_order_qty" in params else LIMIT
    with pytest.raises(InvalidOrderParameter) as info:
        await client.place_order("BTCUSDT", BUY, order_type, **params)
    assert (info.value.code, info.value.msg, info.value.field) == (400, msg, field)
    assert info.value.http_status == 400
    assert isinstance(info.value, OrderRejected)
    assert not isinstance(info.value, AccessDenied)


async def test_limit_maker_that_would_take_is_accepted_then_canceled(client: MexcClient) -> None:
    ask = (await client.book_ticker("BTCUSDT")).ask_price
    assert ask is not None
    crossing = (ask * D("1.01")).quantize(D("0.01"))
    ack = await client.place_order(
        "BTCUSDT", BUY, OrderType.LIMIT_MAKER, quantity=D("0.001"), price=crossing
    )
    order = await client.get_order("BTCUSDT", order_id=ack.order_id)
    assert (order.status, order.executed_qty) == (OrderStatus.CANCELED, D(0))
    assert await client.my_trades("BTCUSDT", order_id=ack.order_id) == []


async def test_order_reference_needs_exactly_one_id(client: MexcClient) -> None:
    with pytest.raises(ValueError, match="exactly one of order_id and client_order_id"):
        await client.get_order("BTCUSDT")


async def test_place_to_closed_port_is_definitely_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = MexcClientConfig(api_key="k", api_secret="s", base_url=f"http://127.0.0.1:{port}")
    async with MexcClient(config) as mexc:
        with pytest.raises(ExchangeUnavailable, match="not sent"):
            await mexc.place_order("BTCUSDT", BUY, LIMIT, quantity=D("1"), price=D("1"))
