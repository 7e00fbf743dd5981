"""Placing one order: validate, persist the intent, submit, record the outcome.

The path follows principles 1-3 of the architecture:

1. validate and quantize against the symbol's rules, then the risk policy: a refused order leaves
   nothing behind (no row, no request);
2. persist the order as PENDING_NEW with its client order id and COMMIT;
3. submit; persist the outcome: NEW with the exchange id, or REJECTED with MEXC's code, or UNKNOWN
   when the outcome is unknown (timeout, 5xx, dropped connection). An UNKNOWN order is resolved at
   once by querying its client order id a few times; if the exchange still has no such order after
   the grace period it was never received and becomes REJECTED (-2013). It is never re-sent. A 429
   (refused before processing) is retried with the same client order id after Retry-After.

`place` RAISES `OrderRejectedByExchange` for an exchange refusal (the REJECTED order is stored and
carried by the error, with `code` and `msg`), so callers cannot mistake a refusal for a success.
It RETURNS an UNKNOWN order when even the resolution queries failed: reconciliation finishes the
job, and the caller should show the order as pending. The returned order of an accepted MARKET
order (or IOC/FOK) has been read back once after the ack, so it carries its execution and fills
(one extra query; resting LIMIT orders skip it, their executions arrive later by `get()`, the
stream or reconciliation).

Persisting, submitting and recording the outcome run in a task of their own, shielded from the
caller's cancellation: an API request that is cancelled mid-submit does not leave an order
half-recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from mexcbot.domain.orders import (
    NEVER_RECEIVED_CODE,
    Order,
    OrderStatus,
    OrderType,
    PlaceOrder,
    TimeInForce,
)
from mexcbot.domain.symbols import OrderRuleViolation, SymbolRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.collector import CollectorHold
from mexcbot.engine.eager import start_task
from mexcbot.engine.errors import (
    ExchangeNotReached,
    ExecutionError,
    IdempotencyConflict,
    OrderNeverReceived,
    OrderNotFound,
    OrderRejectedByExchange,
)
from mexcbot.engine.events import OrderUpdated, OrderUpdateKind
from mexcbot.engine.orders.sync import OrderSync, age_seconds
from mexcbot.engine.ports import (
    Acknowledgement,
    Exchange,
    ExchangeOrderMissing,
    ExchangeRejection,
    ExchangeThrottled,
    ExchangeUnreachable,
    OrderWriter,
    SubmitNotSent,
    SubmitOutcomeUnknown,
)
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.risk import RiskContext, RiskPolicy
from mexcbot.engine.symbols import SymbolCatalog
from mexcbot.store import ConcurrentOrderUpdate, DuplicateClientOrderId, UnitOfWork
from mexcbot.store.audit import PlacementAudit

log = logging.getLogger(__name__)

#: Pauses between the queries that resolve an UNKNOWN submit (seconds).
DEFAULT_RESOLVE_DELAYS = (0.1, 0.3, 0.6, 1.0)
#: 429 answers to a submit are retried this often, if Retry-After is at most MAX_THROTTLE_WAIT_S.
DEFAULT_THROTTLE_RETRIES = 2
MAX_THROTTLE_WAIT_S = 5.0
#: An order the exchange does not show this long after it was persisted was never received.
DEFAULT_NEVER_RECEIVED_GRACE = 2.0


class Placement:
    """Places orders for `ExecutionService`.

    `in_flight` holds the client order ids being submitted right now: reconciliation and
    refreshes leave those to their submitter. `_placing` holds, per client order id derived
    from an idempotency key, the placement under way, so a concurrent repeat of the same key
    waits for its final answer instead of reading a half-written order.
    """

    def __init__(
        self,
        exchange: Exchange,
        writer: OrderWriter,
        uow_factory: Callable[[], UnitOfWork],
        sync: OrderSync,
        events: EventBus,
        *,
        catalog: SymbolCatalog,
        prices: PriceBook,
        risk: RiskPolicy,
        clock: Callable[[], datetime],
        resolve_delays: tuple[float, ...],
        never_received_grace: float,
        throttle_retries: int,
        collector: CollectorHold | None = None,
    ) -> None:
        self._exchange = exchange
        self._writer = writer
        self._uow_factory = uow_factory
        self._sync = sync
        self._events = events
        self._catalog = catalog
        self._prices = prices
        self._risk = risk
        self._clock = clock
        self._resolve_delays = resolve_delays
        self._grace = never_received_grace
        self._throttle_retries = throttle_retries
        self._collector = collector
        self.in_flight: set[str] = set()
        self._placing: dict[str, asyncio.Future[Order]] = {}
        self._submissions: set[asyncio.Task[None]] = set()

    async def place(self, command: PlaceOrder, audit: PlacementAudit | None = None) -> Order:
        """Place one order (see the module docstring for outcomes and errors).

        With `command.idempotency_key` the client order id is derived from it: a repeat of the
        same order (after the symbol's rounding) gets the first placement's final answer, also
        while the first is still in flight; a different order under the same key raises
        `IdempotencyConflict` and sends nothing. `audit`, the placing request's audit entry,
        commits with the acknowledgement (`PlacementAudit`).
        """
        rules = await self._catalog.get(command.symbol)
        quantity, price, quote_amount = _rounded(command, rules)
        order = Order.for_command(
            command, self._clock(), quantity=quantity, price=price, quote_amount=quote_amount
        )
        keyed = command.idempotency_key is not None
        if keyed:
            running = self._placing.get(order.client_order_id)
            if running is not None:
                return await self._answer_of_running(running, order)
        # No await from the lookup above until the placement is registered: a concurrent
        # repeat of the key finds the future below. A repeat of a key placed earlier (by this
        # process or before a restart) is found by the intent's insert, which refuses a
        # duplicate client order id: no read is spent on the first use of a key (the snipe).
        try:
            self._check(order, rules)
        except Exception:
            stored = await self._stored(order.client_order_id) if keyed else None
            if stored is None:
                raise
            return _answer_of_stored(stored, order)  # the repeat of an order placed already
        outcome = self._protected(order, audit)
        if keyed:
            cid = order.client_order_id
            self._placing[cid] = outcome
            outcome.add_done_callback(lambda _: self._placing.pop(cid, None))
        return await outcome

    async def _answer_of_running(self, running: asyncio.Future[Order], order: Order) -> Order:
        """What a repeat of a key still being placed answers: the first placement's outcome
        (raised again if it failed), or `IdempotencyConflict` for a different order."""
        try:
            first = await asyncio.shield(running)
        except IdempotencyConflict as exc:
            # the running one was itself a repeat that found the key's order: judge ours
            # against that order, not against the repeat
            return _answer_of_stored(exc.order, order)
        except ExecutionError as exc:
            rejected: Order | None = getattr(exc, "order", None)
            if rejected is not None and not rejected.request.same_order_as(order.request):
                raise IdempotencyConflict(rejected) from None
            raise
        if not first.request.same_order_as(order.request):
            raise IdempotencyConflict(first)
        return first

    def _check(self, order: Order, rules: SymbolRules) -> None:
        """The symbol's rules (the price band against a recent last price when one is known),
        then the risk policy; raises before anything is stored or sent."""
        request = order.request
        banded = request.type is OrderType.LIMIT  # PERCENT_PRICE_BY_SIDE: LIMIT, IOC, FOK
        last_price = self._prices.last(request.symbol) if banded else None
        rules.validate(
            request.side,
            request.type,
            request.time_in_force,
            quantity=request.quantity,
            quote_order_qty=request.quote_amount,
            price=request.price,
            last_price=last_price,
        )
        self._risk.check(request, RiskContext(rules=rules, now=self._clock()))

    def _protected(self, order: Order, audit: PlacementAudit | None) -> asyncio.Future[Order]:
        """`_record_and_submit(order)` in a task of its own, whose outcome the caller awaits:
        cancelling the caller cancels only its wait, never the recording or the submit.

        What `asyncio.shield` does, two event-loop passes shorter: the task starts eagerly
        (mexcbot.engine.eager: the intent is written and the request sent before this returns),
        and it hands its result to the caller's future itself instead of through a done
        callback that then completes the shield's outer future (each pass costs ~13-20 us
        between the network waits of benchmarks/place_order.py; shield measured ~70 us in all,
        a plain task ~50 us). The task is kept in `_submissions` until it ends (the loop holds
        tasks only weakly).
        """
        outcome: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        task = start_task(self._settle(order, outcome, audit))
        self._submissions.add(task)
        task.add_done_callback(self._submissions.discard)
        return outcome

    async def _settle(
        self, order: Order, outcome: asyncio.Future[Order], audit: PlacementAudit | None
    ) -> None:
        try:
            result = await self._record_and_submit(order, audit)
        except asyncio.CancelledError:  # the task itself was cancelled (loop shutdown)
            outcome.cancel()
            raise
        except BaseException as exc:
            if not outcome.done():
                outcome.set_exception(exc)
            else:
                log.info("order %s: %r after its caller left", order.client_order_id, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not outcome.done():
                outcome.set_result(result)

    async def _send(self, order: Order) -> Acknowledgement:
        """Submit; a 429 (refused before processing) is retried with the same client order id
        after Retry-After, at most `throttle_retries` times and only for short waits."""
        for attempt in range(self._throttle_retries + 1):
            try:
                return await self._exchange.submit(order.request)
            except ExchangeThrottled as exc:
                wait = 1.0 if exc.retry_after is None else exc.retry_after
                if attempt == self._throttle_retries or wait > MAX_THROTTLE_WAIT_S:
                    raise
                log.info("order %s throttled; retrying in %s s", order.client_order_id, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record_and_submit(self, order: Order, audit: PlacementAudit | None) -> Order:
        """Persist the intent, send, persist the ack: the hot path.

        The `OrderWriter` makes the intent and the ack durable; with the `OrderJournal` app.py
        builds, each is one statement compiled once, in its own transaction
        (mexcbot.store.journal says why and what each costs). Measured with
        benchmarks/place_order.py: SQLite p50 9.2 -> 1.05-1.28 ms
        against a 0.71-0.88 ms bare client call (ratio 1.45-1.49); what is left above the bare
        call (~0.34-0.41 ms) is the two writes (~0.25 ms of loop time between network waits),
        validation and the Order (~0.05 ms) and the cancellation-safe task (~0.05 ms,
        `_protected`); the benchmark's docstring has the breakdown.
        No connection or lock is held while the request is in flight, so concurrent placements
        are not bounded by the engine's pool. An ack that finds the row changed (an exchange
        report was merged first:
        `ConcurrentOrderUpdate`) is merged through `OrderSync.mutate`. The slow, rare outcomes
        (rejection, unknown) always use fresh units of work. The audit entry of a user's
        placement (`audit`, the API's) commits with the acknowledgement; the order row (origin,
        origin_ref, created_at) records the intent.
        With a `CollectorHold` (app.py) the garbage collector waits until the placement is
        done (mexcbot.engine.collector says why).
        """
        if self._collector is None:
            return await self._recorded_and_sent(order, audit)
        self._collector.hold()  # no garbage collection inside the placement
        try:
            return await self._recorded_and_sent(order, audit)
        finally:
            self._collector.release()

    async def _recorded_and_sent(self, order: Order, audit: PlacementAudit | None) -> Order:
        cid = order.client_order_id
        # Marked before the row is visible, so reconciliation leaves it alone; a placement with
        # the same idempotency key already in flight keeps its mark (ours will be a duplicate).
        owned = cid not in self.in_flight
        self.in_flight.add(cid)
        try:
            try:
                version = await self._record_intent(order)
            except DuplicateClientOrderId:
                existing = await self._stored(cid)
                if existing is None:  # pragma: no cover - the insert just said it exists
                    raise
                return _answer_of_stored(existing, order)
            # its subscribers run while the request is in flight (engine/bus.py)
            self._events.publish_soon(OrderUpdated(order, OrderUpdateKind.CREATED))
            try:
                ack = await self._send(order)
            except (ExchangeRejection, SubmitNotSent, SubmitOutcomeUnknown) as exc:
                return await self._record_failure(order, exc)
            acknowledged = await self._record_ack(order, version, ack, audit)
        finally:
            if owned:
                self.in_flight.discard(cid)
        if not _executes_at_once(order):
            return acknowledged
        try:  # the ack carries no execution: one query returns the fills with the order
            return (await self._sync.refresh(acknowledged, action=None)).order
        except (ExchangeOrderMissing, ExchangeUnreachable) as exc:
            log.warning("order %s: execution not read after the ack: %s", cid, exc)
            return acknowledged

    async def _record_intent(self, order: Order) -> int:
        """Insert the PENDING_NEW row and commit; its version."""
        return await self._writer.record_intent(order)

    async def _record_failure(
        self, order: Order, failure: ExchangeRejection | SubmitNotSent | SubmitOutcomeUnknown
    ) -> Order:
        """Record a submit that was not acknowledged; raise for a definite refusal."""
        cid = order.client_order_id
        if isinstance(failure, ExchangeRejection):
            self._catalog.invalidate(order.symbol)  # the rules may have changed: reload them
            code, message = failure.code, failure.message
            outcome = await self._sync.mutate(
                cid,
                lambda o: o.reject(code, message),
                kind=OrderUpdateKind.REJECTED,
                action="order.reject",
                detail=f"exchange code {code}",
            )
            raise OrderRejectedByExchange(outcome.order)
        if isinstance(failure, SubmitNotSent):
            reason = f"not sent: {failure}"
            outcome = await self._sync.mutate(
                cid,
                lambda o: o.reject(None, reason),
                kind=OrderUpdateKind.REJECTED,
                action="order.reject",
                detail="exchange not reached",
            )
            raise ExchangeNotReached(outcome.order)
        why = failure.reason
        await self._sync.mutate(
            cid,
            lambda o: o.mark_unknown(why),
            kind=OrderUpdateKind.UNKNOWN,
            action="order.unknown",
            detail=why,
        )
        return await self._resolve_unknown(cid)

    async def _record_ack(
        self, order: Order, version: int, ack: Acknowledgement, audit: PlacementAudit | None
    ) -> Order:
        order.acknowledge(ack.exchange_order_id, ack.at)
        try:
            await self._writer.record_ack(order, version, audit)  # UPDATE .. WHERE version = 1
        except ConcurrentOrderUpdate:
            pass  # someone merged an exchange report first: merge the ack into it
        else:
            self._events.publish(OrderUpdated(order, OrderUpdateKind.ACKNOWLEDGED))
            return order
        outcome = await self._sync.mutate(
            order.client_order_id,
            lambda o: o.acknowledge(ack.exchange_order_id, ack.at),
            kind=OrderUpdateKind.ACKNOWLEDGED,
            action=None,
        )
        return outcome.order

    async def _resolve_unknown(self, client_order_id: str) -> Order:
        """Query the order a few times; never re-send it. Raises `OrderNeverReceived` when the
        exchange proved it never had it."""
        order = await self._stored_or_fail(client_order_id)
        for attempt, delay in enumerate(self._resolve_delays):
            await asyncio.sleep(delay)
            try:
                return (await self._sync.refresh(order, action="order.resolve")).order
            except ExchangeOrderMissing:
                last = attempt == len(self._resolve_delays) - 1
                if last and age_seconds(order, self._clock()) >= self._grace:
                    outcome = await self._sync.resolve_never_received(
                        client_order_id, action="order.resolve"
                    )
                    if outcome.order.reject_code == NEVER_RECEIVED_CODE:
                        raise OrderNeverReceived(outcome.order) from None
                    return outcome.order
            except ExchangeUnreachable as exc:
                log.warning("resolving %s: exchange unreachable: %s", client_order_id, exc)
        return await self._stored_or_fail(client_order_id)

    async def _stored(self, client_order_id: str) -> Order | None:
        async with self._uow_factory() as uow:
            return await uow.orders.get_by_client_id(client_order_id)

    async def _stored_or_fail(self, client_order_id: str) -> Order:
        order = await self._stored(client_order_id)
        if order is None:
            raise OrderNotFound("?", client_order_id)
        return order


def _rounded(
    command: PlaceOrder, rules: SymbolRules
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """`command`'s (quantity, price, quote amount) rounded as the exchange will take them; an
    amount that rounds to nothing is an `OrderRuleViolation`. (Not a new `PlaceOrder`: that
    would validate the command a second time, ~4 us of the ~13 us building an order takes.)"""
    quantity, price, quote_amount = command.quantity, command.price, command.quote_amount
    if quantity is not None:
        quantity = _positive(rules, "quantity", rules.quantize_quantity(quantity), quantity)
    if price is not None:
        price = _positive(rules, "price", rules.quantize_price(price, command.side), price)
    if quote_amount is not None:
        quantized = rules.quantize_price(quote_amount, rounding=ROUND_DOWN)
        quote_amount = _positive(rules, "quote_amount", quantized, quote_amount)
    return quantity, price, quote_amount


def _answer_of_stored(stored: Order, order: Order) -> Order:
    """What a repeat of the key of the stored order answers: the stored order (its failure
    raised again), or `IdempotencyConflict` when the repeat is a different order."""
    if not stored.request.same_order_as(order.request):
        raise IdempotencyConflict(stored)
    failure = _failure_of(stored)
    if failure is not None:
        raise failure
    return stored


def _failure_of(order: Order) -> ExecutionError | None:
    """The error a placement that ended in `order` raised (None if it did not fail): what a
    repeat of its idempotency key answers."""
    if order.status is not OrderStatus.REJECTED:
        return None
    if order.reject_code == NEVER_RECEIVED_CODE:
        return OrderNeverReceived(order)
    if order.reject_code is None:
        return ExchangeNotReached(order)
    return OrderRejectedByExchange(order)


def _positive(rules: SymbolRules, name: str, quantized: Decimal, given: Decimal) -> Decimal:
    if not quantized.is_finite() or quantized <= 0:
        raise OrderRuleViolation(
            rules.symbol, name, "positive_after_rounding", f"{given} rounds to {quantized}"
        )
    return quantized


def _executes_at_once(order: Order) -> bool:
    """MARKET, IOC and FOK orders are final as soon as the exchange has them."""
    return order.request.type is OrderType.MARKET or order.request.time_in_force in (
        TimeInForce.IOC,
        TimeInForce.FOK,
    )
