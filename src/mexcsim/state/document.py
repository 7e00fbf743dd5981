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

The document is the JSON form of `mexcsim.world.SimWorld`; this module never sees the exchange.
Version 2 adds ``counters.command_seq`` (how many journaled commands the document includes, see
`mexcsim.state.journal`); version 1 documents are still read, as ``command_seq = 0``. Version 3
adds each listing's ``api_open_delay_ms``, ``announced_at_ms`` and ``book_ramp_ms`` and each
market's ``opening_ramp`` ([start ms, length ms] of its thin opening book); older documents are
read as listings on time with a full book and no recorded announcement time. The journal's lines
did not change: a ``schedule_listing`` without the new arguments replays as on time, full book.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mexcsim.accounts.user_orders import SavedUser
from mexcsim.market.symbols import decode_spec, encode_spec
from mexcsim.market.trading_pair import SavedMarket
from mexcsim.state.codec import (
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
    decode_trade,
    encode_candle,
    encode_listing,
    encode_order,
    encode_public_trade,
    encode_trade,
    opt_text,
)
from mexcsim.world import SimWorld

STATE_FORMAT = "mexcsim-state"
STATE_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


class StateError(ValueError):
    """A state document this version cannot restore; the message says which part and why."""


# --- world -> document ---------------------------------------------------------------------------
def encode_world(world: SimWorld) -> dict[str, object]:
    """The JSON-ready document of `world` (Decimals as exact strings)."""
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "saved_at_ms": world.saved_at_ms,
        "seed": world.seed,
        "provide_liquidity": world.provide_liquidity,
        "counters": {
            "order_seq": world.order_seq,
            "provider_seq": world.provider_seq,
            "trade_seq": world.trade_seq,
            "command_seq": world.command_seq,
        },
        "ledger": {
            "balances": {
                owner: {a: [str(f), str(lk)] for a, (f, lk) in assets.items()}
                for owner, assets in world.balances.items()
            },
            "fees_collected": {a: str(v) for a, v in world.fees_collected.items()},
        },
        "orders": [encode_order(o) for o in world.orders],
        "trades": [encode_trade(t) for t in world.trades],
        "users": [
            {
                "api_key": u.api_key,
                "api_secret": u.api_secret,
                "orders": list(u.order_ids),
                "trades": [[t, o] for t, o in u.fills],
            }
            for u in world.users
        ],
        "venues": [_encode_market(m) for m in world.markets],
        "listings": {
            "pending": [encode_listing(item) for item in world.pending_listings],
            "opened": [encode_listing(item) for item in world.opened_listings],
        },
        "listen_keys": {
            "issued": world.listen_keys_issued,
            "keys": [list(k) for k in world.listen_keys],
        },
    }


def _encode_market(market: SavedMarket) -> dict[str, object]:
    return {
        "spec": encode_spec(market.spec),
        "book": {
            "version": market.book_version,
            "bids": list(market.bids),
            "asks": list(market.asks),
        },
        "market": {
            "mid_ticks": market.mid_ticks,
            "rng": market.rng_state,
            "quotes": list(market.quotes),
            "opening_ramp": list(market.opening_ramp),
        },
        "tape": {
            "last_price": opt_text(market.last_price),
            "trades": [encode_public_trade(t) for t in market.trades],
            "candles": [encode_candle(c) for c in market.candles],
        },
    }


# --- document -> world ---------------------------------------------------------------------------
def check_header(data: object) -> Mapping[str, Any]:
    """The document as a mapping, if it is a mexcsim state of a version this code reads."""
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise StateError(f"not a mexcsim state document (expected format {STATE_FORMAT!r})")
    version = data.get("version")
    if version not in READABLE_VERSIONS:
        raise StateError(
            f"state version {version!r} is not supported (this mexcsim reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    return data


def decode_world(data: object) -> SimWorld:
    """The world a document describes; `StateError` names the part that is malformed."""
    doc = check_header(data)
    part = "header"
    try:
        part = "seed"
        liquidity = doc["provide_liquidity"]
        if not isinstance(liquidity, bool):
            raise TypeError("provide_liquidity must be true or false")
        seed = as_int(doc["seed"])
        part = "counters"
        counters = as_map(doc["counters"])
        command_seq = as_int(counters["command_seq"]) if doc["version"] >= 2 else 0
        part = "ledger"
        ledger = as_map(doc["ledger"])
        balances = {
            as_str(owner): {as_str(asset): _balance(pair) for asset, pair in as_map(assets).items()}
            for owner, assets in as_map(ledger["balances"]).items()
        }
        fees = {as_str(a): as_dec(v) for a, v in as_map(ledger["fees_collected"]).items()}
        part = "orders"
        orders = {o.order_id: o for o in (decode_order(item) for item in as_list(doc["orders"]))}
        part = "trades"
        trades = tuple(decode_trade(i, orders) for i in as_list(doc["trades"]))
        part = "users"
        users = tuple(_decode_user(as_map(raw)) for raw in as_list(doc["users"]))
        part = "venues"
        markets = tuple(_decode_market(as_map(raw)) for raw in as_list(doc["venues"]))
        part = "listings"
        listings = as_map(doc["listings"])
        pending = tuple(decode_listing(i) for i in as_list(listings["pending"]))
        opened = tuple(decode_listing(i) for i in as_list(listings["opened"]))
        part = "listen_keys"
        keys = as_map(doc["listen_keys"])
        listen_keys = tuple((as_str(k), as_str(o), as_int(e)) for k, o, e in as_list(keys["keys"]))
        return SimWorld(
            seed=seed,
            provide_liquidity=liquidity,
            saved_at_ms=as_int(doc.get("saved_at_ms", 0)),
            order_seq=as_int(counters["order_seq"]),
            provider_seq=as_int(counters["provider_seq"]),
            trade_seq=as_int(counters["trade_seq"]),
            command_seq=command_seq,
            balances=balances,
            fees_collected=fees,
            orders=tuple(orders.values()),
            trades=trades,
            users=users,
            markets=markets,
            pending_listings=pending,
            opened_listings=opened,
            listen_keys_issued=as_int(keys["issued"]),
            listen_keys=listen_keys,
        )
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        raise StateError(f"state is malformed in {part!r}: {exc}") from exc


def _balance(pair: object) -> tuple[Decimal, Decimal]:
    free, locked = as_list(pair)
    return as_dec(free), as_dec(locked)


def _decode_user(raw: Mapping[str, Any]) -> SavedUser:
    return SavedUser(
        api_key=as_str(raw["api_key"]),
        api_secret=as_str(raw["api_secret"]),
        order_ids=tuple(as_str(o) for o in as_list(raw["orders"])),
        fills=tuple((as_int(t), as_str(o)) for t, o in as_list(raw["trades"])),
    )


def _decode_market(raw: Mapping[str, Any]) -> SavedMarket:
    book = as_map(raw["book"])
    market = as_map(raw["market"])
    version, internal, gauss_next = as_list(market["rng"])
    if gauss_next is not None and not isinstance(gauss_next, float):
        raise TypeError("rng gauss_next must be a number or null")
    tape = as_map(raw["tape"])
    ramp_start, ramp_ms = as_list(market.get("opening_ramp", [0, 0]))
    return SavedMarket(
        spec=decode_spec(raw["spec"]),
        book_version=as_int(book["version"]),
        bids=tuple(as_str(i) for i in as_list(book["bids"])),
        asks=tuple(as_str(i) for i in as_list(book["asks"])),
        mid_ticks=as_int(market["mid_ticks"]),
        rng_state=(as_int(version), tuple(as_int(i) for i in as_list(internal)), gauss_next),
        quotes=tuple(as_str(i) for i in as_list(market["quotes"])),
        last_price=as_opt_dec(tape["last_price"]),
        trades=tuple(decode_public_trade(t) for t in as_list(tape["trades"])),
        candles=tuple(decode_candle(c) for c in as_list(tape["candles"])),
        opening_ramp=(as_int(ramp_start), as_int(ramp_ms)),
    )
