"""Exact JSON forms of the simulator's values (symbols, listings, orders, fills, tape entries).

The building blocks of `mexcsim.state.document`. Decimals travel as their exact ``str()`` and are
read back only from strings (a JSON float would already have lost exactness); every reader checks
the type it gets and raises KeyError/TypeError/ValueError, which `mexcsim.state.document` reports
with the part it was reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mexcsim.market.book import Order
from mexcsim.market.listings import Listing
from mexcsim.market.matching import Trade
from mexcsim.market.symbols import decode_spec, encode_spec
from mexcsim.market.tape import Candle, PublicTrade


# --- values --------------------------------------------------------------------------------------
def as_dec(value: object) -> Decimal:
    """An exact Decimal from its saved string (a float here would mean a foreign document)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal string, got {value!r}")
    return Decimal(value)


def as_opt_dec(value: object) -> Decimal | None:
    return None if value is None else as_dec(value)


def opt_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def as_list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def as_map(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


# --- symbols and listings ------------------------------------------------------------------------
def encode_listing(listing: Listing) -> dict[str, object]:
    return {
        "spec": encode_spec(listing.spec),
        "open_time_ms": listing.open_time_ms,
        "initial_price": str(listing.initial_price),
        "api_open_delay_ms": listing.api_open_delay_ms,
        "announced_at_ms": listing.announced_at_ms,
        "book_ramp_ms": listing.book_ramp_ms,
    }


def decode_listing(data: object) -> Listing:
    """A saved listing; those saved before version 3 opened on time, on a full book, with no
    recorded announcement time."""
    raw = as_map(data)
    announced = raw.get("announced_at_ms")
    return Listing(
        decode_spec(raw["spec"]),
        as_int(raw["open_time_ms"]),
        as_dec(raw["initial_price"]),
        api_open_delay_ms=as_int(raw.get("api_open_delay_ms", 0)),
        announced_at_ms=None if announced is None else as_int(announced),
        book_ramp_ms=as_int(raw.get("book_ramp_ms", 0)),
    )


# --- orders and fills ----------------------------------------------------------------------------
def encode_order(order: Order) -> dict[str, object]:
    return {
        "order_id": order.order_id,
        "owner": order.owner,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "price": opt_text(order.price),
        "orig_qty": opt_text(order.orig_qty),
        "orig_quote_qty": opt_text(order.orig_quote_qty),
        "client_order_id": order.client_order_id,
        "time": order.time,
        "update_time": order.update_time,
        "executed_qty": str(order.executed_qty),
        "cum_quote": str(order.cum_quote),
        "status": order.status,
        "locked": str(order.locked),
        "fills": list(order.fills),
    }


def decode_order(data: object) -> Order:
    raw = as_map(data)
    cid = raw["client_order_id"]
    return Order(
        order_id=as_str(raw["order_id"]),
        owner=as_str(raw["owner"]),
        symbol=as_str(raw["symbol"]),
        side=as_str(raw["side"]),
        order_type=as_str(raw["order_type"]),
        price=as_opt_dec(raw["price"]),
        orig_qty=as_opt_dec(raw["orig_qty"]),
        orig_quote_qty=as_opt_dec(raw["orig_quote_qty"]),
        client_order_id=None if cid is None else as_str(cid),
        time=as_int(raw["time"]),
        update_time=as_int(raw["update_time"]),
        executed_qty=as_dec(raw["executed_qty"]),
        cum_quote=as_dec(raw["cum_quote"]),
        status=as_str(raw["status"]),
        locked=as_dec(raw["locked"]),
        fills=[as_int(f) for f in as_list(raw["fills"])],
    )


def encode_trade(trade: Trade) -> dict[str, object]:
    return {
        "trade_id": trade.trade_id,
        "symbol": trade.symbol,
        "price": str(trade.price),
        "qty": str(trade.qty),
        "quote_qty": str(trade.quote_qty),
        "time": trade.time,
        "taker_side": trade.taker_side,
        "maker": trade.maker.order_id,
        "taker": trade.taker.order_id,
        "buyer_fee": str(trade.buyer_fee),
        "seller_fee": str(trade.seller_fee),
    }


def decode_trade(data: object, orders: Mapping[str, Order]) -> Trade:
    raw = as_map(data)
    return Trade(
        trade_id=as_int(raw["trade_id"]),
        symbol=as_str(raw["symbol"]),
        price=as_dec(raw["price"]),
        qty=as_dec(raw["qty"]),
        quote_qty=as_dec(raw["quote_qty"]),
        time=as_int(raw["time"]),
        taker_side=as_str(raw["taker_side"]),
        maker=orders[as_str(raw["maker"])],
        taker=orders[as_str(raw["taker"])],
        buyer_fee=as_dec(raw["buyer_fee"]),
        seller_fee=as_dec(raw["seller_fee"]),
    )


# --- the public tape -----------------------------------------------------------------------------
def encode_public_trade(t: PublicTrade) -> list[object]:
    return [t.trade_id, str(t.price), str(t.qty), str(t.quote_qty), t.time, t.taker_side]


def decode_public_trade(data: object) -> PublicTrade:
    tid, price, qty, quote, at, side = as_list(data)
    return PublicTrade(
        as_int(tid), as_dec(price), as_dec(qty), as_dec(quote), as_int(at), as_str(side)
    )


def encode_candle(c: Candle) -> list[object]:
    return [
        c.open_time,
        str(c.open),
        str(c.high),
        str(c.low),
        str(c.close),
        str(c.volume),
        str(c.quote_volume),
        c.count,
    ]


def decode_candle(data: object) -> Candle:
    at, open_, high, low, close, volume, quote_volume, count = as_list(data)
    return Candle(
        as_int(at),
        as_dec(open_),
        as_dec(high),
        as_dec(low),
        as_dec(close),
        as_dec(volume),
        as_dec(quote_volume),
        as_int(count),
    )
