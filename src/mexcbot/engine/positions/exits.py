"""ExitMonitor: stop-loss, trailing and take-profit exits emulated on prices, each sold once.

MEXC spot has no stop orders over the API, so every exit is a local decision: a price arrives
(`PriceChanged` from the market stream, or the periodic REST refresh so exits work without a
stream), the pure rule (`mexcbot.domain.positions.decide`) decides, and the exit is placed
through the one placement path with a client order id derived from (position, trigger, level).
The position records that order as in flight BEFORE it is sent, so a repeated tick, a restart
or a second process derives the same id and the exchange never sells twice; nothing more is
decided for the position until that order is final and its fills are in.

If the exchange refuses market orders for the symbol (30051 and relatives), the exit is sent as
a LIMIT IOC at the bid less the plan's max slippage. Risk limits never block an exit; only the
HALTED trading state (an admin's "send nothing") holds exits back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from mexcbot.domain.exit_decisions import close_decision, decide
from mexcbot.domain.exits import ExitDecision, TriggerPrice
from mexcbot.domain.orders import (
    TERMINAL_STATUSES,
    Order,
    OrderOrigin,
    OrderSide,
    OrderType,
    PlaceOrder,
    TimeInForce,
    client_order_id_for,
)
from mexcbot.domain.positions import Position
from mexcbot.domain.risk import TradingState
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import (
    ExecutionError,
    InvalidOrder,
    OrderRejectedByExchange,
    PositionNotFound,
)
from mexcbot.engine.events import FillRecorded, OrderUpdated, PositionChangeKind, PriceChanged
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.book import (
    PositionBook,
    position_id_of,
    position_ref,
)
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.store import ConcurrentPositionUpdate

log = logging.getLogger(__name__)

#: MEXC's "this order type is not allowed here" codes: 30051 "api market order is disabled" (in
#: real traffic), 30019 (the same in the docs' table), 30041 (the symbol lacks the type).
MARKET_REFUSED_CODES = frozenset({30019, 30041, 30051})
_HUNDRED = Decimal(100)
#: A symbol whose stream price is older than this is evaluated on REST last prices by the timer
#: (`Quote.source` says which served).
STREAM_STALE_AFTER_S = 10.0
#: On prices the daily-loss switch is checked at most this often: the check sums every open
#: position (~0.3 ms for 1,000), too much for every tick. A fill is checked at once, and an
#: entry is refused by the policy itself as soon as the loss is over the limit.
DAILY_LOSS_CHECK_S = 0.5


@dataclass(frozen=True, slots=True)
class Quote:
    """The prices an exit can trigger on, and where they came from ("stream" or "rest")."""

    last: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    source: str

    def trigger(self, kind: TriggerPrice) -> Decimal | None:
        if kind is TriggerPrice.LAST:
            return self.last
        if kind is TriggerPrice.MID:
            if self.bid is None or self.ask is None:
                return self.last
            return (self.bid + self.ask) / 2
        return self.bid if self.bid is not None else self.last


class ExitMonitor:
    """Feeds prices and order events to the positions, one at a time (`run`)."""

    def __init__(
        self,
        book: PositionBook,
        execution: ExecutionService,
        *,
        events: EventBus,
        prices: PriceBook,
        catalog: SymbolCatalog,
        risk: RiskLimitsPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._book = book
        self._execution = execution
        self._prices = prices
        self._catalog = catalog
        self._risk = risk
        self._clock = clock
        # prices are coalesced per symbol: a backlog evaluates the newest price, never a stale one
        self._queue: asyncio.Queue[str | Order] = asyncio.Queue()
        self._latest: dict[str, tuple[PriceChanged, str]] = {}
        self._stream_at: dict[str, float] = {}
        self.quotes: dict[str, Quote] = {}
        self.exits_placed = 0
        self._loss_checked_at: float | None = None  # monotonic seconds; None: never
        events.subscribe(PriceChanged, self._on_price)
        events.subscribe(FillRecorded, self._on_fill)
        events.subscribe(OrderUpdated, self._on_order)

    def _on_price(self, event: PriceChanged, source: str = "stream") -> None:
        if event.symbol not in self._latest:
            self._queue.put_nowait(event.symbol)
        self._latest[event.symbol] = (event, source)
        if source == "stream":
            self._stream_at[event.symbol] = time.monotonic()

    def _on_fill(self, event: FillRecorded) -> None:
        if position_id_of(event.order) is not None:
            self._queue.put_nowait(event.order)

    def _on_order(self, event: OrderUpdated) -> None:
        # the status first: the placement path's CREATED and ACKNOWLEDGED are never final
        order = event.order
        if order.status in TERMINAL_STATUSES and position_id_of(order) is not None:
            self._queue.put_nowait(order)

    # --- lifecycle ---------------------------------------------------------------------------

    async def rearm(self) -> None:
        """Startup: load the open positions and resolve every exit that was in flight by its
        client order id (query, never re-send), so exits resume exactly where they were.

        Before that, the stored fills of every order placed for an open position are applied
        to it (idempotently): a crash between storing an entry's fill and applying it to the
        position left a position holding nothing while its coins sat on the account, with no
        stop armed. Orders that executed nothing are left alone (a snipe's refused attempts
        are the sniper's to resume)."""
        positions = await self._book.load()
        await self._book.apply_stored_fills(positions)
        for position in self._book.open_positions():
            if position.exit_order_id is None:
                continue
            try:
                order = await self._execution.get(position.symbol, position.exit_order_id)
            except ExecutionError as exc:
                log.warning("position %s: exit %s: %s", position.id, position.exit_order_id, exc)
                continue
            await self._book.sync_order(order)

    async def run(self) -> None:
        """Process prices and order events in arrival order until cancelled."""
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, str):
                    price, source = self._latest.pop(item)
                    quote = Quote(price.last, price.bid, price.ask, source)
                    self.quotes[item] = quote
                    await self.evaluate(item, quote)
                    checked, now = self._loss_checked_at, time.monotonic()
                    if checked is None or now - checked >= DAILY_LOSS_CHECK_S:
                        self._loss_checked_at = now
                        await self._risk.check_daily_loss()
                else:
                    await self._book.sync_order(item)
                    await self._risk.check_daily_loss()
            except Exception:
                log.exception("exit monitor failed on %r", item)

    async def run_timer(self, interval: float) -> None:
        """Every `interval` s refresh last prices over REST and evaluate the open positions of
        every symbol without a fresh stream price: exits fire without the market stream (and
        after it went stale). It also writes the excursions (MFE / MAE) that changed since
        they were last written, so a restart loses at most one interval of them."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.evaluate_all()
                    await self._book.flush_excursions()
                except Exception:
                    log.exception("periodic exit evaluation failed")
        except asyncio.CancelledError:
            try:  # a clean stop keeps the excursions seen since the last interval
                await self._book.flush_excursions()
            except Exception:
                log.exception("excursions not written at shutdown")
            raise

    async def evaluate_all(self) -> None:
        symbols = self._book.symbols()
        if not symbols:
            return
        await self._prices.refresh()
        for symbol in symbols:
            last = self._prices.last(symbol)
            seen = self._stream_at.get(symbol)
            fresh = seen is not None and time.monotonic() - seen < STREAM_STALE_AFTER_S
            if last is not None and not fresh and symbol not in self._latest:
                self._on_price(PriceChanged(symbol, last, last, last, self._clock()), "rest")

    # --- deciding and selling ----------------------------------------------------------------

    async def evaluate(self, symbol: str, quote: Quote) -> list[Order]:
        """Show `quote` to every open position on `symbol`; place the exits it triggers."""
        if self._risk.state is TradingState.HALTED:
            return []
        if self._book.screen.is_quiet_quote(symbol, quote.trigger):
            return []
        rules = self._catalog.cached(symbol) or await self._catalog.get(symbol)
        to_place: list[tuple[Position, ExitDecision]] = []
        async with self._book.lock:
            self._book.settle(symbol)
            for position in list(self._book.on_symbol(symbol)):
                price = quote.trigger(position.exits.trigger_price)
                if price is None:
                    continue
                breaches = position.stop_breaches
                moved = position.observe(price)
                if position.stop_breaches != breaches:
                    self._book.screen.invalidate(symbol)  # a stop awaiting confirmation
                decision = decide(position, price, rules)
                if decision is not None:
                    assert position.id is not None
                    key = decision.idempotency_key(position.id)
                    position.begin_exit(decision, client_order_id_for(key))
                    to_place.append((position, decision))
                if decision is not None or moved:
                    kind = (
                        PositionChangeKind.EXIT_PLACED
                        if decision
                        else (PositionChangeKind.EXITS_CHANGED)
                    )
                    try:
                        await self._book.persist(position, kind)
                    except ConcurrentPositionUpdate:
                        to_place = [(p, d) for p, d in to_place if p is not position]
        placed = []
        for position, decision in to_place:
            order = await self.sell(position, decision, bid=quote.bid or quote.last)
            if order is not None:
                placed.append(order)
        return placed

    async def close(self, position_id: int) -> Order | None:
        """Sell what is left now at market (PUT /positions/{id}/close)."""
        position = self._book.cached(position_id)
        if position is None:
            raise PositionNotFound(position_id)
        rules = await self._catalog.get(position.symbol)
        quote = self.quotes.get(position.symbol)
        price = quote.trigger(TriggerPrice.BID) if quote else None
        if price is None:
            await self._prices.refresh()
            price = self._prices.last(position.symbol)
        if price is None:
            raise InvalidOrder(f"symbol {position.symbol} has no price to close at", field="id")
        async with self._book.lock:
            decision = close_decision(position, price, rules)
            assert position.id is not None
            key = decision.idempotency_key(position.id)
            position.begin_exit(decision, client_order_id_for(key))
            await self._book.persist(position, PositionChangeKind.EXIT_PLACED)
        return await self.sell(position, decision, bid=price)

    async def sell(
        self, position: Position, decision: ExitDecision, *, bid: Decimal | None
    ) -> Order | None:
        """Place the exit; on a market refusal retry once as LIMIT IOC under the bid. Any
        other failure ends the exit attempt (counted; `MAX_EXIT_FAILURES` marks it failed)."""
        position_id = position.id
        assert position_id is not None
        key = decision.idempotency_key(position_id)
        command = PlaceOrder(
            symbol=position.symbol,
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            quantity=decision.quantity,
            origin=OrderOrigin.POSITION_EXIT,
            origin_ref=position_ref(position_id),
            idempotency_key=key,
        )
        order = await self._place(position, command)
        if isinstance(order, OrderRejectedByExchange):
            if order.code not in MARKET_REFUSED_CODES or bid is None:
                await self._book.sync_order(order.order)
                return None
            rules = await self._catalog.get(position.symbol)
            slippage = position.exits.max_slippage_percent
            price = rules.quantize_price(bid * (1 - slippage / _HUNDRED), rounding=ROUND_DOWN)
            ioc_key = f"{key}:ioc"
            async with self._book.lock:
                position.replace_exit_order(client_order_id_for(ioc_key))
                await self._book.persist(position, PositionChangeKind.EXIT_PLACED)
            log.warning("position %s: market sell refused; LIMIT IOC at %s", position_id, price)
            ioc = PlaceOrder(
                symbol=position.symbol,
                side=OrderSide.SELL,
                type=OrderType.LIMIT,
                time_in_force=TimeInForce.IOC,
                quantity=decision.quantity,
                price=price,
                origin=OrderOrigin.POSITION_EXIT,
                origin_ref=position_ref(position_id),
                idempotency_key=ioc_key,
            )
            order = await self._place(position, ioc)
            if isinstance(order, OrderRejectedByExchange):
                await self._book.sync_order(order.order)
                return None
        if order is not None:
            self.exits_placed += 1
            await self._book.sync_order(order)
        return order

    async def _place(
        self, position: Position, command: PlaceOrder
    ) -> Order | OrderRejectedByExchange | None:
        """Place; an exchange refusal is returned (the caller may fall back), any other
        failure ends the exit attempt here."""
        cid = position.exit_order_id
        try:
            return await self._execution.place(command)
        except OrderRejectedByExchange as exc:
            return exc
        except (ExecutionError, InvalidOrder) as exc:
            log.error("position %s: exit %s not placed: %s", position.id, command, exc)
            failed = getattr(exc, "order", None)
            if isinstance(failed, Order):
                await self._book.sync_order(failed)
            elif cid is not None:
                await self._book.abort_exit(position, cid, str(exc))
            return None
