"""Users' orders: every account's orders and fills, order entry, cancellation and order queries.

Split from the exchange facade so that the facade reads as a table of contents: markets, accounts
and public data live there, everything a user does with orders lives here. `UserOrders` owns the
user accounts (api key, secret, orders, fills) and the order-id counter; balances stay in the
`Ledger` and books in the pairs' matching engines, both shared with the facade.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mexcsim import errors
from mexcsim.accounts.ledger import Ledger
from mexcsim.accounts.order_validation import (
    OrderRequest,
    parse_client_order_id,
    parse_order_request,
)
from mexcsim.accounts.reports import cancel_view, my_trade_row, order_ack, order_view
from mexcsim.errors import SimError, illegal_param
from mexcsim.market.book import BUY, Order
from mexcsim.market.matching import LIMIT_MAKER, MARKET, Trade
from mexcsim.market.tape import DAY_MS
from mexcsim.market.trading_pair import TradingPair
from mexcsim.request_fields import checked_limit, optional_int, optional_str, required_str

ORDER_ID_BASE = 426_060_921_085_927_424_000
MAX_BATCH_ORDERS = 20
MAX_CANCEL_SYMBOLS = 5


@dataclass(frozen=True, slots=True)
class SavedUser:
    api_key: str
    api_secret: str
    order_ids: tuple[str, ...]
    """Every order of the account, in placement order."""
    fills: tuple[tuple[int, str], ...]
    """(trade id, the account's order id) per fill, in the order they happened."""


@dataclass(slots=True)
class UserAccount:
    """One api key's orders (all, by client id, open) and fills, in the order they happened."""

    api_key: str
    api_secret: str
    orders: dict[str, Order] = field(default_factory=dict)
    by_client_id: dict[str, Order] = field(default_factory=dict)
    open_orders: dict[str, Order] = field(default_factory=dict)
    trades: list[tuple[Trade, Order]] = field(default_factory=list)

    def saved(self) -> SavedUser:
        """The account as a value (orders and fills by id)."""
        return SavedUser(
            self.api_key,
            self.api_secret,
            tuple(self.orders),
            tuple((t.trade_id, o.order_id) for t, o in self.trades),
        )

    @classmethod
    def resume(
        cls, saved: SavedUser, orders: Mapping[str, Order], trades: Mapping[int, Trade]
    ) -> UserAccount:
        """The account `saved` describes, over the restored orders and fills."""
        user = cls(saved.api_key, saved.api_secret)
        for order_id in saved.order_ids:
            user.adopt(orders[order_id])
        user.trades = [(trades[t], orders[o]) for t, o in saved.fills]
        return user

    def adopt(self, order: Order) -> None:
        """File a (new or restored) order under every index it belongs to."""
        self.orders[order.order_id] = order
        if order.client_order_id is not None:
            self.by_client_id[order.client_order_id] = order
        if order.is_open:
            self.open_orders[order.order_id] = order


class UserOrders:
    """Order entry and queries for every user account.

    `pair` resolves a symbol for queries (unknown -> -1121), `tradable` one open to API orders
    (listed-but-not-open -> 10007); both are the facade's, so listings open on time everywhere.
    `pending` says whether a symbol is a listing whose API has not opened: queries on it answer as
    on a market where the account has no orders (-2013 / -2011, empty lists), not -1121, so a
    client resolving an unknown outcome around a late open gets a clear "not there".
    """

    def __init__(
        self,
        ledger: Ledger,
        now_ms: Callable[[], int],
        pair: Callable[[str], TradingPair],
        tradable: Callable[[str], TradingPair],
        on_order: Callable[[Order], None] = lambda order: None,
        on_accepted: Callable[[Order], None] = lambda order: None,
        *,
        pending: Callable[[str], bool] = lambda symbol: False,
        reject_taking_limit_maker: bool = False,
    ) -> None:
        """`on_order` hears of every order placed or canceled (fills arrive as trades);
        `on_accepted` of every new order once it passed validation, before it meets the book."""
        self._ledger = ledger
        self._on_order = on_order
        self._on_accepted = on_accepted
        self._pending = pending
        self._reject_taking_limit_maker = reject_taking_limit_maker
        self._now = now_ms
        self._pair = pair
        self._tradable = tradable
        self.users: dict[str, UserAccount] = {}
        self.order_seq = 0
        """The sequence number of the last user order id issued (persisted with the state)."""

    def user(self, api_key: str) -> UserAccount:
        user = self.users.get(api_key)
        if user is None:
            raise errors.invalid_api_key()
        return user

    def record_trade(self, trade: Trade) -> None:
        """File a fill with the user(s) involved and retire their orders that it ended."""
        for order in (trade.maker, trade.taker):
            user = self.users.get(order.owner)
            if user is not None:
                user.trades.append((trade, order))
                if not order.is_open:
                    user.open_orders.pop(order.order_id, None)

    # --- order entry -----------------------------------------------------------------------------
    def place_order(
        self, api_key: str, params: Mapping[str, str], *, test: bool = False
    ) -> dict[str, object]:
        """Validate, lock funds and execute a new order; answers MEXC's acknowledgement (or {} when
        `test`, after the same validation including balances).
        """
        user = self.user(api_key)
        pair = self._tradable(required_str(params, "symbol"))
        request = parse_order_request(pair.spec, params, pair.tape.last_price)
        cid = request.client_order_id
        if cid is not None and cid in user.by_client_id:
            raise SimError(
                errors.DUPLICATE_CLIENT_ORDER_ID,
                f"newClientOrderId '{cid}' was already used by this account",
            )
        if len(user.open_orders) >= errors.MAX_OPEN_ORDERS_PER_ACCOUNT:
            raise errors.max_open_orders()
        if request.order_type == LIMIT_MAKER and self._reject_taking_limit_maker:
            # by default the matching engine accepts it and cancels it instead
            assert request.price is not None
            if pair.engine.would_take(request.side, request.price):
                raise errors.limit_maker_would_take()
        asset, amount = self._funds_needed(pair, request)
        if amount > self._ledger.free(api_key, asset):
            raise errors.insufficient_balance() if request.side == BUY else errors.oversold()
        if test:
            return {}
        now = self._now()
        self._ledger.lock(api_key, asset, amount)
        self.order_seq += 1
        order = Order(
            order_id=f"C02__{ORDER_ID_BASE + self.order_seq}",
            owner=api_key,
            symbol=pair.spec.symbol,
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
        user.adopt(order)
        self._on_accepted(order)
        pair.engine.submit(order, now)
        if not order.is_open:
            user.open_orders.pop(order.order_id, None)
        self._on_order(order)
        return order_ack(order)

    def _funds_needed(self, pair: TradingPair, request: OrderRequest) -> tuple[str, Decimal]:
        """The asset and amount to lock for `request` (a market order's worst case on this book)."""
        spec = pair.spec
        if request.order_type != MARKET:
            assert request.price is not None
            assert request.quantity is not None
            if request.side == BUY:
                return spec.quote_asset, request.price * request.quantity
            return spec.base_asset, request.quantity
        if request.side == BUY:
            if request.quote_order_qty is not None:
                return spec.quote_asset, request.quote_order_qty
            _, cost = pair.engine.simulate(BUY, None, request.quantity, None)
            return spec.quote_asset, cost
        if pair.engine.book.bids.best_price() is None:
            raise errors.oversold()
        if request.quantity is not None:
            return spec.base_asset, request.quantity
        qty, _ = pair.engine.simulate(request.side, None, None, request.quote_order_qty)
        return spec.base_asset, qty

    def batch_orders(
        self, api_key: str, orders: Sequence[Mapping[str, str]]
    ) -> list[dict[str, object]]:
        """Up to 20 orders on one symbol; each item answers on its own (successes and failures)."""
        self.user(api_key)
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

    # --- cancellation ----------------------------------------------------------------------------
    def cancel_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        user = self.user(api_key)
        pair, order = self._find_order(user, params, missing=errors.unknown_order_sent)
        if not order.is_open:
            raise errors.unknown_order_sent()
        pair.engine.cancel(order, self._now())
        user.open_orders.pop(order.order_id, None)
        self._on_order(order)
        return cancel_view(order)

    def cancel_open_orders(
        self, api_key: str, params: Mapping[str, str]
    ) -> list[dict[str, object]]:
        """Cancel every open order on up to 5 comma-separated symbols."""
        user = self.user(api_key)
        names = [s.strip().upper() for s in required_str(params, "symbol").split(",") if s.strip()]
        if len(names) > MAX_CANCEL_SYMBOLS:
            raise illegal_param("symbol", f"at most {MAX_CANCEL_SYMBOLS} symbols")
        pairs = [self._pair(name) for name in names if not self._pending(name)]
        now = self._now()
        canceled: list[dict[str, object]] = []
        for pair in pairs:
            for order in [o for o in user.open_orders.values() if o.symbol == pair.spec.symbol]:
                pair.engine.cancel(order, now)
                user.open_orders.pop(order.order_id)
                self._on_order(order)
                canceled.append(cancel_view(order))
        return canceled

    # --- queries ---------------------------------------------------------------------------------
    def _find_order(
        self,
        user: UserAccount,
        params: Mapping[str, str],
        *,
        missing: Callable[[], SimError] = errors.order_does_not_exist,
    ) -> tuple[TradingPair, Order]:
        """The account's order by id or client id; `missing()` is raised when there is none
        (-2013 for a query, -2011 for a cancel, as MEXC answers)."""
        symbol = required_str(params, "symbol")
        if self._pending(symbol.upper()):
            raise missing()
        pair = self._pair(symbol)
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
        if order is None or order.symbol != pair.spec.symbol:
            raise missing()
        return pair, order

    def query_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        _, order = self._find_order(self.user(api_key), params)
        return order_view(order)

    def order_exists(self, api_key: str, symbol: str, client_order_id: str) -> bool:
        user = self.users.get(api_key)
        order = user.by_client_id.get(client_order_id) if user is not None else None
        return order is not None and order.symbol == symbol.upper()

    def open_orders(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        user = self.user(api_key)
        symbol = optional_str(params, "symbol")
        if symbol is not None and self._pending(symbol.upper()):
            return []
        wanted = self._pair(symbol).spec.symbol if symbol is not None else None
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
        user = self.user(api_key)
        name = required_str(params, "symbol")
        if self._pending(name.upper()):
            return []
        symbol = self._pair(name).spec.symbol
        start, end, limit, from_start = self._window(params, 500, 1000)
        rows = [o for o in user.orders.values() if o.symbol == symbol and start <= o.time <= end]
        chosen = rows[:limit] if from_start else rows[-limit:]
        return [order_view(o) for o in chosen]

    def my_trades(self, api_key: str, params: Mapping[str, str]) -> list[dict[str, object]]:
        user = self.user(api_key)
        name = required_str(params, "symbol")
        if self._pending(name.upper()):
            return []
        pair = self._pair(name)
        order_id = optional_str(params, "orderId")
        start, end, limit, from_start = self._window(params, 100, 100)
        rows = [
            (t, o)
            for t, o in user.trades
            if o.symbol == pair.spec.symbol
            and start <= t.time <= end
            and (order_id is None or o.order_id == order_id)
        ]
        chosen = rows[:limit] if from_start else rows[-limit:]
        return [my_trade_row(t, o, pair.spec) for t, o in chosen]
