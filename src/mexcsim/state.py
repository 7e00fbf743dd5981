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

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mexcsim.book import Order
from mexcsim.matching import Trade
from mexcsim.order_desk import UserAccount
from mexcsim.state_codec import (
    as_dec,
    as_int,
    as_list,
    as_map,
    as_opt_dec,
    as_str,
    decode_candle,
    decode_listing,
    decode_order,
    decode_public_trade,
    decode_spec,
    decode_trade,
    encode_candle,
    encode_listing,
    encode_order,
    encode_public_trade,
    encode_spec,
    encode_trade,
    opt_text,
)

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
                    "last_price": opt_text(tape.last_price),
                    "trades": [
                        encode_public_trade(t)
                        for t in tape.recent_trades(PERSISTED_TRADES_PER_MARKET)
                    ],
                    "candles": [
                        encode_candle(c)
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
        "trades": [encode_trade(t) for t in trades.values()],
        "users": users,
        "venues": venues,
        "listings": {
            "pending": [encode_listing(item) for item in ex._listings.pending()],
            "opened": [encode_listing(item) for item in ex._listings.opened()],
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
        ex._reset(as_int(doc["seed"]), liquidity)
        part = "counters"
        counters = as_map(doc["counters"])
        ex._desk.order_seq = as_int(counters["order_seq"])
        ex._provider_seq = as_int(counters["provider_seq"])
        ex._trade_seq = as_int(counters["trade_seq"])
        part = "ledger"
        ledger = as_map(doc["ledger"])
        for owner, assets in as_map(ledger["balances"]).items():
            for asset, pair in as_map(assets).items():
                free, locked = as_list(pair)
                ex._ledger.restore_balance(owner, asset, as_dec(free), as_dec(locked))
        ex._ledger.fees_collected = {
            as_str(a): as_dec(v) for a, v in as_map(ledger["fees_collected"]).items()
        }
        part = "orders"
        orders = {o.order_id: o for o in (decode_order(item) for item in as_list(doc["orders"]))}
        part = "trades"
        trades = {t.trade_id: t for t in (decode_trade(i, orders) for i in as_list(doc["trades"]))}
        part = "users"
        for raw_user in as_list(doc["users"]):
            raw = as_map(raw_user)
            user = UserAccount(as_str(raw["api_key"]), as_str(raw["api_secret"]))
            for order_id in as_list(raw["orders"]):
                user.adopt(orders[as_str(order_id)])
            user.trades = [
                (trades[as_int(t)], orders[as_str(o)]) for t, o in as_list(raw["trades"])
            ]
            ex._desk.users[user.api_key] = user
        part = "venues"
        for raw_venue in as_list(doc["venues"]):
            _restore_venue(ex, as_map(raw_venue), orders)
        part = "listings"
        listings = as_map(doc["listings"])
        ex._listings.restore(
            [decode_listing(i) for i in as_list(listings["pending"])],
            [decode_listing(i) for i in as_list(listings["opened"])],
        )
        part = "listen_keys"
        keys = as_map(doc["listen_keys"])
        ex._listen_keys.restore(
            as_int(keys["issued"]),
            [(as_str(k), as_str(o), as_int(e)) for k, o, e in as_list(keys["keys"])],
        )
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        vars(ex).clear()
        vars(ex).update(backup)
        raise StateError(f"state is malformed in {part!r}: {exc}") from exc


def _restore_venue(ex: SimExchange, raw: Mapping[str, Any], orders: Mapping[str, Order]) -> None:
    spec = decode_spec(raw["spec"])
    venue = ex._build_venue(spec)
    book_raw = as_map(raw["book"])
    for key, side in (("bids", "BUY"), ("asks", "SELL")):
        for order_id in as_list(book_raw[key]):
            order = orders[as_str(order_id)]
            if order.side != side or order.symbol != spec.symbol or not order.is_open:
                raise ValueError(f"order {order.order_id} cannot rest in {spec.symbol} {key}")
            venue.engine.book.side_of(side).add(order)
    venue.engine.book.version = as_int(book_raw["version"])
    market = as_map(raw["market"])
    version, internal, gauss_next = as_list(market["rng"])
    rng_state = (as_int(version), tuple(as_int(i) for i in as_list(internal)), gauss_next)
    quotes = [orders[as_str(i)] for i in as_list(market["quotes"])]
    venue.living.restore(rng_state, as_int(market["mid_ticks"]), quotes)
    tape_raw = as_map(raw["tape"])
    venue.tape.last_price = as_opt_dec(tape_raw["last_price"])
    venue.tape.trades.extend(decode_public_trade(t) for t in as_list(tape_raw["trades"]))
    venue.tape.candles.extend(decode_candle(c) for c in as_list(tape_raw["candles"]))
