"""SimExchange: the simulator's facade, the one object the HTTP layer talks to.

Synchronous, in memory and deterministic for a given seed and clock. Every answer is JSON-ready in
MEXC's shapes (numbers as strings where MEXC sends strings); every business error raises
`SimError(code, msg, http_status)`. Listed-but-not-open symbols: absent from defaultSymbols, present
in exchangeInfo with status "2", orders on them get 10007 (see `mexcsim.listings`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mexcsim import errors, public_data
from mexcsim.accounts import Ledger
from mexcsim.book import BUY, Order
from mexcsim.decimals import ZERO, fmt
from mexcsim.errors import SimError, illegal_param
from mexcsim.listen_keys import ListenKeys
from mexcsim.listings import Listing, ListingSchedule
from mexcsim.market import PROVIDER, PROVIDER_FUNDING, LivingMarket
from mexcsim.matching import LIMIT_MAKER, MARKET, MatchingEngine, Trade
from mexcsim.order_entry import OrderRequest, parse_client_order_id, parse_order_request
from mexcsim.params import checked_limit, optional_int, optional_str, required_str
from mexcsim.shapes import cancel_view, my_trade_row, order_ack, order_view
from mexcsim.symbols import DEFAULT_FUNDING, DEFAULT_SYMBOLS, SymbolSpec
from mexcsim.tape import DAY_MS, PublicTrade, Tape
from mexcsim.venue import Venue

ORDER_ID_BASE = 426_060_921_085_927_424_000
MAX_BATCH_ORDERS = 20
MAX_CANCEL_SYMBOLS = 5


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class UserAccount:
    api_key: str
    api_secret: str
    orders: dict[str, Order] = field(default_factory=dict)
    by_client_id: dict[str, Order] = field(default_factory=dict)
    open_orders: dict[str, Order] = field(default_factory=dict)
    trades: list[tuple[Trade, Order]] = field(default_factory=list)


class SimExchange:
    def __init__(
        self,
        *,
        seed: int = 1,
        now_ms: Callable[[], int] | None = None,
        symbols: Sequence[SymbolSpec] | None = None,
        provide_liquidity: bool = True,
    ) -> None:
        """`provide_liquidity=False` keeps the books empty of synthetic orders (only users trade): a
        quiet market for exact tests of the matching rules.
        """
        self._seed = seed
        self._provide_liquidity = provide_liquidity
        self._now = now_ms or wall_clock_ms
        self._ledger = Ledger()
        self._ledger.open_account(PROVIDER, {})
        self._users: dict[str, UserAccount] = {}
        self._venues: dict[str, Venue] = {}
        self._listings = ListingSchedule()
        self._listen_keys = ListenKeys(seed)
        self._order_seq = itertools.count(1)
        self._provider_seq = itertools.count(1)
        self._trade_seq = itertools.count(1)
        now = self._now()
        for spec in DEFAULT_SYMBOLS if symbols is None else symbols:
            self._open_venue(spec, spec.initial_price, now)

    # --- assembly --------------------------------------------------------------------------------
    def _open_venue(self, spec: SymbolSpec, price: Decimal, now: int) -> None:
        for asset in (spec.base_asset, spec.quote_asset):
            if self._ledger.free(PROVIDER, asset) == ZERO:
                self._ledger.deposit(PROVIDER, asset, PROVIDER_FUNDING)
        tape = Tape()
        engine = MatchingEngine(
            spec, self._ledger, lambda: next(self._trade_seq), lambda t: self._on_trade(tape, t)
        )
        living = LivingMarket(
            engine, self._ledger, self._seed, lambda: f"LP{next(self._provider_seq)}"
        )
        self._venues[spec.symbol] = Venue(spec, engine, tape, living)
        self._recenter(living, price, now)

    def _recenter(self, living: LivingMarket, price: Decimal, now: int) -> None:
        if self._provide_liquidity:
            living.recenter(price, now)
        else:
            living.set_reference(price)

    def _on_trade(self, tape: Tape, trade: Trade) -> None:
        tape.record(
            PublicTrade(
                trade.trade_id,
                trade.price,
                trade.qty,
                trade.quote_qty,
                trade.time,
                trade.taker_side,
            )
        )
        for order in (trade.maker, trade.taker):
            user = self._users.get(order.owner)
            if user is not None:
                user.trades.append((trade, order))
                if not order.is_open:
                    user.open_orders.pop(order.order_id, None)

    def _open_due_listings(self) -> int:
        now = self._now()
        for listing in self._listings.pop_due(now):
            self._open_venue(listing.spec, listing.initial_price, now)
        return now

    def _venue(self, symbol: str) -> Venue:
        """A known, opened market (for queries); pending listings and unknown names get -1121."""
        self._open_due_listings()
        venue = self._venues.get(symbol.upper())
        if venue is None:
            raise errors.invalid_symbol()
        return venue

    def _tradable(self, symbol: str) -> Venue:
        """A market open to API orders; listed-but-not-open or disabled symbols get 10007."""
        self._open_due_listings()
        venue = self._venues.get(symbol.upper())
        if venue is None:
            if self._listings.is_pending(symbol.upper()):
                raise errors.symbol_not_support_api()
            raise errors.invalid_symbol()
        if not venue.spec.tradable:
            raise errors.symbol_not_support_api()
        return venue

    def _user(self, api_key: str) -> UserAccount:
        user = self._users.get(api_key)
        if user is None:
            raise errors.invalid_api_key()
        return user

    # --- accounts --------------------------------------------------------------------------------
    def create_account(
        self, api_key: str, api_secret: str, balances: Mapping[str, Decimal] | None = None
    ) -> None:
        """Register an api key pair; `balances=None` gives 100,000 USDT and some of each base."""
        if not api_key or api_key in self._users:
            raise SimError(errors.ILLEGAL_PARAM, f"api key {api_key!r} is empty or already exists")
        self._ledger.open_account(api_key, DEFAULT_FUNDING if balances is None else balances)
        self._users[api_key] = UserAccount(api_key, api_secret)

    def secret_for(self, api_key: str) -> str | None:
        user = self._users.get(api_key)
        return None if user is None else user.api_secret

    def fund(self, api_key: str, asset: str, amount: Decimal) -> None:
        """Add to (or with a negative amount take from, down to zero) the free balance."""
        self._user(api_key)
        try:
            self._ledger.deposit(api_key, asset.upper(), amount)
        except ValueError as exc:
            raise SimError(errors.ILLEGAL_PARAM, str(exc)) from None

    def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        self._user(api_key)
        return self._ledger.snapshot(api_key)

    def account_info(self, api_key: str) -> dict[str, object]:
        rows = [
            {"asset": asset, "free": fmt(free), "locked": fmt(locked)}
            for asset, (free, locked) in self.balances(api_key).items()
            if free or locked
        ]
        return {
            "makerCommission": None,
            "takerCommission": None,
            "buyerCommission": None,
            "sellerCommission": None,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": None,
            "accountType": "SPOT",
            "balances": rows,
            "permissions": ["SPOT"],
        }

    def trade_fee(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        """Commission rates as JSON numbers (MEXC sends numbers here; rates are not money)."""
        self._user(api_key)
        spec = self._venue(required_str(params, "symbol")).spec
        return {
            "data": {
                "makerCommission": float(spec.maker_commission),
                "takerCommission": float(spec.taker_commission),
            },
            "code": 0,
            "msg": "success",
            "timestamp": self._now(),
        }

    # --- market life -----------------------------------------------------------------------------
    def advance(self) -> None:
        """One market tick: every open market walks its price and refreshes its book."""
        now = self._open_due_listings()
        if not self._provide_liquidity:
            return
        for venue in self._venues.values():
            if venue.spec.tradable:
                venue.living.tick(now)

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Re-centre the synthetic book at `price` and print a trade there."""
        if price <= ZERO:
            raise illegal_param("price", "must be greater than 0")
        self._recenter(self._venue(symbol).living, price, self._now())

    def schedule_listing(self, spec: SymbolSpec, open_time_ms: int, initial_price: Decimal) -> None:
        if spec.symbol in self._venues or self._listings.is_pending(spec.symbol):
            raise SimError(errors.ILLEGAL_PARAM, f"symbol {spec.symbol} is already listed")
        self._listings.schedule(Listing(spec, open_time_ms, initial_price))
        self._open_due_listings()

    def new_coin_calendar(self) -> dict[str, object]:
        return self._listings.calendar(self._open_due_listings())

    # --- public market data ----------------------------------------------------------------------
    def default_symbols(self) -> dict[str, object]:
        now = self._open_due_listings()
        tradable = [s for s, v in self._venues.items() if v.spec.tradable]
        return {"code": 0, "data": tradable, "msg": "success", "timestamp": now}

    def exchange_info(self, symbols: Sequence[str] | None) -> dict[str, object]:
        now = self._open_due_listings()
        entries = {s: v.spec.exchange_info_entry() for s, v in self._venues.items()}
        for listing in self._listings.pending():
            entries[listing.spec.symbol] = listing.spec.exchange_info_entry(status="2")
        if symbols:
            wanted = [s.upper() for s in symbols]
            if any(s not in entries for s in wanted):
                raise errors.invalid_symbol()
            chosen = [entries[s] for s in wanted]
        else:
            chosen = list(entries.values())
        return {
            "timezone": "CST",
            "serverTime": now,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": chosen,
        }

    def depth(self, symbol: str, limit: int | None) -> dict[str, object]:
        return public_data.depth(self._venue(symbol), limit, self._now())

    def trades(self, symbol: str, limit: int | None) -> list[dict[str, object]]:
        return public_data.trades(self._venue(symbol), limit)

    def agg_trades(
        self, symbol: str, limit: int | None, start_time: int | None, end_time: int | None
    ) -> list[dict[str, object]]:
        return public_data.agg_trades(self._venue(symbol), limit, start_time, end_time)

    def klines(
        self,
        symbol: str,
        interval: str,
        start_time: int | None,
        end_time: int | None,
        limit: int | None,
    ) -> list[list[object]]:
        return public_data.klines(self._venue(symbol), interval, start_time, end_time, limit)

    def avg_price(self, symbol: str) -> dict[str, object]:
        return public_data.avg_price(self._venue(symbol), self._now())

    def _each(
        self, symbol: str | None, view: Callable[[Venue], dict[str, object]]
    ) -> dict[str, object] | list[dict[str, object]]:
        if symbol is not None:
            return view(self._venue(symbol))
        self._open_due_listings()
        return [view(v) for v in self._venues.values()]

    def ticker_24hr(self, symbol: str | None) -> dict[str, object] | list[dict[str, object]]:
        now = self._now()
        return self._each(symbol, lambda v: public_data.ticker_24hr(v, now))

    def ticker_price(self, symbol: str | None) -> dict[str, object] | list[dict[str, object]]:
        return self._each(symbol, public_data.ticker_price)

    def book_ticker(self, symbol: str | None) -> dict[str, object] | list[dict[str, object]]:
        return self._each(symbol, public_data.book_ticker)

    # --- orders ----------------------------------------------------------------------------------
    def place_order(
        self, api_key: str, params: Mapping[str, str], *, test: bool = False
    ) -> dict[str, object]:
        """Validate, lock funds and execute a new order; answers MEXC's acknowledgement (or {} when
        `test`, after the same validation including balances).
        """
        user = self._user(api_key)
        venue = self._tradable(required_str(params, "symbol"))
        request = parse_order_request(venue.spec, params, venue.tape.last_price)
        cid = request.client_order_id
        if cid is not None and cid in user.by_client_id:
            raise SimError(
                errors.DUPLICATE_CLIENT_ORDER_ID,
                f"newClientOrderId '{cid}' was already used by this account",
            )
        if len(user.open_orders) >= errors.MAX_OPEN_ORDERS_PER_ACCOUNT:
            raise SimError(
                errors.MAX_OPEN_ORDERS,
                f"at most {errors.MAX_OPEN_ORDERS_PER_ACCOUNT} open orders per account",
            )
        if request.order_type == LIMIT_MAKER:
            assert request.price is not None
            if venue.engine.would_take(request.side, request.price):
                raise SimError(
                    errors.LIMIT_MAKER_WOULD_TAKE,
                    "LIMIT_MAKER order would immediately match and take liquidity",
                )
        asset, amount = self._funds_needed(venue, request)
        if amount > self._ledger.free(api_key, asset):
            raise errors.insufficient_balance() if request.side == BUY else errors.oversold()
        if test:
            return {}
        now = self._now()
        self._ledger.lock(api_key, asset, amount)
        order = Order(
            order_id=f"C02__{ORDER_ID_BASE + next(self._order_seq)}",
            owner=api_key,
            symbol=venue.spec.symbol,
            side=request.side,
            order_type=request.order_type,
            price=request.price,
            orig_qty=request.quantity,
            orig_quote_qty=request.quote_order_qty,
            client_order_id=cid,
            time=now,
            update_time=now,
            locked=amount,
        )
        user.orders[order.order_id] = order
        if cid is not None:
            user.by_client_id[cid] = order
        user.open_orders[order.order_id] = order
        venue.engine.submit(order, now)
        if not order.is_open:
            user.open_orders.pop(order.order_id, None)
        return order_ack(order)

    def _funds_needed(self, venue: Venue, request: OrderRequest) -> tuple[str, Decimal]:
        """The asset and amount to lock for `request` (a market order's worst case on this book)."""
        spec = venue.spec
        if request.order_type != MARKET:
            assert request.price is not None
            assert request.quantity is not None
            if request.side == BUY:
                return spec.quote_asset, request.price * request.quantity
            return spec.base_asset, request.quantity
        if request.side == BUY:
            if request.quote_order_qty is not None:
                return spec.quote_asset, request.quote_order_qty
            _, cost = venue.engine.simulate(BUY, None, request.quantity, None)
            return spec.quote_asset, cost
        if venue.engine.book.bids.best_price() is None:
            raise errors.oversold()
        if request.quantity is not None:
            return spec.base_asset, request.quantity
        qty, _ = venue.engine.simulate(request.side, None, None, request.quote_order_qty)
        return spec.base_asset, qty

    def batch_orders(
        self, api_key: str, orders: Sequence[Mapping[str, str]]
    ) -> list[dict[str, object]]:
        """Up to 20 orders on one symbol; each item answers on its own (successes and failures)."""
        self._user(api_key)
        if not orders or len(orders) > MAX_BATCH_ORDERS:
            raise illegal_param("batchOrders", f"must hold 1 to {MAX_BATCH_ORDERS} orders")
        symbols = {str(o.get("symbol", "")).upper() for o in orders}
        if len(symbols) != 1:
            raise illegal_param("batchOrders", "all orders must be on the same symbol")
        results: list[dict[str, object]] = []
        for params in orders:
            cid = optional_str(params, "newClientOrderId")
            try:
                ack = self.place_order(api_key, {k: str(v) for k, v in params.items()})
            except SimError as exc:
                results.append({"newClientOrderId": cid, "msg": exc.msg, "code": exc.code})
                continue
            results.append(
                {
                    "symbol": ack["symbol"],
                    "orderId": ack["orderId"],
                    "newClientOrderId": cid,
                    "orderListId": -1,
                }
            )
        return results

    def _find_order(self, user: UserAccount, params: Mapping[str, str]) -> tuple[Venue, Order]:
        venue = self._venue(required_str(params, "symbol"))
        order_id = optional_str(params, "orderId")
        client_id = parse_client_order_id(params, "origClientOrderId")
        if order_id is None and client_id is None:
            raise SimError(
                errors.ORDER_ID_MISSING,
                "Mandatory parameter 'orderId' or 'origClientOrderId' was not sent",
            )
        order = user.orders.get(order_id) if order_id is not None else None
        if order is None and client_id is not None:
            order = user.by_client_id.get(client_id)
        if order is None or order.symbol != venue.spec.symbol:
            raise errors.order_does_not_exist()
        return venue, order

    def query_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        _, order = self._find_order(self._user(api_key), params)
        return order_view(order)

    def order_exists(self, api_key: str, symbol: str, client_order_id: str) -> bool:
        user = self._users.get(api_key)
        order = user.by_client_id.get(client_order_id) if user is not None else None
        return order is not None and order.symbol == symbol.upper()

    def cancel_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        user = self._user(api_key)
        venue, order = self._find_order(user, params)
        if not order.is_open:
            raise errors.unknown_order_sent()
        venue.engine.cancel(order, self._now())
        user.open_orders.pop(order.order_id, None)
        return cancel_view(order)

    def cancel_open_orders(
        self, api_key: str, params: Mapping[str, str]
    ) -> list[dict[str, object]]:
        """Cancel every open order on up to 5 comma-separated symbols."""
        user = self._user(api_key)
        names = [s.strip().upper() for s in required_str(params, "symbol").split(",") if s.strip()]
        if len(names) > MAX_CANCEL_SYMBOLS:
            raise illegal_param("symbol", f"at most {MAX_CANCEL_SYMBOLS} symbols")
        venues = [self._venue(name) for name in names]
        now = self._now()
        canceled: list[dict[str, object]] = []
        for venue in venues:
            for order in [o for o in user.open_orders.values() if o.symbol == venue.spec.symbol]:
                venue.engine.cancel(order, now)
                user.open_orders.pop(order.order_id)
                canceled.append(cancel_view(order))
        return canceled

    def open_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        user = self._user(api_key)
        symbol = optional_str(params, "symbol")
        wanted = self._venue(symbol).spec.symbol if symbol is not None else None
        return [
            order_view(o) for o in user.open_orders.values() if wanted is None or o.symbol == wanted
        ]

    def _window(
        self, params: Mapping[str, str], default_limit: int, max_limit: int
    ) -> tuple[int, int, int, bool]:
        """(start, end, limit, from_start): default last 24 h, never more than 7 days back."""
        now = self._now()
        start = optional_int(params, "startTime")
        end = optional_int(params, "endTime")
        limit = checked_limit(optional_int(params, "limit"), "limit", default_limit, max_limit)
        end_ms = end if end is not None else now
        start_ms = start if start is not None else end_ms - DAY_MS
        return max(start_ms, now - 7 * DAY_MS), end_ms, limit, start is not None

    def all_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        user = self._user(api_key)
        symbol = self._venue(required_str(params, "symbol")).spec.symbol
        start, end, limit, from_start = self._window(params, 500, 1000)
        rows = [o for o in user.orders.values() if o.symbol == symbol and start <= o.time <= end]
        chosen = rows[:limit] if from_start else rows[-limit:]
        return [order_view(o) for o in chosen]

    def my_trades(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        user = self._user(api_key)
        venue = self._venue(required_str(params, "symbol"))
        order_id = optional_str(params, "orderId")
        start, end, limit, from_start = self._window(params, 100, 100)
        rows = [
            (t, o)
            for t, o in user.trades
            if o.symbol == venue.spec.symbol
            and start <= t.time <= end
            and (order_id is None or o.order_id == order_id)
        ]
        chosen = rows[:limit] if from_start else rows[-limit:]
        return [my_trade_row(t, o, venue.spec) for t, o in chosen]

    # --- user data stream keys -------------------------------------------------------------------
    def create_listen_key(self, api_key: str) -> dict[str, object]:
        self._user(api_key)
        return {"listenKey": self._listen_keys.create(api_key, self._now())}

    def keepalive_listen_key(self, api_key: str, listen_key: str) -> dict[str, object]:
        self._user(api_key)
        self._listen_keys.keepalive(api_key, listen_key, self._now())
        return {"listenKey": listen_key}

    def close_listen_key(self, api_key: str, listen_key: str) -> dict[str, object]:
        self._user(api_key)
        self._listen_keys.close(api_key, listen_key, self._now())
        return {"listenKey": listen_key}

    def listen_keys(self, api_key: str) -> dict[str, object]:
        self._user(api_key)
        return {"listenKey": self._listen_keys.valid_keys(api_key, self._now())}

    def listen_key_owner(self, listen_key: str) -> str | None:
        """The api key a valid listen key belongs to, for the user-data websocket."""
        return self._listen_keys.owner_of(listen_key, self._now())

    # --- for tests and invariants ----------------------------------------------------------------
    def total_supply(self, asset: str) -> Decimal:
        """All of `asset` in existence: every account incl. the liquidity provider, plus fees."""
        return self._ledger.total(asset)

    def fees_collected(self) -> dict[str, Decimal]:
        return dict(self._ledger.fees_collected)
