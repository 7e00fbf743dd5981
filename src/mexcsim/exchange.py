"""SimExchange: the simulator's facade, the one object the HTTP layer talks to.

Synchronous, in memory and deterministic for a given seed and clock. Every answer is JSON-ready in
MEXC's shapes (numbers as strings where MEXC sends strings); every business error raises
`SimError(code, msg, http_status)`. Listed-but-not-open symbols: absent from defaultSymbols, present
in exchangeInfo with status "2", orders on them get 10007 (see `mexcsim.listings`).

Order entry and order queries live in `mexcsim.order_desk`, saving and restoring the complete state
in `mexcsim.state`; this module assembles the markets and answers everything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from mexcsim import errors, public_data, state
from mexcsim.accounts import Ledger
from mexcsim.decimals import ZERO, fmt
from mexcsim.errors import SimError, illegal_param
from mexcsim.listen_keys import ListenKeys
from mexcsim.listings import Listing, ListingSchedule
from mexcsim.market import PROVIDER, PROVIDER_FUNDING, LivingMarket
from mexcsim.matching import MatchingEngine, Trade
from mexcsim.order_desk import OrderDesk, UserAccount
from mexcsim.params import required_str
from mexcsim.symbols import DEFAULT_FUNDING, DEFAULT_SYMBOLS, SymbolSpec
from mexcsim.tape import PublicTrade, Tape
from mexcsim.venue import Venue


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


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
        self._now = now_ms or wall_clock_ms
        self._reset(seed, provide_liquidity)
        now = self._now()
        for spec in DEFAULT_SYMBOLS if symbols is None else symbols:
            self._open_venue(spec, spec.initial_price, now)

    def _reset(self, seed: int, provide_liquidity: bool) -> None:
        """No markets and no accounts yet: the start of `__init__` and of a restore."""
        self._seed = seed
        self._provide_liquidity = provide_liquidity
        self._ledger = Ledger()
        self._ledger.open_account(PROVIDER, {})
        self._desk = OrderDesk(self._ledger, self._now, self._venue, self._tradable)
        self._venues: dict[str, Venue] = {}
        self._listings = ListingSchedule()
        self._listen_keys = ListenKeys(seed)
        self._provider_seq = 0
        self._trade_seq = 0
        self._revision = 0

    # --- assembly --------------------------------------------------------------------------------
    def _build_venue(self, spec: SymbolSpec) -> Venue:
        """A market's parts wired together, with an empty book (used by opening and restoring)."""
        tape = Tape()
        engine = MatchingEngine(
            spec, self._ledger, self._next_trade_id, lambda t: self._on_trade(tape, t)
        )
        living = LivingMarket(engine, self._ledger, self._seed, self._next_provider_order_id)
        venue = self._venues[spec.symbol] = Venue(spec, engine, tape, living)
        return venue

    def _open_venue(self, spec: SymbolSpec, price: Decimal, now: int) -> None:
        for asset in (spec.base_asset, spec.quote_asset):
            if self._ledger.free(PROVIDER, asset) == ZERO:
                self._ledger.deposit(PROVIDER, asset, PROVIDER_FUNDING)
        self._recenter(self._build_venue(spec).living, price, now)

    def _next_trade_id(self) -> int:
        self._trade_seq += 1
        return self._trade_seq

    def _next_provider_order_id(self) -> str:
        self._provider_seq += 1
        return f"LP{self._provider_seq}"

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
        self._desk.record_trade(trade)

    def _open_due_listings(self) -> int:
        now = self._now()
        for listing in self._listings.pop_due(now):
            self._open_venue(listing.spec, listing.initial_price, now)
            self._revision += 1
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
        return self._desk.user(api_key)

    # --- persistence (see mexcsim.state) ---------------------------------------------------------
    @property
    def revision(self) -> int:
        """Grows whenever the state may have changed; savers compare it with the one saved."""
        return self._revision

    def export_state(self) -> dict[str, object]:
        """The complete state as a JSON-ready dict (versioned; Decimals as exact strings)."""
        return state.export_exchange(self)

    def restore_state(self, data: object) -> None:
        """Replace the whole state with one `export_state` produced (seed and liquidity setting
        included). Raises `state.StateError` naming the offending part when `data` is not a state
        this version can read; the exchange is unchanged then.
        """
        state.restore_exchange(self, data)
        self._revision += 1

    def api_keys(self) -> list[str]:
        """The api keys of every account, oldest first (e.g. to resume a restored paper account)."""
        return list(self._desk.users)

    # --- accounts --------------------------------------------------------------------------------
    def create_account(
        self, api_key: str, api_secret: str, balances: Mapping[str, Decimal] | None = None
    ) -> None:
        """Register an api key pair; `balances=None` gives 100,000 USDT and some of each base."""
        if not api_key or api_key in self._desk.users:
            raise SimError(errors.ILLEGAL_PARAM, f"api key {api_key!r} is empty or already exists")
        self._ledger.open_account(api_key, DEFAULT_FUNDING if balances is None else balances)
        self._desk.users[api_key] = UserAccount(api_key, api_secret)
        self._revision += 1

    def secret_for(self, api_key: str) -> str | None:
        user = self._desk.users.get(api_key)
        return None if user is None else user.api_secret

    def fund(self, api_key: str, asset: str, amount: Decimal) -> None:
        """Add to (or with a negative amount take from, down to zero) the free balance."""
        self._user(api_key)
        self._revision += 1
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
        self._revision += 1
        for venue in self._venues.values():
            if venue.spec.tradable:
                venue.living.tick(now)

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Re-centre the synthetic book at `price` and print a trade there."""
        if price <= ZERO:
            raise illegal_param("price", "must be greater than 0")
        self._revision += 1
        self._recenter(self._venue(symbol).living, price, self._now())

    def schedule_listing(self, spec: SymbolSpec, open_time_ms: int, initial_price: Decimal) -> None:
        if spec.symbol in self._venues or self._listings.is_pending(spec.symbol):
            raise SimError(errors.ILLEGAL_PARAM, f"symbol {spec.symbol} is already listed")
        self._listings.schedule(Listing(spec, open_time_ms, initial_price))
        self._revision += 1
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

    # --- orders (see mexcsim.order_desk) ---------------------------------------------------------
    def place_order(
        self, api_key: str, params: Mapping[str, str], *, test: bool = False
    ) -> dict[str, object]:
        """Validate, lock funds and execute a new order; answers MEXC's acknowledgement (or {} when
        `test`, after the same validation including balances).
        """
        if not test:
            self._revision += 1
        return self._desk.place_order(api_key, params, test=test)

    def batch_orders(
        self, api_key: str, orders: Sequence[Mapping[str, str]]
    ) -> list[dict[str, object]]:
        """Up to 20 orders on one symbol; each item answers on its own (successes and failures)."""
        self._revision += 1
        return self._desk.batch_orders(api_key, orders)

    def cancel_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        self._revision += 1
        return self._desk.cancel_order(api_key, params)

    def cancel_open_orders(
        self, api_key: str, params: Mapping[str, str]
    ) -> list[dict[str, object]]:
        """Cancel every open order on up to 5 comma-separated symbols."""
        self._revision += 1
        return self._desk.cancel_open_orders(api_key, params)

    def query_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        return self._desk.query_order(api_key, params)

    def order_exists(self, api_key: str, symbol: str, client_order_id: str) -> bool:
        return self._desk.order_exists(api_key, symbol, client_order_id)

    def open_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        return self._desk.open_orders(api_key, params)

    def all_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        return self._desk.all_orders(api_key, params)

    def my_trades(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        return self._desk.my_trades(api_key, params)

    # --- user data stream keys -------------------------------------------------------------------
    def create_listen_key(self, api_key: str) -> dict[str, object]:
        self._user(api_key)
        self._revision += 1
        return {"listenKey": self._listen_keys.create(api_key, self._now())}

    def keepalive_listen_key(self, api_key: str, listen_key: str) -> dict[str, object]:
        self._user(api_key)
        self._revision += 1
        self._listen_keys.keepalive(api_key, listen_key, self._now())
        return {"listenKey": listen_key}

    def close_listen_key(self, api_key: str, listen_key: str) -> dict[str, object]:
        self._user(api_key)
        self._revision += 1
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
