"""MEXC's JSON wire format <-> typed values: the only code that knows MEXC's field names.

Parsing is tolerant of the real-world variations the reference lists: numbers as strings, ints or
JSON floats (decoded straight to Decimal), null or "" for missing figures, ``code`` 0 or 200 for
success, ``tradeSideType`` as int or string, ``status`` "1" or "ENABLED". Parse functions raise
``KeyError``/``TypeError``/``ValueError`` on a malformed payload; the client turns those into
``UnexpectedResponse``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolRules, SymbolStatus, TradeSideType
from mexcbot.mexc.constants import SUCCESS_CODES
from mexcbot.mexc.errors import error_for
from mexcbot.mexc.models import (
    Account,
    AvgPrice,
    Balance,
    BatchOrderResult,
    BookTicker,
    ExchangeOrder,
    ExchangeTrade,
    Kline,
    NewOrder,
    OrderAck,
    OrderBook,
    PriceLevel,
    PublicTrade,
    Ticker24h,
    TickerPrice,
    TradeFee,
)
from mexcbot.mexc.signing import ParamValue, format_value

JsonObject = Mapping[str, object]

_ZERO: Final = Decimal(0)

_TO_WIRE_TYPE: Final = {
    (OrderType.LIMIT, TimeInForce.GTC): "LIMIT",
    (OrderType.LIMIT, TimeInForce.IOC): "IMMEDIATE_OR_CANCEL",
    (OrderType.LIMIT, TimeInForce.FOK): "FILL_OR_KILL",
    (OrderType.MARKET, TimeInForce.GTC): "MARKET",
    (OrderType.LIMIT_MAKER, TimeInForce.GTC): "LIMIT_MAKER",
}
_FROM_WIRE_TYPE: Final = {wire: pair for pair, wire in _TO_WIRE_TYPE.items()} | {
    "POST_ONLY": (OrderType.LIMIT_MAKER, TimeInForce.GTC),
}
_STATUSES: Final = {status.value: status for status in OrderStatus}
_SYMBOL_STATUSES: Final = {
    "1": SymbolStatus.ONLINE,
    "ENABLED": SymbolStatus.ONLINE,
    "2": SymbolStatus.PAUSED,
    "PAUSED": SymbolStatus.PAUSED,
}


# --- decoding helpers --------------------------------------------------------------------------


_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
_SIDES: Final = {side.value: side for side in OrderSide}


def decode(raw: bytes) -> object:
    """JSON to Python with every non-integer number as an exact Decimal (one shared decoder:
    ``json.loads`` with keyword arguments builds a new decoder per call, which shows on the hot
    path)."""
    return _DECODER.decode(raw.decode())


def error_in(payload: object) -> tuple[int, str] | None:
    """``(code, msg)`` when ``payload`` is a MEXC error body (a code that is neither 0 nor 200)."""
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = _opt_int(payload["code"])
    if code is None or code in SUCCESS_CODES:
        return None
    return code, str(payload.get("msg") or "")


def _obj(value: object) -> JsonObject:
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a JSON array, got {type(value).__name__}")
    return value


def _dec(value: object) -> Decimal:
    """A required figure; null or "" (MEXC's "not applicable") reads as zero."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value) if value else _ZERO
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if value is None:
        return _ZERO
    raise TypeError(f"expected a number, got {value!r}")


def _opt_dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return _dec(value)


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str | Decimal):
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return _int(value)


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {value!r}")


def _opt_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return _str(value)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _one_or_many(payload: object) -> list[object]:
    return payload if isinstance(payload, list) else [payload]


# --- requests ----------------------------------------------------------------------------------


def wire_order_type(order_type: OrderType, time_in_force: TimeInForce) -> str:
    """MEXC's order type for a domain type + time in force (IOC/FOK are MEXC order types)."""
    try:
        return _TO_WIRE_TYPE[(order_type, time_in_force)]
    except KeyError:
        raise ValueError(
            f"time_in_force {time_in_force} is not supported with order_type {order_type}"
        ) from None


def order_params(
    symbol: str,
    side: OrderSide,
    order_type: OrderType,
    time_in_force: TimeInForce,
    quantity: Decimal | None,
    quote_order_qty: Decimal | None,
    price: Decimal | None,
    client_order_id: str | None,
) -> list[tuple[str, ParamValue]]:
    """The query parameters of a new order, in MEXC's documented order."""
    params: list[tuple[str, ParamValue]] = [
        ("symbol", symbol),
        ("side", side.value),
        ("type", wire_order_type(order_type, time_in_force)),
    ]
    if quantity is not None:
        params.append(("quantity", quantity))
    if quote_order_qty is not None:
        params.append(("quoteOrderQty", quote_order_qty))
    if price is not None:
        params.append(("price", price))
    if client_order_id is not None:
        params.append(("newClientOrderId", client_order_id))
    return params


def batch_orders_json(symbol: str, orders: Sequence[NewOrder]) -> str:
    """The ``batchOrders`` parameter value: a compact JSON array of order objects."""
    items = []
    for order in orders:
        params = order_params(
            symbol,
            order.side,
            order.order_type,
            order.time_in_force,
            order.quantity,
            order.quote_order_qty,
            order.price,
            order.client_order_id,
        )
        items.append({key: format_value(value) for key, value in params})
    return json.dumps(items, separators=(",", ":"))


# --- responses: trading ------------------------------------------------------------------------


def _order_kind(payload: JsonObject) -> tuple[OrderType, TimeInForce]:
    wire = _str(payload["type"])
    try:
        return _FROM_WIRE_TYPE[wire]
    except KeyError:
        raise ValueError(f"unknown order type {wire!r}") from None


def parse_order_ack(payload: object, client_order_id: str | None) -> OrderAck:
    """The POST /order acknowledgement; MEXC does not echo the client id: the sent one is kept."""
    data = _obj(payload)
    order_type, time_in_force = _order_kind(data)
    return OrderAck(
        symbol=_str(data["symbol"]),
        order_id=_str(data["orderId"]),
        client_order_id=_opt_str(data.get("clientOrderId")) or client_order_id,
        price=_opt_dec(data.get("price")),
        orig_qty=_opt_dec(data.get("origQty")),
        type=order_type,
        side=_SIDES[_str(data["side"])],
        transact_time=_int(data["transactTime"]),
        time_in_force=time_in_force,
    )


def parse_order(payload: object) -> ExchangeOrder:
    """An order from GET/DELETE /order, open/all orders; unknown statuses read as UNKNOWN."""
    data = _obj(payload)
    order_type, time_in_force = _order_kind(data)
    client_id = _opt_str(data.get("origClientOrderId")) or _opt_str(data.get("clientOrderId"))
    return ExchangeOrder(
        symbol=_str(data["symbol"]),
        order_id=_str(data["orderId"]),
        client_order_id=client_id,
        price=_dec(data.get("price")),
        orig_qty=_dec(data.get("origQty")),
        executed_qty=_dec(data.get("executedQty")),
        cummulative_quote_qty=_dec(data.get("cummulativeQuoteQty")),
        status=_STATUSES.get(_opt_str(data.get("status")) or "", OrderStatus.UNKNOWN),
        type=order_type,
        side=_SIDES[_str(data["side"])],
        time=_opt_int(data.get("time")),
        update_time=_opt_int(data.get("updateTime")),
        orig_quote_order_qty=_opt_dec(data.get("origQuoteOrderQty")),
        time_in_force=time_in_force,
    )


def parse_orders(payload: object) -> list[ExchangeOrder]:
    return [parse_order(item) for item in _list(payload)]


def parse_batch_results(payload: object) -> list[BatchOrderResult]:
    """batchOrders answers per item, successes and failures mixed, in request order."""
    results = []
    for item in _list(payload):
        data = _obj(item)
        client_id = _opt_str(data.get("newClientOrderId")) or _opt_str(data.get("clientOrderId"))
        failure = error_in(data)
        if failure is not None:
            error = error_for(failure[0], failure[1], None, write=True)
            results.append(BatchOrderResult(client_id, None, error))
        else:
            results.append(BatchOrderResult(client_id, _str(data["orderId"]), None))
    return results


def parse_trades(payload: object) -> list[ExchangeTrade]:
    trades = []
    for item in _list(payload):
        data = _obj(item)
        trades.append(
            ExchangeTrade(
                symbol=_str(data["symbol"]),
                trade_id=_str(data["id"]),
                order_id=_str(data["orderId"]),
                client_order_id=_opt_str(data.get("clientOrderId")),
                price=_dec(data["price"]),
                qty=_dec(data["qty"]),
                quote_qty=_dec(data.get("quoteQty")),
                commission=_dec(data.get("commission")),
                commission_asset=_opt_str(data.get("commissionAsset")) or "",
                time=_int(data["time"]),
                is_buyer=_bool(data["isBuyer"]),
                is_maker=_bool(data["isMaker"]),
            )
        )
    return trades


def parse_account(payload: object) -> Account:
    data = _obj(payload)
    balances = tuple(
        Balance(_str(b["asset"]), _dec(b.get("free")), _dec(b.get("locked")))
        for b in map(_obj, _list(data.get("balances") or []))
    )
    return Account(
        can_trade=_bool(data.get("canTrade", True)),
        can_withdraw=_bool(data.get("canWithdraw", False)),
        can_deposit=_bool(data.get("canDeposit", False)),
        account_type=_opt_str(data.get("accountType")) or "SPOT",
        balances=balances,
        permissions=tuple(_str(p) for p in _list(data.get("permissions") or [])),
        update_time=_opt_int(data.get("updateTime")),
    )


def parse_trade_fee(payload: object) -> TradeFee:
    data = _obj(payload)
    inner = _obj(data["data"]) if "data" in data else data
    return TradeFee(_dec(inner["makerCommission"]), _dec(inner["takerCommission"]))


def parse_listen_key(payload: object) -> str:
    return _str(_obj(payload)["listenKey"])


def parse_listen_keys(payload: object) -> list[str]:
    """GET userDataStream: ``{"listenKey": [...]}`` (a single string is accepted too)."""
    keys = _obj(payload).get("listenKey") or []
    return [_str(key) for key in _one_or_many(keys)]


# --- responses: market data --------------------------------------------------------------------


def parse_server_time(payload: object) -> int:
    return _int(_obj(payload)["serverTime"])


def parse_default_symbols(payload: object) -> list[str]:
    """Accepts the documented ``{"code":200,"data":[...]}`` and the real ``code: 0`` variant."""
    data = payload if isinstance(payload, list) else _obj(payload)["data"]
    return [_str(symbol) for symbol in _list(data)]


def _symbol_status(value: object) -> SymbolStatus:
    return _SYMBOL_STATUSES.get(_str(value).upper(), SymbolStatus.OFFLINE)


def _max_amount(value: object) -> Decimal | None:
    amount = _opt_dec(value)
    return amount if amount else None


def parse_symbol_rules(payload: object) -> SymbolRules:
    """One exchangeInfo symbol; an unknown status reads as OFFLINE (never trade the unreadable)."""
    data = _obj(payload)
    bid_up: Decimal | None = None
    ask_down: Decimal | None = None
    for entry in map(_obj, _list(data.get("filters") or [])):
        if entry.get("filterType") == "PERCENT_PRICE_BY_SIDE":
            bid_up = _opt_dec(entry.get("bidMultiplierUp"))
            ask_down = _opt_dec(entry.get("askMultiplierDown"))
    known_types = {t.value: t for t in OrderType}
    order_types = frozenset(
        known_types[name]
        for name in map(_str, _list(data.get("orderTypes") or []))
        if name in known_types
    )
    min_notional = _dec(data.get("quoteAmountPrecision"))
    side_type = _opt_int(data.get("tradeSideType"))
    return SymbolRules(
        symbol=_str(data["symbol"]),
        base_asset=_str(data["baseAsset"]),
        quote_asset=_str(data["quoteAsset"]),
        status=_symbol_status(data.get("status", "")),
        spot_trading_allowed=_bool(data.get("isSpotTradingAllowed", True)),
        quantity_precision=_int(data["baseAssetPrecision"]),
        price_precision=_int(data.get("quoteAssetPrecision", data.get("quotePrecision"))),
        min_quantity=_dec(data.get("baseSizePrecision")),
        min_notional=min_notional,
        max_notional=_max_amount(data.get("maxQuoteAmount")),
        min_notional_market=_opt_dec(data.get("quoteAmountPrecisionMarket")) or min_notional,
        max_notional_market=_max_amount(data.get("maxQuoteAmountMarket")),
        order_types=order_types,
        trade_side_type=TradeSideType(side_type) if side_type is not None else TradeSideType.ALL,
        bid_multiplier_up=bid_up,
        ask_multiplier_down=ask_down,
        maker_commission=_dec(data.get("makerCommission")),
        taker_commission=_dec(data.get("takerCommission")),
    )


def parse_exchange_info(payload: object) -> list[SymbolRules]:
    return [parse_symbol_rules(item) for item in _list(_obj(payload).get("symbols") or [])]


def _levels(rows: object) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(_dec(row[0]), _dec(row[1])) for row in map(_list, _list(rows)))


def parse_depth(payload: object) -> OrderBook:
    data = _obj(payload)
    return OrderBook(
        last_update_id=_int(data["lastUpdateId"]),
        bids=_levels(data.get("bids") or []),
        asks=_levels(data.get("asks") or []),
        timestamp=_opt_int(data.get("timestamp")),
    )


def parse_public_trades(payload: object) -> list[PublicTrade]:
    trades = []
    for item in map(_obj, _list(payload)):
        trades.append(
            PublicTrade(
                price=_dec(item["price"]),
                qty=_dec(item["qty"]),
                quote_qty=_dec(item.get("quoteQty")),
                time=_int(item["time"]),
                is_buyer_maker=_bool(item.get("isBuyerMaker", False)),
                trade_id=_opt_str(item.get("id")),
            )
        )
    return trades


def parse_klines(payload: object) -> list[Kline]:
    klines = []
    for row in map(_list, _list(payload)):
        klines.append(
            Kline(
                open_time=_int(row[0]),
                open=_dec(row[1]),
                high=_dec(row[2]),
                low=_dec(row[3]),
                close=_dec(row[4]),
                volume=_dec(row[5]),
                close_time=_int(row[6]),
                quote_volume=_dec(row[7]),
            )
        )
    return klines


def parse_avg_price(payload: object) -> AvgPrice:
    data = _obj(payload)
    return AvgPrice(mins=_int(data["mins"]), price=_dec(data["price"]))


def _ticker_24h(data: JsonObject) -> Ticker24h:
    return Ticker24h(
        symbol=_str(data["symbol"]),
        price_change=_opt_dec(data.get("priceChange")),
        price_change_percent=_opt_dec(data.get("priceChangePercent")),
        prev_close_price=_opt_dec(data.get("prevClosePrice")),
        last_price=_opt_dec(data.get("lastPrice")),
        bid_price=_opt_dec(data.get("bidPrice")),
        bid_qty=_opt_dec(data.get("bidQty")),
        ask_price=_opt_dec(data.get("askPrice")),
        ask_qty=_opt_dec(data.get("askQty")),
        open_price=_opt_dec(data.get("openPrice")),
        high_price=_opt_dec(data.get("highPrice")),
        low_price=_opt_dec(data.get("lowPrice")),
        volume=_opt_dec(data.get("volume")),
        quote_volume=_opt_dec(data.get("quoteVolume")),
        open_time=_opt_int(data.get("openTime")),
        close_time=_opt_int(data.get("closeTime")),
        count=_opt_int(data.get("count")),
    )


def parse_tickers_24h(payload: object) -> list[Ticker24h]:
    """The object (one symbol) or array (all symbols) form."""
    return [_ticker_24h(_obj(item)) for item in _one_or_many(payload)]


def parse_ticker_prices(payload: object) -> list[TickerPrice]:
    return [
        TickerPrice(_str(item["symbol"]), _dec(item["price"]))
        for item in map(_obj, _one_or_many(payload))
    ]


def parse_book_tickers(payload: object) -> list[BookTicker]:
    return [
        BookTicker(
            symbol=_str(item["symbol"]),
            bid_price=_opt_dec(item.get("bidPrice")),
            bid_qty=_opt_dec(item.get("bidQty")),
            ask_price=_opt_dec(item.get("askPrice")),
            ask_qty=_opt_dec(item.get("askQty")),
        )
        for item in map(_obj, _one_or_many(payload))
    ]
