"""SimExchange: the simulator's facade, the one object the HTTP layer talks to.

Synchronous, in memory and deterministic for a given seed and clock. Every answer is JSON-ready in
MEXC's shapes (numbers as strings where MEXC sends strings); every business error raises
`SimError(code, msg, http_status)`. Listed-but-not-open symbols: absent from defaultSymbols, present
in exchangeInfo with status "2", empty or zero public data, orders on them get 10007 (see
`mexcsim.market.listings`); what the exchange tells about its listings is in
`mexcsim.exchange.listing_view`, every accepted order is timed in
`mexcsim.exchange.acceptance_log`. Accounts and listen keys are mixins of their own
(`account_desk`, `listen_key_desk`).

Order entry and order queries live in `mexcsim.accounts.user_orders`. The saveable state is a value
of its own (`mexcsim.world.SimWorld`): `snapshot()` takes one, `restore()` rebuilds from one; the
state package encodes it and never reads this facade's private parts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from mexcsim import errors
from mexcsim.accounts.ledger import Ledger
from mexcsim.accounts.listen_keys import ListenKeys
from mexcsim.accounts.user_orders import UserAccount, UserOrders
from mexcsim.decimals import ZERO
from mexcsim.errors import SimError, illegal_param
from mexcsim.exchange.acceptance_log import AcceptanceLog
from mexcsim.exchange.account_desk import AccountDesk
from mexcsim.exchange.commands import CommandClock, CommandSink, replay_command
from mexcsim.exchange.events import ExchangeListener
from mexcsim.exchange.listen_key_desk import ListenKeyDesk
from mexcsim.exchange.listing_view import ListingView
from mexcsim.exchange.market_view import PublicMarketView
from mexcsim.market.book import Order
from mexcsim.market.history import seed_history
from mexcsim.market.liquidity import PROVIDER, PROVIDER_FUNDING, LivingMarket
from mexcsim.market.listings import Listing, ListingSchedule
from mexcsim.market.matching import MatchingEngine, Trade
from mexcsim.market.symbols import (
    DEFAULT_SYMBOLS,
    SymbolSpec,
    encode_spec,
)
from mexcsim.market.tape import PublicTrade, Tape
from mexcsim.market.trading_pair import TradingPair
from mexcsim.world import (
    Command,
    SimWorld,
    copied_orders,
    copied_trades,
)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def wall_clock_us() -> int:
    return time.time_ns() // 1_000


DEFAULT_LISTING_BOOK_RAMP_MS = 10_000


class SimExchange(PublicMarketView, ListingView, AccountDesk, ListenKeyDesk):
    def __init__(
        self,
        *,
        seed: int = 1,
        now_ms: Callable[[], int] | None = None,
        now_us: Callable[[], int] | None = None,
        symbols: Sequence[SymbolSpec] | None = None,
        provide_liquidity: bool = True,
        history: bool = True,
        reject_taking_limit_maker: bool = False,
        listing_book_ramp_ms: int = DEFAULT_LISTING_BOOK_RAMP_MS,
    ) -> None:
        """`reject_taking_limit_maker=True` answers a LIMIT_MAKER that would take with -2010
        instead of accepting it and canceling it (the default, as real MEXC most likely does).
        `provide_liquidity=False` keeps the books empty of synthetic orders (only users trade): a
        quiet market for exact tests of the matching rules. `history=True` gives every starting
        market a seeded past day of candles and trades ending at its initial price (see
        `mexcsim.market.history`); listings opened later start without one, as real ones do.
        `now_us` times accepted orders for the acceptance log (default: the wall clock when
        `now_ms` is not given, else `now_ms() * 1000`); `listing_book_ramp_ms` is how long a new
        listing's book takes to fill in when its schedule does not say.
        """
        clock = now_ms or wall_clock_ms
        if now_us is None:
            now_us = wall_clock_us if now_ms is None else lambda: clock() * 1000
        self._now_us = now_us
        self._listing_book_ramp_ms = listing_book_ramp_ms
        self._acceptances = AcceptanceLog()
        self._commands = CommandClock(clock)
        self._reject_taking_limit_maker = reject_taking_limit_maker
        self._now = self._commands.now
        self._listeners: list[ExchangeListener] = []
        self._commands.on_finished = self._command_finished
        self._reset(seed, provide_liquidity)
        now = self._now()
        for spec in DEFAULT_SYMBOLS if symbols is None else symbols:
            self._open_pair(spec, spec.initial_price, now, history=history)

    def _reset(self, seed: int, provide_liquidity: bool) -> None:
        """No markets and no accounts yet: the start of `__init__` and of a restore."""
        self._seed = seed
        self._provide_liquidity = provide_liquidity
        self._ledger = Ledger()
        self._ledger.open_account(PROVIDER, {})
        self._user_orders = UserOrders(
            self._ledger,
            self._now,
            self._pair,
            self._tradable,
            self._order_changed,
            self._order_accepted,
            pending=self._is_pending_listing,
            reject_taking_limit_maker=self._reject_taking_limit_maker,
        )
        self._pairs: dict[str, TradingPair] = {}
        self._listings = ListingSchedule()
        self._listen_keys = ListenKeys(seed)
        self._provider_seq = 0
        self._trade_seq = 0
        self._revision = 0
        self._commands.seq = 0

    # --- assembly ---------------------------------------------------------------------------------
    def _build_pair(self, spec: SymbolSpec) -> TradingPair:
        """A market's parts wired together, with an empty book (used by opening and restoring)."""
        tape = Tape()
        engine = MatchingEngine(
            spec, self._ledger, self._next_trade_id, lambda t: self._on_trade(tape, t)
        )
        living = LivingMarket(engine, self._ledger, self._seed, self._next_provider_order_id)
        pair = self._pairs[spec.symbol] = TradingPair(spec, engine, tape, living)
        return pair

    def _open_pair(
        self,
        spec: SymbolSpec,
        price: Decimal,
        now: int,
        *,
        history: bool = False,
        book_ramp_ms: int = 0,
    ) -> None:
        for asset in (spec.base_asset, spec.quote_asset):
            if self._ledger.free(PROVIDER, asset) == ZERO:
                self._ledger.deposit(PROVIDER, asset, PROVIDER_FUNDING)
        pair = self._build_pair(spec)
        pair.living.start_opening_ramp(now, book_ramp_ms)
        if history:
            candles, trades = seed_history(spec, price, now, self._seed, self._next_trade_id)
            pair.tape.candles.extend(candles)
            pair.tape.trades.extend(trades)
            pair.tape.last_price = price
        self._recenter(pair.living, price, now)

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
        self._user_orders.record_trade(trade)
        for listener in self._listeners:
            listener.trade_executed(trade)

    # --- observers (see mexcsim.exchange.events) -------------------------------------------------
    def add_listener(self, listener: ExchangeListener) -> None:
        """Tell `listener` about every trade, user order change and finished command."""
        self._listeners.append(listener)

    def _order_changed(self, order: Order) -> None:
        for listener in self._listeners:
            listener.order_changed(order)

    def _order_accepted(self, order: Order) -> None:
        if not self._commands.is_replaying:
            self._acceptances.accepted(order, self._now_us())

    def _command_finished(self) -> None:
        for listener in self._listeners:
            listener.command_finished(self)

    def now_ms(self) -> int:
        return self._now()

    def open_market(self, symbol: str) -> TradingPair | None:
        """An opened market by exact (upper-case) name, without opening due listings."""
        return self._pairs.get(symbol)

    def balances_of(self, owner: str) -> dict[str, tuple[Decimal, Decimal]]:
        """asset -> (free, locked); empty for an unknown owner."""
        return self._ledger.snapshot(owner) if self._ledger.has_account(owner) else {}

    def open_due_listings(self) -> int:
        """Open the listings whose time has come; outside a command that is a command of its own
        (a query can be the first to notice an opening, and opening changes the state)."""
        now = self._now()
        if not self._listings.is_due(now):
            return now
        with self._commands.command("open_listings", {}) as now:
            for listing in self._listings.pop_due(now):
                self._open_pair(
                    listing.spec, listing.initial_price, now, book_ramp_ms=listing.book_ramp_ms
                )
                self._revision += 1
        return now

    def _pair(self, symbol: str) -> TradingPair:
        """A known, opened market (for queries); pending listings and unknown names get -1121."""
        self.open_due_listings()
        pair = self._pairs.get(symbol.upper())
        if pair is None:
            raise errors.invalid_symbol()
        return pair

    def _is_pending_listing(self, symbol: str) -> bool:
        self.open_due_listings()
        return self._listings.is_pending(symbol)

    def _tradable(self, symbol: str) -> TradingPair:
        """A market open to API orders; listed-but-not-open or disabled symbols get 10007."""
        self.open_due_listings()
        name = symbol.upper()
        pair = self._pairs.get(name)
        if pair is None and not self._listings.is_pending(name):
            raise errors.invalid_symbol()
        if pair is None or not pair.spec.tradable:
            if not self._commands.is_replaying:
                self._acceptances.refused_not_open(name)
            raise errors.symbol_not_support_api()
        return pair

    def _user(self, api_key: str) -> UserAccount:
        return self._user_orders.user(api_key)

    # --- the saveable state (see mexcsim.world) ---------------------------------------------------
    @property
    def revision(self) -> int:
        """Grows whenever the state may have changed; savers compare it with the one saved."""
        return self._revision + self._commands.seq

    def snapshot(self) -> SimWorld:
        """The complete state now, as an independent value."""
        users = self._user_orders.users.values()
        live: list[Order] = []
        for user in users:
            live.extend(user.orders.values())
            for trade, _ in user.trades:
                live.extend((trade.maker, trade.taker))
        for pair in self._pairs.values():
            live.extend(pair.engine.book.bids.orders_in_priority())
            live.extend(pair.engine.book.asks.orders_in_priority())
        orders = copied_orders(live)
        trades = copied_trades((t for u in users for t, _ in u.trades), orders)
        return SimWorld(
            seed=self._seed,
            provide_liquidity=self._provide_liquidity,
            saved_at_ms=self._now(),
            order_seq=self._user_orders.order_seq,
            provider_seq=self._provider_seq,
            trade_seq=self._trade_seq,
            command_seq=self._commands.seq,
            balances={o: self._ledger.snapshot(o) for o in self._ledger.owners()},
            fees_collected=dict(self._ledger.fees_collected),
            orders=tuple(orders.values()),
            trades=trades,
            users=tuple(u.saved() for u in users),
            markets=tuple(pair.saved() for pair in self._pairs.values()),
            pending_listings=tuple(self._listings.pending()),
            opened_listings=tuple(self._listings.opened()),
            listen_keys_issued=self._listen_keys.issued,
            listen_keys=tuple(self._listen_keys.keys()),
        )

    def restore(self, world: SimWorld) -> None:
        """Replace the whole state with `world` (seed and liquidity setting included); all or
        nothing: on ValueError (a world whose parts do not fit together) the exchange is unchanged.
        """
        backup = dict(vars(self))
        try:
            self._rebuild(world)
        except (KeyError, ValueError) as exc:
            vars(self).clear()
            vars(self).update(backup)
            raise ValueError(f"the saved world does not fit together: {exc}") from exc
        self._revision = backup["_revision"] + 1

    def _rebuild(self, world: SimWorld) -> None:
        self._reset(world.seed, world.provide_liquidity)
        self._user_orders.order_seq = world.order_seq
        self._provider_seq, self._trade_seq = world.provider_seq, world.trade_seq
        self._commands.seq = world.command_seq
        for owner, assets in world.balances.items():
            for asset, (free, locked) in assets.items():
                self._ledger.restore_balance(owner, asset, free, locked)
        self._ledger.fees_collected = dict(world.fees_collected)
        orders = copied_orders(world.orders)
        trades = {t.trade_id: t for t in copied_trades(world.trades, orders)}
        for saved in world.users:
            self._user_orders.users[saved.api_key] = UserAccount.resume(saved, orders, trades)
        for market in world.markets:
            self._build_pair(market.spec).resume(market, orders)
        self._listings.restore(list(world.pending_listings), list(world.opened_listings))
        self._listen_keys.restore(world.listen_keys_issued, list(world.listen_keys))

    @property
    def command_seq(self) -> int:
        """The number of the last command this state includes."""
        return self._commands.seq

    def record_commands(self, sink: CommandSink | None) -> None:
        """Hand every finished command to `sink` before the call returns (None: stop)."""
        self._commands.sink = sink

    def replay(self, command: Command) -> None:
        """Run a recorded command again at its time; its answer (or rejection) is dropped."""
        with self._commands.replaying(command), contextlib.suppress(SimError):
            replay_command(self, command)

    def api_keys(self) -> list[str]:
        """The api keys of every account, oldest first (e.g. to resume a restored paper account)."""
        return list(self._user_orders.users)

    # --- market life ------------------------------------------------------------------------------
    def advance(self, symbols: Sequence[str] | None = None) -> None:
        """One market tick: every open market (or only those of `symbols`) walks its price and
        refreshes its book. A tick of 50 markets takes ~10 ms, during which no order is served;
        `market_symbols` and this let the clock spread it over several short steps."""
        if not self._provide_liquidity:
            self.open_due_listings()
            return
        args = {} if symbols is None else {"symbols": list(symbols)}
        with self._commands.command("advance", args):
            now = self.open_due_listings()
            self._revision += 1
            names = self._pairs if symbols is None else [s for s in symbols if s in self._pairs]
            for pair in [self._pairs[name] for name in names]:
                if pair.spec.tradable:
                    pair.living.tick(now)

    def market_symbols(self) -> list[str]:
        """Every open market, in the order a full tick moves them."""
        return list(self._pairs)

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Re-centre the synthetic book at `price` and print a trade there."""
        if price <= ZERO:
            raise illegal_param("price", "must be greater than 0")
        with self._commands.command("set_price", {"symbol": symbol, "price": str(price)}) as now:
            self._revision += 1
            self._recenter(self._pair(symbol).living, price, now)

    def schedule_listing(
        self,
        spec: SymbolSpec,
        open_time_ms: int,
        initial_price: Decimal,
        *,
        api_open_delay_ms: int = 0,
        book_ramp_ms: int | None = None,
    ) -> None:
        """Announce `spec` to open at `open_time_ms`; its API opens `api_open_delay_ms` later and
        its book fills in over `book_ramp_ms` (None: the exchange's default)."""
        if spec.symbol in self._pairs or self._listings.is_pending(spec.symbol):
            raise SimError(errors.ILLEGAL_PARAM, f"symbol {spec.symbol} is already listed")
        if api_open_delay_ms < 0 or (book_ramp_ms is not None and book_ramp_ms < 0):
            raise SimError(errors.ILLEGAL_PARAM, "delays and ramps must be >= 0")
        ramp = self._listing_book_ramp_ms if book_ramp_ms is None else book_ramp_ms
        args = {
            "spec": encode_spec(spec),
            "open_time_ms": open_time_ms,
            "price": str(initial_price),
            "api_open_delay_ms": api_open_delay_ms,
            "book_ramp_ms": ramp,
        }
        with self._commands.command("schedule_listing", args) as now:
            listing = Listing(spec, open_time_ms, initial_price, api_open_delay_ms, now, ramp)
            self._listings.schedule(listing)
            self._revision += 1
            self.open_due_listings()

    # --- orders (see mexcsim.accounts.user_orders) ------------------------------------------------
    def place_order(
        self, api_key: str, params: Mapping[str, str], *, test: bool = False
    ) -> dict[str, object]:
        """Validate, lock funds and execute a new order; answers MEXC's acknowledgement (or {} when
        `test`, after the same validation including balances).
        """
        if test:
            return self._user_orders.place_order(api_key, params, test=True)
        with self._commands.command("place_order", {"api_key": api_key, "params": dict(params)}):
            self._revision += 1
            return self._user_orders.place_order(api_key, params)

    def batch_orders(
        self, api_key: str, orders: Sequence[Mapping[str, str]]
    ) -> list[dict[str, object]]:
        """Up to 20 orders on one symbol; each item answers on its own (successes and failures)."""
        args = {"api_key": api_key, "orders": [dict(o) for o in orders]}
        with self._commands.command("batch_orders", args):
            self._revision += 1
            return self._user_orders.batch_orders(api_key, orders)

    def cancel_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        with self._commands.command("cancel_order", {"api_key": api_key, "params": dict(params)}):
            self._revision += 1
            return self._user_orders.cancel_order(api_key, params)

    def cancel_open_orders(
        self, api_key: str, params: Mapping[str, str]
    ) -> list[dict[str, object]]:
        """Cancel every open order on up to 5 comma-separated symbols."""
        args = {"api_key": api_key, "params": dict(params)}
        with self._commands.command("cancel_open_orders", args):
            self._revision += 1
            return self._user_orders.cancel_open_orders(api_key, params)

    def query_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        return self._user_orders.query_order(api_key, params)

    def order_exists(self, api_key: str, symbol: str, client_order_id: str) -> bool:
        return self._user_orders.order_exists(api_key, symbol, client_order_id)

    def open_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        return self._user_orders.open_orders(api_key, params)

    def all_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        return self._user_orders.all_orders(api_key, params)

    def my_trades(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        return self._user_orders.my_trades(api_key, params)

    # --- for tests and invariants -----------------------------------------------------------------
    def total_supply(self, asset: str) -> Decimal:
        """All of `asset` in existence: every account incl. the liquidity provider, plus fees."""
        return self._ledger.total(asset)

    def fees_collected(self) -> dict[str, Decimal]:
        return dict(self._ledger.fees_collected)
