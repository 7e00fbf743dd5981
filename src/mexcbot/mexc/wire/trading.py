"""Orders and the account on MEXC's wire: new-order parameters out; acks, orders, trades,
balances, fees and listen keys back.

MEXC has no ``timeInForce`` parameter: IOC and FOK are order types of their own, so the domain's
(type, time in force) pair maps to one wire order type and back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.mexc.errors import error_for
from mexcbot.mexc.models import (
    Account,
    Balance,
    BatchOrderResult,
    ExchangeOrder,
    ExchangeTrade,
    NewOrder,
    OrderAck,
    TradeFee,
)
from mexcbot.mexc.signing import ParamValue, format_value
from mexcbot.mexc.wire.values import (
    JsonObject,
    as_array,
    as_bool,
    as_decimal,
    as_int,
    as_object,
    as_str,
    error_in,
    one_or_many,
    opt_decimal,
    opt_int,
    opt_str,
)

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
_SIDES: Final = {side.value: side for side in OrderSide}


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
    wire = as_str(payload["type"])
    try:
        return _FROM_WIRE_TYPE[wire]
    except KeyError:
        raise ValueError(f"unknown order type {wire!r}") from None


def parse_order_ack(payload: object, client_order_id: str | None) -> OrderAck:
    """The POST /order acknowledgement; MEXC does not echo the client id: the sent one is kept."""
    data = as_object(payload)
    order_type, time_in_force = _order_kind(data)
    return OrderAck(
        symbol=as_str(data["symbol"]),
        order_id=as_str(data["orderId"]),
        client_order_id=opt_str(data.get("clientOrderId")) or client_order_id,
        price=opt_decimal(data.get("price")),
        orig_qty=opt_decimal(data.get("origQty")),
        type=order_type,
        side=_SIDES[as_str(data["side"])],
        transact_time=as_int(data["transactTime"]),
        time_in_force=time_in_force,
    )


def parse_order(payload: object) -> ExchangeOrder:
    """An order from GET/DELETE /order, open/all orders; unknown statuses read as UNKNOWN."""
    data = as_object(payload)
    order_type, time_in_force = _order_kind(data)
    client_id = opt_str(data.get("origClientOrderId")) or opt_str(data.get("clientOrderId"))
    return ExchangeOrder(
        symbol=as_str(data["symbol"]),
        order_id=as_str(data["orderId"]),
        client_order_id=client_id,
        price=as_decimal(data.get("price")),
        orig_qty=as_decimal(data.get("origQty")),
        executed_qty=as_decimal(data.get("executedQty")),
        cummulative_quote_qty=as_decimal(data.get("cummulativeQuoteQty")),
        status=_STATUSES.get(opt_str(data.get("status")) or "", OrderStatus.UNKNOWN),
        type=order_type,
        side=_SIDES[as_str(data["side"])],
        time=opt_int(data.get("time")),
        update_time=opt_int(data.get("updateTime")),
        orig_quote_order_qty=opt_decimal(data.get("origQuoteOrderQty")),
        time_in_force=time_in_force,
    )


def parse_orders(payload: object) -> list[ExchangeOrder]:
    return [parse_order(item) for item in as_array(payload)]


def parse_batch_results(payload: object) -> list[BatchOrderResult]:
    """batchOrders answers per item, successes and failures mixed, in request order."""
    results = []
    for item in as_array(payload):
        data = as_object(item)
        client_id = opt_str(data.get("newClientOrderId")) or opt_str(data.get("clientOrderId"))
        failure = error_in(data)
        if failure is not None:
            error = error_for(failure[0], failure[1], None, write=True)
            results.append(BatchOrderResult(client_id, None, error))
        else:
            results.append(BatchOrderResult(client_id, as_str(data["orderId"]), None))
    return results


def parse_trades(payload: object) -> list[ExchangeTrade]:
    trades = []
    for item in as_array(payload):
        data = as_object(item)
        trades.append(
            ExchangeTrade(
                symbol=as_str(data["symbol"]),
                trade_id=as_str(data["id"]),
                order_id=as_str(data["orderId"]),
                client_order_id=opt_str(data.get("clientOrderId")),
                price=as_decimal(data["price"]),
                qty=as_decimal(data["qty"]),
                quote_qty=as_decimal(data.get("quoteQty")),
                commission=as_decimal(data.get("commission")),
                commission_asset=opt_str(data.get("commissionAsset")) or "",
                time=as_int(data["time"]),
                is_buyer=as_bool(data["isBuyer"]),
                is_maker=as_bool(data["isMaker"]),
            )
        )
    return trades


def parse_account(payload: object) -> Account:
    data = as_object(payload)
    balances = tuple(
        Balance(as_str(b["asset"]), as_decimal(b.get("free")), as_decimal(b.get("locked")))
        for b in map(as_object, as_array(data.get("balances") or []))
    )
    return Account(
        can_trade=as_bool(data.get("canTrade", True)),
        can_withdraw=as_bool(data.get("canWithdraw", False)),
        can_deposit=as_bool(data.get("canDeposit", False)),
        account_type=opt_str(data.get("accountType")) or "SPOT",
        balances=balances,
        permissions=tuple(as_str(p) for p in as_array(data.get("permissions") or [])),
        update_time=opt_int(data.get("updateTime")),
    )


def parse_trade_fee(payload: object) -> TradeFee:
    data = as_object(payload)
    inner = as_object(data["data"]) if "data" in data else data
    return TradeFee(as_decimal(inner["makerCommission"]), as_decimal(inner["takerCommission"]))


def parse_listen_key(payload: object) -> str:
    return as_str(as_object(payload)["listenKey"])


def parse_listen_keys(payload: object) -> list[str]:
    """GET userDataStream: ``{"listenKey": [...]}`` (a single string is accepted too)."""
    keys = as_object(payload).get("listenKey") or []
    return [as_str(key) for key in one_or_many(keys)]
