"""The push codec: every body round-trips from the project's protobuf code into typed events,
control frames are read as MEXC sends them, and ccxt's decoders agree with our schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given
from hypothesis import strategies as st

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.mexc.models import PriceLevel
from mexcbot.mexc.streams import (
    BalanceUpdate,
    BookQuote,
    BookTickerBatch,
    BookTickerUpdate,
    ControlRefused,
    DepthSnapshot,
    DepthUpdate,
    FillUpdate,
    FrameError,
    InvalidListenKey,
    KlineUpdate,
    MiniTickerBatch,
    MiniTickerUpdate,
    OrderUpdate,
    Pong,
    SubscriptionAck,
    SubscriptionRefused,
    Trade,
    Trades,
    UnknownControl,
    UnknownPush,
    decode_control,
    decode_push,
)
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

D = Decimal
decimals = st.decimals(
    min_value=D("0.00000001"), max_value=D("1e9"), places=8, allow_nan=False, allow_infinity=False
).map(lambda d: d.normalize())


def _roundtrip(push: PushDataV3ApiWrapper) -> object:
    return decode_push(push.SerializeToString())


@given(st.lists(st.tuples(decimals, decimals, st.sampled_from([1, 2]), st.text(max_size=5))))
def test_aggre_deals_round_trip(deals: list[tuple[Decimal, Decimal, int, str]]) -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT")
    push.symbol, push.sendTime = "BTCUSDT", 1754735110559
    push.publicAggreDeals.SetInParent()
    for price, qty, side, trade_id in deals:
        item = push.publicAggreDeals.deals.add(price=str(price), quantity=str(qty), tradeType=side)
        item.time, item.tradeId = 1754735110000, trade_id
    event = _roundtrip(push)
    assert isinstance(event, Trades)
    assert (event.symbol, event.send_time) == ("BTCUSDT", 1754735110559)
    assert event.channel == "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"
    sides = {1: OrderSide.BUY, 2: OrderSide.SELL}
    assert event.trades == tuple(
        Trade(p, q, sides[s], 1754735110000, t or None) for p, q, s, t in deals
    )


def test_legacy_public_deals_have_no_trade_id() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.deals.v3.api.pb@ETHUSDT", symbol="ETHUSDT")
    push.publicDeals.deals.add(price="3219.58", quantity="0.04757", tradeType=2, time=7)
    event = _roundtrip(push)
    assert isinstance(event, Trades)
    assert event.trades == (Trade(D("3219.58"), D("0.04757"), OrderSide.SELL, 7, None),)


levels = st.lists(st.tuples(decimals, decimals | st.just(D(0))), max_size=8)


@given(levels, levels, st.integers(1, 2**60), st.integers(0, 50))
def test_aggre_depth_round_trip(
    bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]], start: int, span: int
) -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT")
    body = push.publicAggreDepths
    for items, side in ((body.bids, bids), (body.asks, asks)):
        for price, qty in side:
            items.add(price=str(price), quantity=str(qty))
    body.fromVersion, body.toVersion = str(start), str(start + span)
    body.lastOrderCreateTime = 1754735110001
    event = _roundtrip(push)
    assert isinstance(event, DepthUpdate)
    assert (event.from_version, event.to_version) == (start, start + span)
    assert event.bids == tuple(PriceLevel(p, q) for p, q in bids)
    assert event.asks == tuple(PriceLevel(p, q) for p, q in asks)
    assert event.last_order_create_time == 1754735110001


def test_legacy_increase_depth_has_one_version() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.increase.depth.v3.api.pb@BTCUSDT")
    push.publicIncreaseDepths.version = "42"
    push.publicIncreaseDepths.asks.add(price="1.5", quantity="0")
    event = _roundtrip(push)
    assert isinstance(event, DepthUpdate)
    assert (event.from_version, event.to_version) == (42, 42)
    assert event.asks == (PriceLevel(D("1.5"), D(0)),)


def test_depth_without_versions_is_refused_when_read() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT")
    push.publicAggreDepths.eventType = "x"
    event = _roundtrip(push)
    assert isinstance(event, DepthUpdate)
    with pytest.raises(ValueError, match="invalid literal"):
        _ = event.from_version


def test_limit_depth_snapshot() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.limit.depth.v3.api.pb@BTCUSDT@5")
    body = push.publicLimitDepths
    body.bids.add(price="100.1", quantity="2")
    body.asks.add(price="100.2", quantity="3.5")
    body.version, body.lastOrderCreateTime = "77", 5
    event = _roundtrip(push)
    assert isinstance(event, DepthSnapshot)
    assert event.version == 77
    assert event.bids == (PriceLevel(D("100.1"), D(2)),)
    assert event.asks == (PriceLevel(D("100.2"), D("3.5")),)
    assert event.last_order_create_time == 5


def test_book_tickers_with_an_empty_side() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT")
    ticker = push.publicAggreBookTicker
    ticker.bidPrice, ticker.bidQuantity, ticker.version = "93387.28", "3.73485", "9"
    event = _roundtrip(push)
    assert isinstance(event, BookTickerUpdate)
    assert event.quote == BookQuote(D("93387.28"), D("3.73485"), None, None)
    assert event.version == 9

    legacy = PushDataV3ApiWrapper(channel="spot@public.bookTicker.v3.api.pb@BTCUSDT")
    legacy.publicBookTicker.askPrice, legacy.publicBookTicker.askQuantity = "1", "2"
    old = _roundtrip(legacy)
    assert isinstance(old, BookTickerUpdate)
    assert old.quote == BookQuote(None, None, D(1), D(2))
    assert old.version is None

    batch = PushDataV3ApiWrapper(channel="spot@public.bookTicker.batch.v3.api.pb@BTCUSDT")
    for bid in ("1.1", "1.2"):
        batch.publicBookTickerBatch.items.add(
            bidPrice=bid, bidQuantity="1", askPrice="2", askQuantity="3"
        )
    batch.publicBookTickerBatch.version = "11"
    many = _roundtrip(batch)
    assert isinstance(many, BookTickerBatch)
    assert [q.bid_price for q in many.quotes] == [D("1.1"), D("1.2")]
    assert many.version == 11


def test_kline() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.kline.v3.api.pb@BTCUSDT@Min1")
    push.symbol, push.symbolId, push.createTime = "BTCUSDT", "2fb9", 1754735110559
    k = push.publicSpotKline
    k.interval, k.windowStart, k.windowEnd = "Min1", 1754735100, 1754735160
    k.openingPrice, k.closingPrice, k.highestPrice, k.lowestPrice = "1", "2", "3", "0.5"
    k.volume, k.amount = "0.13425465", "15815.77"
    event = _roundtrip(push)
    assert isinstance(event, KlineUpdate)
    assert (event.interval, event.window_start_s, event.window_end_s) == (
        "Min1",
        1754735100,
        1754735160,
    )
    assert (event.open, event.close, event.high, event.low) == (D(1), D(2), D(3), D("0.5"))
    assert (event.volume, event.quote_volume) == (D("0.13425465"), D("15815.77"))
    assert event.create_time == 1754735110559


def test_mini_tickers() -> None:
    one = PushDataV3ApiWrapper(channel="spot@public.miniTicker.v3.api.pb@BTCUSDT@24H")
    t = one.publicMiniTicker
    t.symbol, t.price, t.rate, t.high, t.low, t.volume, t.quantity = (
        "BTCUSDT",
        "100",
        "-0.01",
        "110",
        "90",
        "5000",
        "50",
    )
    event = _roundtrip(one)
    assert isinstance(event, MiniTickerUpdate)
    assert (event.last_price, event.change_rate, event.high, event.low) == (
        D(100),
        D("-0.01"),
        D(110),
        D(90),
    )
    assert (event.quote_volume, event.volume) == (D(5000), D(50))
    many = PushDataV3ApiWrapper(channel="spot@public.miniTickers.v3.api.pb@24H")
    many.publicMiniTickers.items.add(symbol="A", price="1")
    many.publicMiniTickers.items.add(symbol="B", price="2.5")
    batch = _roundtrip(many)
    assert isinstance(batch, MiniTickerBatch)
    assert batch.last_prices == {"A": D(1), "B": D("2.5")}


def test_private_order_update() -> None:
    push = PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol="BTCUSDT")
    push.sendTime = 1661938138281
    o = push.privateOrders
    o.id, o.clientId, o.price, o.quantity, o.amount = "C02__1", "bot-7", "30000", "0.01", "0"
    o.avgPrice, o.orderType, o.tradeType, o.isMaker = "29999.5", 3, 2, False
    o.remainAmount, o.remainQuantity, o.lastDealQuantity = "0", "0.004", "0.002"
    o.cumulativeQuantity, o.cumulativeAmount, o.status, o.createTime = "0.006", "180", 3, 1661938
    event = _roundtrip(push)
    assert isinstance(event, OrderUpdate)
    assert (event.order_id, event.client_order_id, event.symbol) == ("C02__1", "bot-7", "BTCUSDT")
    assert (event.order_type, event.time_in_force) == (OrderType.LIMIT, TimeInForce.IOC)
    assert (event.side, event.status) == (OrderSide.SELL, OrderStatus.PARTIALLY_FILLED)
    assert (event.price, event.quantity, event.quote_amount) == (D(30000), D("0.01"), None)
    assert (event.avg_price, event.executed_qty, event.cumulative_quote_qty) == (
        D("29999.5"),
        D("0.006"),
        D(180),
    )
    assert (event.remaining_qty, event.remaining_quote_qty) == (D("0.004"), D(0))
    assert (event.last_fill_qty, event.is_maker, event.created_at) == (D("0.002"), False, 1661938)
    assert event.send_time == 1661938138281


@pytest.mark.parametrize(
    ("wire_type", "wire_status", "expected"),
    [
        (1, 1, (OrderType.LIMIT, TimeInForce.GTC, OrderStatus.NEW)),
        (2, 2, (OrderType.LIMIT_MAKER, TimeInForce.GTC, OrderStatus.FILLED)),
        (4, 4, (OrderType.LIMIT, TimeInForce.FOK, OrderStatus.CANCELED)),
        (5, 5, (OrderType.MARKET, TimeInForce.GTC, OrderStatus.PARTIALLY_CANCELED)),
        (100, 0, (None, None, None)),
    ],
)
def test_private_order_enums(
    wire_type: int, wire_status: int, expected: tuple[object, object, object]
) -> None:
    push = PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb")
    push.privateOrders.orderType, push.privateOrders.status = wire_type, wire_status
    event = _roundtrip(push)
    assert isinstance(event, OrderUpdate)
    assert (event.order_type, event.time_in_force, event.status) == expected
    assert event.last_fill_qty is None


def test_private_fill_has_trade_id_and_fee() -> None:
    push = PushDataV3ApiWrapper(channel="spot@private.deals.v3.api.pb", symbol="MXUSDT")
    d = push.privateDeals
    d.price, d.quantity, d.amount, d.tradeType = "3.6962", "1", "3.6962", 1
    d.isMaker, d.isSelfTrade, d.tradeId = True, False, "505979017439002624X1"
    d.clientOrderId, d.orderId, d.feeAmount, d.feeCurrency = "", "C02__2", "0.0003998", "MX"
    d.time = 1661938980285
    event = _roundtrip(push)
    assert isinstance(event, FillUpdate)
    assert (event.trade_id, event.order_id, event.client_order_id) == (
        "505979017439002624X1",
        "C02__2",
        None,
    )
    assert (event.price, event.qty, event.quote_qty) == (D("3.6962"), D(1), D("3.6962"))
    assert (event.fee, event.fee_asset, event.side) == (D("0.0003998"), "MX", OrderSide.BUY)
    assert (event.is_maker, event.is_self_trade, event.time) == (True, False, 1661938980285)


def test_private_account_balance_change() -> None:
    push = PushDataV3ApiWrapper(channel="spot@private.account.v3.api.pb", createTime=5, sendTime=6)
    a = push.privateAccount
    a.vcoinName, a.coinId, a.balanceAmount, a.balanceAmountChange = "USDT", "1", "90", "-10"
    a.frozenAmount, a.frozenAmountChange, a.type, a.time = "10", "10", "ENTRUST_PLACE", 4
    event = _roundtrip(push)
    assert isinstance(event, BalanceUpdate)
    assert (event.asset, event.free, event.free_change) == ("USDT", D(90), D(-10))
    assert (event.locked, event.locked_change, event.reason) == (D(10), D(10), "ENTRUST_PLACE")
    assert (event.symbol, event.time, event.create_time) == ("", 4, 5)


def test_unknown_body_and_garbage() -> None:
    push = PushDataV3ApiWrapper(channel="spot@public.increase.depth.batch.v3.api.pb@BTCUSDT")
    push.publicIncreaseDepthsBatch.eventType = "x"
    event = _roundtrip(push)
    assert isinstance(event, UnknownPush)
    assert event.body == "publicIncreaseDepthsBatch"
    with pytest.raises(FrameError):
        decode_push(b"\x0a\xff\xff")


def test_events_are_immutable_values() -> None:
    push = PushDataV3ApiWrapper(channel="c", symbol="S")
    push.publicAggreDeals.deals.add(price="1", quantity="2", tradeType=1, time=3)
    first, second = _roundtrip(push), _roundtrip(push)
    assert first == second
    with pytest.raises(AttributeError):
        first.symbol = "X"  # type: ignore[misc]
    assert "Trades(channel='c'" in repr(first)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id":0,"code":0,"msg":"PONG"}', Pong()),
        (
            '{"id":7,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT,x@y"}',
            SubscriptionAck(7, ("spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", "x@y")),
        ),
        (
            '{"id":3,"code":0,"msg":"Not Subscribed successfully! '
            '[spot@public.deals.v3.api@BTCUSDT].  Reason： Blocked!"}',
            SubscriptionRefused(3, ("spot@public.deals.v3.api@BTCUSDT",), "Blocked"),
        ),
        ("Invalid listen key", InvalidListenKey()),
        ('{"code":700002,"msg":"Signature for this request is not valid."}', None),
        ("hello", UnknownControl("hello")),
    ],
)
def test_control_frames(text: str, expected: object) -> None:
    if expected is None:
        expected = ControlRefused(0, 700002, "Signature for this request is not valid.")
    assert decode_control(text) == expected


# --- the schema agrees with the real exchange's, as ccxt ships it ---------------------------------

ccxt_wrapper = pytest.importorskip("ccxt.protobuf.mexc.PushDataV3ApiWrapper_pb2")


def _fields(descriptor: object) -> dict[str, tuple[int, int, bool, str | None]]:
    return {
        f.name: (f.number, f.type, f.is_repeated, f.message_type and f.message_type.name)
        for f in descriptor.fields  # type: ignore[attr-defined]
    }


def _messages(descriptor: object, seen: dict[str, object]) -> dict[str, object]:
    seen[descriptor.name] = descriptor  # type: ignore[attr-defined]
    for field in descriptor.fields:  # type: ignore[attr-defined]
        if field.message_type is not None and field.message_type.name not in seen:
            _messages(field.message_type, seen)
    return seen


#: Fields the 2026-06 layout added after the copy ccxt 4.5 ships.
NEW_IN_2026 = {
    "PublicAggreDealsV3ApiItem": {"tradeId"},
    "PublicAggreDepthsV3Api": {"lastOrderCreateTime"},
    "PublicLimitDepthsV3Api": {"lastOrderCreateTime"},
    "PublicAggreBookTickerV3Api": {"version", "lastOrderCreateTime"},
    "PublicBookTickerBatchV3Api": {"version", "lastOrderCreateTime"},
}


def test_every_ccxt_field_has_our_number_and_type() -> None:
    ours = _messages(PushDataV3ApiWrapper.DESCRIPTOR, {})
    theirs = _messages(ccxt_wrapper.PushDataV3ApiWrapper.DESCRIPTOR, {})
    assert set(ours) == set(theirs)
    for name, descriptor in theirs.items():
        mine = _fields(ours[name])
        assert _fields(descriptor).items() <= mine.items(), name
        assert set(mine) - set(_fields(descriptor)) == NEW_IN_2026.get(name, set()), name


def test_ccxt_decodes_what_we_encode() -> None:
    push = PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol="BTCUSDT")
    push.sendTime = 9
    push.privateOrders.id, push.privateOrders.status = "C02__1", 2
    push.privateOrders.lastDealQuantity = "0.5"
    depth = PushDataV3ApiWrapper(channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT")
    depth.publicAggreDepths.bids.add(price="1", quantity="2")
    depth.publicAggreDepths.fromVersion, depth.publicAggreDepths.toVersion = "5", "6"
    depth.publicAggreDepths.lastOrderCreateTime = 77  # unknown to ccxt: must be skipped
    for message in (push, depth):
        decoded = ccxt_wrapper.PushDataV3ApiWrapper.FromString(message.SerializeToString())
        expected = MessageToDict(message)
        expected.get("publicAggreDepths", {}).pop("lastOrderCreateTime", None)
        assert MessageToDict(decoded) == expected
