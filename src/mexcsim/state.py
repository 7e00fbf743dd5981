"""The simulator's complete state as a versioned JSON document, and back.

Why JSON and not pickle: a paper trader's account lives in this file, so it must be readable and
checkable by a person (``jq`` shows balances and open orders), must survive refactors of our classes
(pickle stores class paths and slot layouts) and must never execute code when loaded. Every Decimal
is written as its exact ``str()`` (``"0.00100"`` stays ``"0.00100"``), so a restore compares equal
to, and formats identically to, what was saved. The document carries ``format`` and ``version``;
a reader refuses any other format or version with `StateError` instead of guessing.

What is saved: the seed and liquidity setting, every ledger balance (users and the liquidity
provider) and the fees collected, every user account (key, secret, orders in placement order, fills)
with the orders and fills they reference (incl. the counterparty orders of user fills, so "isMaker"
still holds), every resting order of every book in price-time priority and the book versions, the
id counters (user orders, provider orders, trades), each market's random walk (reference price,
random generator state, the provider's quotes), the public tape (recent trades, 1m candles, last
price; the most recent part only, see `PERSISTED_TRADES_PER_MARKET`), scheduled and opened listings
and the listen keys. A restored exchange answers and moves on exactly as the saved one would have,
except that public history older than the persisted tape is gone.

This module is the exchange's persistence companion: it reads and rebuilds `SimExchange`'s private
parts on purpose, so the facade does not have to expose them.
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mexcsim.book import Order
from mexcsim.listings import Listing
from mexcsim.matching import Trade
from mexcsim.order_desk import UserAccount
from mexcsim.symbols import SymbolSpec
from mexcsim.tape import Candle, PublicTrade

if TYPE_CHECKING:
    from mexcsim.exchange import SimExchange

STATE_FORMAT = "mexcsim-state"
STATE_VERSION = 1
PERSISTED_TRADES_PER_MARKET = 1000
"""Public trades kept per market: as many as one /trades or /aggTrades call returns (1000)."""
PERSISTED_CANDLES_PER_MARKET = 1440
"""1m candles kept per market: one day, the window of the 24 h ticker. The whole tape (up to 10,000
trades and 7 days of candles per market) would make a save cost ~150 ms instead of ~20 ms."""


class StateError(ValueError):
    """A state document this version cannot restore; the message says which part and why."""


# --- values --------------------------------------------------------------------------------------
def _dec(value: object) -> Decimal:
    """An exact Decimal from its saved string (a float here would mean a foreign document)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal string, got {value!r}")
    return Decimal(value)


def _opt_dec(value: object) -> Decimal | None:
    return None if value is None else _dec(value)


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _map(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


# --- symbols and listings ------------------------------------------------------------------------
_SPEC_TYPES = typing.get_type_hints(SymbolSpec)


def encode_spec(spec: SymbolSpec) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in dataclasses.fields(spec):
        value = getattr(spec, item.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[item.name] = value
    return out


def decode_spec(data: object) -> SymbolSpec:
    raw = _map(data)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        hint = _SPEC_TYPES.get(name)
        if hint is None:
            raise KeyError(f"unknown symbol field {name!r}")
        if hint is Decimal:
            values[name] = _dec(value)
        elif hint == tuple[str, ...]:
            values[name] = tuple(_str(v) for v in _list(value))
        elif hint is bool:
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected true/false")
            values[name] = value
        elif hint is int:
            values[name] = _int(value)
        elif hint == int | None:
            values[name] = None if value is None else _int(value)
        else:
            values[name] = _str(value)
    return SymbolSpec(**values)


def _encode_listing(listing: Listing) -> dict[str, object]:
    return {
        "spec": encode_spec(listing.spec),
        "open_time_ms": listing.open_time_ms,
        "initial_price": str(listing.initial_price),
    }


def _decode_listing(data: object) -> Listing:
    raw = _map(data)
    return Listing(decode_spec(raw["spec"]), _int(raw["open_time_ms"]), _dec(raw["initial_price"]))


# --- orders and fills ----------------------------------------------------------------------------
def encode_order(order: Order) -> dict[str, object]:
    return {
        "order_id": order.order_id,
        "owner": order.owner,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "price": _opt_str(order.price),
        "orig_qty": _opt_str(order.orig_qty),
        "orig_quote_qty": _opt_str(order.orig_quote_qty),
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
    raw = _map(data)
    cid = raw["client_order_id"]
    return Order(
        order_id=_str(raw["order_id"]),
        owner=_str(raw["owner"]),
        symbol=_str(raw["symbol"]),
        side=_str(raw["side"]),
        order_type=_str(raw["order_type"]),
        price=_opt_dec(raw["price"]),
        orig_qty=_opt_dec(raw["orig_qty"]),
        orig_quote_qty=_opt_dec(raw["orig_quote_qty"]),
        client_order_id=None if cid is None else _str(cid),
        time=_int(raw["time"]),
        update_time=_int(raw["update_time"]),
        executed_qty=_dec(raw["executed_qty"]),
        cum_quote=_dec(raw["cum_quote"]),
        status=_str(raw["status"]),
        locked=_dec(raw["locked"]),
        fills=[_int(f) for f in _list(raw["fills"])],
    )


def _encode_trade(trade: Trade) -> dict[str, object]:
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


def _decode_trade(data: object, orders: Mapping[str, Order]) -> Trade:
    raw = _map(data)
    return Trade(
        trade_id=_int(raw["trade_id"]),
        symbol=_str(raw["symbol"]),
        price=_dec(raw["price"]),
        qty=_dec(raw["qty"]),
        quote_qty=_dec(raw["quote_qty"]),
        time=_int(raw["time"]),
        taker_side=_str(raw["taker_side"]),
        maker=orders[_str(raw["maker"])],
        taker=orders[_str(raw["taker"])],
        buyer_fee=_dec(raw["buyer_fee"]),
        seller_fee=_dec(raw["seller_fee"]),
    )


# --- the public tape -----------------------------------------------------------------------------
def _encode_public_trade(t: PublicTrade) -> list[object]:
    return [t.trade_id, str(t.price), str(t.qty), str(t.quote_qty), t.time, t.taker_side]


def _decode_public_trade(data: object) -> PublicTrade:
    tid, price, qty, quote, at, side = _list(data)
    return PublicTrade(_int(tid), _dec(price), _dec(qty), _dec(quote), _int(at), _str(side))


def _encode_candle(c: Candle) -> list[object]:
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


def _decode_candle(data: object) -> Candle:
    at, open_, high, low, close, volume, quote_volume, count = _list(data)
    return Candle(
        _int(at),
        _dec(open_),
        _dec(high),
        _dec(low),
        _dec(close),
        _dec(volume),
        _dec(quote_volume),
        _int(count),
    )


# --- the whole exchange --------------------------------------------------------------------------
def export_exchange(ex: SimExchange) -> dict[str, object]:
    """The complete state of `ex` as a JSON-ready dict."""
    desk = ex._desk
    orders: dict[str, Order] = {}
    trades: dict[int, Trade] = {}
    users: list[dict[str, object]] = []
    for user in desk.users.values():
        orders.update(user.orders)
        for trade, _ in user.trades:
            trades[trade.trade_id] = trade
            orders.setdefault(trade.maker.order_id, trade.maker)
            orders.setdefault(trade.taker.order_id, trade.taker)
        users.append(
            {
                "api_key": user.api_key,
                "api_secret": user.api_secret,
                "orders": list(user.orders),
                "trades": [[t.trade_id, o.order_id] for t, o in user.trades],
            }
        )
    venues: list[dict[str, object]] = []
    for venue in ex._venues.values():
        book = venue.engine.book
        resting = {side: list(book.side_of(side).orders_in_priority()) for side in ("BUY", "SELL")}
        for order in (*resting["BUY"], *resting["SELL"]):
            orders.setdefault(order.order_id, order)
        quotes = [o for o in venue.living.quotes() if o.is_open]
        tape = venue.tape
        venues.append(
            {
                "spec": encode_spec(venue.spec),
                "book": {
                    "version": book.version,
                    "bids": [o.order_id for o in resting["BUY"]],
                    "asks": [o.order_id for o in resting["SELL"]],
                },
                "market": {
                    "mid_ticks": venue.living.mid_ticks,
                    "rng": venue.living.rng_state(),
                    "quotes": [o.order_id for o in quotes],
                },
                "tape": {
                    "last_price": _opt_str(tape.last_price),
                    "trades": [
                        _encode_public_trade(t)
                        for t in tape.recent_trades(PERSISTED_TRADES_PER_MARKET)
                    ],
                    "candles": [
                        _encode_candle(c)
                        for c in itertools.islice(
                            tape.candles,
                            max(0, len(tape.candles) - PERSISTED_CANDLES_PER_MARKET),
                            None,
                        )
                    ],
                },
            }
        )
    ledger = ex._ledger
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "saved_at_ms": ex._now(),
        "seed": ex._seed,
        "provide_liquidity": ex._provide_liquidity,
        "counters": {
            "order_seq": desk.order_seq,
            "provider_seq": ex._provider_seq,
            "trade_seq": ex._trade_seq,
        },
        "ledger": {
            "balances": {
                owner: {a: [str(f), str(lk)] for a, (f, lk) in ledger.snapshot(owner).items()}
                for owner in ledger.owners()
            },
            "fees_collected": {a: str(v) for a, v in ledger.fees_collected.items()},
        },
        "orders": [encode_order(o) for o in orders.values()],
        "trades": [_encode_trade(t) for t in trades.values()],
        "users": users,
        "venues": venues,
        "listings": {
            "pending": [_encode_listing(item) for item in ex._listings.pending()],
            "opened": [_encode_listing(item) for item in ex._listings.opened()],
        },
        "listen_keys": ex._listen_keys.export(),
    }


def check_header(data: object) -> Mapping[str, Any]:
    """The document as a mapping, if it is a mexcsim state of the version this code reads."""
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise StateError(f"not a mexcsim state document (expected format {STATE_FORMAT!r})")
    version = data.get("version")
    if version != STATE_VERSION:
        raise StateError(
            f"state version {version!r} is not supported (this mexcsim reads version "
            f"{STATE_VERSION})"
        )
    return data


def restore_exchange(ex: SimExchange, data: object) -> None:
    """Replace `ex`'s state with `data`; all or nothing (on error `ex` is left as it was)."""
    doc = check_header(data)
    backup = dict(vars(ex))
    part = "header"
    try:
        part = "seed"
        liquidity = doc["provide_liquidity"]
        if not isinstance(liquidity, bool):
            raise TypeError("provide_liquidity must be true or false")
        ex._reset(_int(doc["seed"]), liquidity)
        part = "counters"
        counters = _map(doc["counters"])
        ex._desk.order_seq = _int(counters["order_seq"])
        ex._provider_seq = _int(counters["provider_seq"])
        ex._trade_seq = _int(counters["trade_seq"])
        part = "ledger"
        ledger = _map(doc["ledger"])
        for owner, assets in _map(ledger["balances"]).items():
            for asset, pair in _map(assets).items():
                free, locked = _list(pair)
                ex._ledger.restore_balance(owner, asset, _dec(free), _dec(locked))
        ex._ledger.fees_collected = {
            _str(a): _dec(v) for a, v in _map(ledger["fees_collected"]).items()
        }
        part = "orders"
        orders = {o.order_id: o for o in (decode_order(item) for item in _list(doc["orders"]))}
        part = "trades"
        trades = {t.trade_id: t for t in (_decode_trade(i, orders) for i in _list(doc["trades"]))}
        part = "users"
        for raw_user in _list(doc["users"]):
            raw = _map(raw_user)
            user = UserAccount(_str(raw["api_key"]), _str(raw["api_secret"]))
            for order_id in _list(raw["orders"]):
                user.adopt(orders[_str(order_id)])
            user.trades = [(trades[_int(t)], orders[_str(o)]) for t, o in _list(raw["trades"])]
            ex._desk.users[user.api_key] = user
        for raw_venue in _list(doc["venues"]):
            _restore_venue(ex, _map(raw_venue), orders)
        part = "listings"
        listings = _map(doc["listings"])
        ex._listings.restore(
            [_decode_listing(i) for i in _list(listings["pending"])],
            [_decode_listing(i) for i in _list(listings["opened"])],
        )
        part = "listen_keys"
        keys = _map(doc["listen_keys"])
        ex._listen_keys.restore(
            _int(keys["issued"]),
            [(_str(k), _str(o), _int(e)) for k, o, e in _list(keys["keys"])],
        )
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        vars(ex).clear()
        vars(ex).update(backup)
        raise StateError(f"state is malformed in {part!r}: {exc}") from exc


def _restore_venue(ex: SimExchange, raw: Mapping[str, Any], orders: Mapping[str, Order]) -> None:
    spec = decode_spec(raw["spec"])
    venue = ex._build_venue(spec)
    book_raw = _map(raw["book"])
    for key, side in (("bids", "BUY"), ("asks", "SELL")):
        for order_id in _list(book_raw[key]):
            order = orders[_str(order_id)]
            if order.side != side or order.symbol != spec.symbol or not order.is_open:
                raise ValueError(f"order {order.order_id} cannot rest in {spec.symbol} {key}")
            venue.engine.book.side_of(side).add(order)
    venue.engine.book.version = _int(book_raw["version"])
    market = _map(raw["market"])
    version, internal, gauss_next = _list(market["rng"])
    rng_state = (_int(version), tuple(_int(i) for i in _list(internal)), gauss_next)
    quotes = [orders[_str(i)] for i in _list(market["quotes"])]
    venue.living.restore(rng_state, _int(market["mid_ticks"]), quotes)
    tape_raw = _map(raw["tape"])
    venue.tape.last_price = _opt_dec(tape_raw["last_price"])
    venue.tape.trades.extend(_decode_public_trade(t) for t in _list(tape_raw["trades"]))
    venue.tape.candles.extend(_decode_candle(c) for c in _list(tape_raw["candles"]))
