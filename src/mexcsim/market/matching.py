"""The matching engine of one market: price-time priority, fills, fees and settlement.

Funds are locked by the caller before an order is submitted (`Order.locked`); the engine moves them
on each fill and releases whatever is left when the order ends. Fees are charged in the asset the
trading party receives (buyer pays in base, seller in quote), rounded half-up to the symbol's
commission precision, at the maker rate for the resting order and the taker rate for the incoming
one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from mexcsim.accounts.ledger import Ledger
from mexcsim.decimals import ZERO, round_down, round_half_up
from mexcsim.market.book import BUY, Order, OrderBook
from mexcsim.market.symbols import SymbolSpec

LIMIT = "LIMIT"
MARKET = "MARKET"
LIMIT_MAKER = "LIMIT_MAKER"
IOC = "IMMEDIATE_OR_CANCEL"
FOK = "FILL_OR_KILL"


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution between a resting (maker) and an incoming (taker) order."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    taker_side: str
    maker: Order
    taker: Order
    buyer_fee: Decimal  # in base
    seller_fee: Decimal  # in quote

    @property
    def buyer(self) -> Order:
        return self.taker if self.taker_side == BUY else self.maker

    @property
    def seller(self) -> Order:
        return self.maker if self.taker_side == BUY else self.taker

    @property
    def is_self_trade(self) -> bool:
        return self.maker.owner == self.taker.owner


def _crosses(side: str, limit: Decimal | None, maker_price: Decimal) -> bool:
    if limit is None:
        return True
    return maker_price <= limit if side == BUY else maker_price >= limit


class MatchingEngine:
    """Executes orders of one symbol against its book and settles every fill in the ledger."""

    def __init__(
        self,
        spec: SymbolSpec,
        ledger: Ledger,
        next_trade_id: Callable[[], int],
        on_trade: Callable[[Trade], None],
    ) -> None:
        self.spec = spec
        self.book = OrderBook()
        self._ledger = ledger
        self._next_trade_id = next_trade_id
        self._on_trade = on_trade

    # --- read-only questions the order entry asks before locking funds ---------------------------
    def would_take(self, side: str, price: Decimal) -> bool:
        best = self.book.opposite_of(side).best_price()
        return best is not None and _crosses(side, price, best)

    def simulate(
        self, side: str, limit: Decimal | None, qty: Decimal | None, quote: Decimal | None
    ) -> tuple[Decimal, Decimal]:
        """(quantity, quote amount) an order would execute right now, without touching anything."""
        filled, spent = ZERO, ZERO
        for maker in self.book.opposite_of(side).orders_in_priority():
            assert maker.price is not None
            if not _crosses(side, limit, maker.price):
                break
            take = self._take_size(maker, qty - filled if qty is not None else None, quote, spent)
            if take <= ZERO:
                break
            filled += take
            spent += take * maker.price
        return filled, spent

    def _take_size(
        self, maker: Order, qty_left: Decimal | None, quote: Decimal | None, spent: Decimal
    ) -> Decimal:
        available = maker.remaining_qty
        assert available is not None
        assert maker.price is not None
        if qty_left is not None:
            return min(available, qty_left)
        assert quote is not None
        affordable = round_down((quote - spent) / maker.price, self.spec.base_asset_precision)
        return min(available, affordable)

    # --- execution -------------------------------------------------------------------------------
    def submit(self, order: Order, now: int) -> None:
        """Execute `order` (funds already locked) and rest, cancel or finish it per its type.

        A LIMIT_MAKER that would take is accepted and CANCELED at once, without a fill.
        """
        if order.order_type == LIMIT_MAKER:
            assert order.price is not None
            if self.would_take(order.side, order.price):
                self._finish(order, now)
                return
        if order.order_type == FOK:
            assert order.orig_qty is not None
            filled, _ = self.simulate(order.side, order.price, order.orig_qty, None)
            if filled < order.orig_qty:
                self._finish(order, now)
                return
        book_ran_dry = self._execute(order, now)
        if order.order_type in (LIMIT, LIMIT_MAKER):
            if order.remaining_qty:
                self.book.add(order)
                order.status = "PARTIALLY_FILLED" if order.executed_qty else "NEW"
            else:
                self._finish(order, now)
            return
        if order.order_type == MARKET and order.orig_qty is None and not book_ran_dry:
            order.status = "FILLED" if order.executed_qty else "CANCELED"
            self._release(order)
            return
        self._finish(order, now)

    def _execute(self, taker: Order, now: int) -> bool:
        """Take liquidity until done; True when the book ran out before the order was satisfied."""
        opposite = self.book.opposite_of(taker.side)
        limit = None if taker.order_type == MARKET else taker.price
        while True:
            remaining = taker.remaining_qty
            if remaining is not None and remaining <= ZERO:
                return False
            maker = opposite.best_order()
            if maker is None:
                return True
            assert maker.price is not None
            if not _crosses(taker.side, limit, maker.price):
                return False
            take = self._take_size(maker, remaining, taker.orig_quote_qty, taker.cum_quote)
            if take <= ZERO:
                return False
            self._fill(maker, taker, maker.price, take, now)

    def _fill(self, maker: Order, taker: Order, price: Decimal, qty: Decimal, now: int) -> None:
        spec = self.spec
        buyer, seller = (taker, maker) if taker.side == BUY else (maker, taker)
        buyer_rate = spec.taker_commission if buyer is taker else spec.maker_commission
        seller_rate = spec.taker_commission if seller is taker else spec.maker_commission
        quote = price * qty
        buyer_fee = round_half_up(qty * buyer_rate, spec.base_fee_decimals)
        seller_fee = round_half_up(quote * seller_rate, spec.quote_fee_decimals)
        self._ledger.settle(buyer.owner, spec.quote_asset, quote, seller.owner, seller_fee)
        self._ledger.settle(seller.owner, spec.base_asset, qty, buyer.owner, buyer_fee)
        buyer.locked -= quote
        seller.locked -= qty
        for order in (maker, taker):
            order.executed_qty += qty
            order.cum_quote += quote
            order.update_time = now
        if buyer.order_type != MARKET and buyer.price is not None:
            remaining = buyer.remaining_qty
            assert remaining is not None
            excess = buyer.locked - buyer.price * remaining
            if excess > ZERO:
                self._ledger.unlock(buyer.owner, spec.quote_asset, excess)
                buyer.locked -= excess
        if maker.remaining_qty == ZERO:
            self.book.remove(maker)
            maker.status = "FILLED"
            self._release(maker)
        else:
            maker.status = "PARTIALLY_FILLED"
            self.book.version += 1
        taker.status = "PARTIALLY_FILLED"
        trade = Trade(
            trade_id=self._next_trade_id(),
            symbol=spec.symbol,
            price=price,
            qty=qty,
            quote_qty=quote,
            time=now,
            taker_side=taker.side,
            maker=maker,
            taker=taker,
            buyer_fee=buyer_fee,
            seller_fee=seller_fee,
        )
        maker.fills.append(trade.trade_id)
        taker.fills.append(trade.trade_id)
        self._on_trade(trade)

    def _finish(self, order: Order, now: int) -> None:
        """End an order that will not rest: FILLED, or (PARTIALLY_)CANCELED for what is left."""
        remaining = order.remaining_qty
        if remaining is not None and remaining <= ZERO:
            order.status = "FILLED"
        else:
            order.status = "PARTIALLY_CANCELED" if order.executed_qty else "CANCELED"
        order.update_time = now
        self._release(order)

    def cancel(self, order: Order, now: int) -> None:
        """Take a resting order off the book and release its funds."""
        self.book.remove(order)
        order.status = "PARTIALLY_CANCELED" if order.executed_qty else "CANCELED"
        order.update_time = now
        self._release(order)

    def _release(self, order: Order) -> None:
        if order.locked > ZERO:
            asset = self.spec.quote_asset if order.side == BUY else self.spec.base_asset
            self._ledger.unlock(order.owner, asset, order.locked)
            order.locked = ZERO
