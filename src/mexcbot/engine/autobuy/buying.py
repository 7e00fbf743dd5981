"""AutoBuyer: one firing of a rule, from its guards to the position it opens.

`buy` is the whole path; the sniper calls its halves itself to fire at the open:

1. `prepare(rule, symbol, reference_price)` (ahead of time): the guards that need no order
   (max price against the reference, min 24 h volume for price rules, the risk limits when
   `rule.risk_check`) and the order: a LIMIT IOC at `rule.limit_price(reference)` rounded DOWN
   to the tick, for `buy_amount_quote / price` rounded DOWN to the step; or a MARKET buy of
   `buy_amount_quote`. Answers a frozen `PreparedBuy` or a `Skip` with the reason.
2. `ExecutionLog.begin(...)`: the intent, committed; None means "already fired: send nothing".
3. `execute(prepared, execution, attempt)`: places the buy through `PositionService.open_with`,
   so the bought quantity opens a position with the rule's exits at once. The order's
   idempotency key is `autobuy:{rule_id}:{key}` (`:{attempt}` appended for attempt > 0, so a
   10007-refused attempt can be retried as a new order). Answers a `BuyOutcome`; an IOC that
   filled nothing leaves no position behind.
4. `finish(execution, outcome)`: the execution's final record.

The engine's risk policy always checks the order at placement too (HALTED refuses everything);
`rule.risk_check` adds the check before the execution is begun, so a refusal is a SKIPPED
execution instead of a refused order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from mexcbot.domain.autobuy import (
    AutoBuyRule,
    BuyOrderType,
    ExecutionOutcome,
    RuleExecution,
    TriggerType,
)
from mexcbot.domain.autobuy_triggers import guard_reason
from mexcbot.domain.orders import (
    Order,
    OrderOrigin,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    TimeInForce,
    client_order_id_for,
)
from mexcbot.domain.positions import Position, PositionType
from mexcbot.domain.symbols import OrderRuleViolation, SymbolRules
from mexcbot.engine.autobuy.executions import ExecutionLog, order_key
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.errors import (
    ExecutionError,
    InvalidOrder,
    OrderRejectedByExchange,
    RiskRejected,
    UnknownSymbol,
)
from mexcbot.engine.market import MarketData
from mexcbot.engine.ports import ExchangePortError
from mexcbot.engine.positions.book import position_id_of
from mexcbot.engine.positions.trading import PositionService
from mexcbot.engine.risk import RiskContext, RiskPolicy
from mexcbot.engine.symbols import SymbolCatalog

log = logging.getLogger(__name__)

#: Recovery looks for this many attempts of one execution: a snipe must retry fewer times.
MAX_RECOVERED_ATTEMPTS = 50
_PROBE_ID = "autobuy-probe"  # the client order id of the request the risk pre-check sees


@dataclass(frozen=True, slots=True)
class PreparedBuy:
    """A rule's buy, ready to send: `command` without its idempotency key (see `command_for`)."""

    rule: AutoBuyRule
    symbol: str
    command: PlaceOrder
    reference_price: Decimal | None
    limit_price: Decimal | None
    """The IOC's price after rounding (None for MARKET)."""
    quantity: Decimal | None
    """The IOC's quantity after rounding (None for MARKET, which buys by quote amount)."""
    quote_amount: Decimal
    cancel_rest: bool = False
    """The command is a LIMIT standing in for an IOC (the symbol's orderTypes lack
    IMMEDIATE_OR_CANCEL, as new listings' often do: 30041): cancel its rest at once."""

    def command_for(self, execution: RuleExecution, attempt: int = 0) -> PlaceOrder:
        return replace(
            self.command, idempotency_key=order_key(execution.rule_id, execution.key, attempt)
        )


@dataclass(frozen=True, slots=True)
class Skip:
    """A guard stopped the buy; `reason` says which and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class BuyOutcome:
    """What one attempt's order did. `code` is the exchange's error code of a REJECTED
    attempt (10007: the symbol is not tradable through the API yet)."""

    outcome: ExecutionOutcome
    client_order_id: str | None
    order: Order | None = None
    position: Position | None = None
    detail: str | None = None
    code: int | None = None


class AutoBuyer:
    def __init__(
        self,
        rules: AutoBuyRules,
        log_: ExecutionLog,
        positions: PositionService,
        catalog: SymbolCatalog,
        market: MarketData,
        risk: RiskPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._rules = rules
        self.executions = log_
        self._positions = positions
        self._catalog = catalog
        self._market = market
        self._risk = risk
        self._clock = clock

    async def buy(
        self,
        rule: AutoBuyRule,
        symbol: str,
        *,
        key: str,
        reason: str,
        reference_price: Decimal | None,
        listing_id: int | None = None,
        position_type: PositionType = PositionType.AUTOMATIC,
    ) -> RuleExecution:
        """Guards, intent, order, outcome (the module docstring). A guard that stops the buy
        records a SKIPPED execution; a key the rule already fired for answers that earlier
        execution and sends nothing."""
        assert rule.id is not None
        stopped = guard_reason(rule, self._rules.stats(rule.id), self._clock())
        prepared = (
            Skip(stopped)
            if stopped is not None
            else await self.prepare(rule, symbol, reference_price)
        )
        if isinstance(prepared, Skip):
            return await self._skip(rule, symbol, key, reason, prepared.reason, listing_id)
        execution = await self.executions.begin(rule, symbol, key, reason, listing_id)
        if execution is None:
            why = "max_executions or cooldown: another firing counted first"
            return await self._skip(rule, symbol, key, reason, why, listing_id)
        outcome = await self.execute(prepared, execution, position_type=position_type)
        if outcome.outcome is ExecutionOutcome.PENDING:
            log.warning("auto-buy %s: order %s unresolved", execution.key, outcome.client_order_id)
            return execution  # reconciliation resolves the order; `recover` finishes this
        return await self.finish(execution, outcome)

    async def prepare(
        self,
        rule: AutoBuyRule,
        symbol: str,
        reference_price: Decimal | None,
        *,
        symbol_rules: SymbolRules | None = None,
    ) -> PreparedBuy | Skip:
        """The buy `rule` would send on `symbol` now, or why it would not. `symbol_rules`
        lets a sniper pass rules it holds already (before the symbol is in exchangeInfo)."""
        cap = rule.max_buy_price
        if reference_price is not None and cap is not None and reference_price > cap:
            return Skip(f"max_buy_price: the price {reference_price} is above {cap}")
        try:
            rules = symbol_rules or await self._catalog.get(symbol)
        except UnknownSymbol:
            return Skip(f"symbol: the exchange lists no symbol {symbol}")
        if rule.min_volume_24h is not None and rule.trigger.type is not TriggerType.NEW_LISTING:
            volume = await self._volume_24h(symbol)
            if volume is None or volume < rule.min_volume_24h:
                return Skip(
                    f"min_volume_24h: the 24 h volume {volume} {rules.quote_asset} is below "
                    f"{rule.min_volume_24h}"
                )
        prepared = self._order(rule, symbol, rules, reference_price)
        if isinstance(prepared, Skip) or not rule.risk_check:
            return prepared
        try:
            self._risk.check(
                _probe(prepared.command), RiskContext(rules, self._clock(), dry_run=True)
            )
        except RiskRejected as exc:
            return Skip(str(exc))
        return prepared

    async def execute(
        self,
        prepared: PreparedBuy,
        execution: RuleExecution,
        attempt: int = 0,
        *,
        position_type: PositionType = PositionType.AUTOMATIC,
    ) -> BuyOutcome:
        """Send attempt `attempt` of the begun `execution`: open the position with the buy.
        Never raises for an order outcome; a REJECTED outcome carries the exchange's code."""
        command = prepared.command_for(execution, attempt)
        cid = client_order_id_for(command.idempotency_key or "")
        rule = prepared.rule
        notes = f"auto-buy rule {rule.id} ({rule.name}): {execution.reason}"
        try:
            position, order = await self._positions.open_with(
                command,
                type=position_type,
                exits=rule.exits,
                notes=notes,
                cancel_rest=prepared.cancel_rest,
            )
        except OrderRejectedByExchange as exc:
            return BuyOutcome(
                ExecutionOutcome.REJECTED, cid, exc.order, detail=exc.msg, code=exc.code
            )
        except RiskRejected as exc:
            return BuyOutcome(ExecutionOutcome.SKIPPED, cid, detail=str(exc))
        except (ExecutionError, InvalidOrder, OrderRuleViolation, ExchangePortError) as exc:
            return BuyOutcome(ExecutionOutcome.FAILED, cid, detail=str(exc))
        return await self._outcome(order, position)

    async def finish(self, execution: RuleExecution, outcome: BuyOutcome) -> RuleExecution:
        assert execution.id is not None
        order, position = outcome.order, outcome.position
        position_id = position.id if position is not None else None
        if position_id is None and order is not None:
            position_id = position_id_of(order)  # recovery: the position the order was for
        bought = order is not None and order.executed_qty > 0
        return await self.executions.finish(
            execution.id,
            outcome.outcome,
            client_order_id=outcome.client_order_id,
            position_id=position_id if bought else None,
            quantity=order.executed_qty if order is not None else None,
            quote_spent=order.cumulative_quote_qty if order is not None else None,
            average_price=order.avg_price if order is not None else None,
            detail=outcome.detail,
        )

    async def recover(self, *, listings: bool = False) -> list[RuleExecution]:
        """Finish the executions a crash left PENDING, from their stored orders (every
        attempt's client order id is derived, `order_key`): a final order gives the outcome,
        no order at all means nothing was sent (FAILED); an order still open is left to
        reconciliation (run this after it). Startup calls it.

        NEW_LISTING executions are left alone unless `listings`: a snipe armed before a
        restart is still to fire, and the sniper resumes its PENDING execution (found by
        `ExecutionLog.get_by_key`) with its next attempt instead."""
        finished = []
        for execution in await self.executions.pending():
            if execution.trigger_type is TriggerType.NEW_LISTING and not listings:
                continue
            done = await self.recover_one(execution)
            if done is not None:
                finished.append(done)
        return finished

    async def recover_one(self, execution: RuleExecution) -> RuleExecution | None:
        """Finish one PENDING execution from its stored orders (see `recover`); None when its
        last order is still open (reconciliation decides)."""
        order = await self.latest_attempt(execution)
        if order is None:
            outcome = BuyOutcome(
                ExecutionOutcome.FAILED,
                execution.client_order_id,
                detail="the bot stopped before the order was sent",
            )
        elif order.is_terminal:
            outcome = _order_outcome(order, None)
        else:
            return None
        return await self.finish(execution, outcome)

    async def latest_attempt(self, execution: RuleExecution) -> Order | None:
        """The stored order of the execution's last attempt (attempts are sent one after the
        other; one refused before it was stored leaves a gap, so every attempt is looked up)."""
        latest = None
        for attempt in range(MAX_RECOVERED_ATTEMPTS):
            cid = client_order_id_for(order_key(execution.rule_id, execution.key, attempt))
            order = await self.executions.order(cid)
            if order is not None:
                latest = order
        return latest

    # --- helpers -----------------------------------------------------------------------------

    def _order(
        self,
        rule: AutoBuyRule,
        symbol: str,
        rules: SymbolRules,
        reference: Decimal | None,
    ) -> PreparedBuy | Skip:
        amount = rule.buy_amount_quote
        if rule.order_type is BuyOrderType.MARKET:
            command = PlaceOrder(
                symbol=symbol,
                side=OrderSide.BUY,
                type=OrderType.MARKET,
                quote_amount=amount,
                origin=OrderOrigin.RULE,
            )
            return PreparedBuy(rule, symbol, command, reference, None, None, amount)
        limit = rule.limit_price(reference)
        if limit is None:
            return Skip("max_buy_price: no reference price and no max_buy_price to price the IOC")
        price = rules.quantize_price(limit, rounding=ROUND_DOWN)
        if price <= 0:
            return Skip(f"price: {limit} rounds to nothing at the tick {rules.price_step}")
        quantity = rules.quantize_quantity(amount / price)
        # Before its open a new listing is not tradable yet: prepared ahead, its buy is checked
        # against the rules it will trade under (the placement checks the fresh ones).
        at_open = rules.as_open()
        emulated = TimeInForce.IOC not in rules.immediate_types
        time_in_force = TimeInForce.GTC if emulated else TimeInForce.IOC
        try:
            at_open.validate(
                OrderSide.BUY,
                OrderType.LIMIT,
                time_in_force,
                quantity=quantity,
                quote_order_qty=None,
                price=price,
                last_price=None,
            )
            command = PlaceOrder(
                symbol=symbol,
                side=OrderSide.BUY,
                type=OrderType.LIMIT,
                time_in_force=time_in_force,
                quantity=quantity,
                price=price,
                origin=OrderOrigin.RULE,
            )
        except (OrderRuleViolation, InvalidOrder) as exc:
            return Skip(f"buy_amount_quote: {amount} buys {quantity} at {price}: {exc}")
        return PreparedBuy(
            rule, symbol, command, reference, price, quantity, amount, cancel_rest=emulated
        )

    async def _volume_24h(self, symbol: str) -> Decimal | None:
        try:
            return (await self._market.ticker(symbol)).value.quote_volume
        except (ExecutionError, InvalidOrder, ExchangePortError) as exc:
            log.warning("24 h volume of %s not read: %s", symbol, exc)
            return None

    async def _outcome(self, order: Order, position: Position) -> BuyOutcome:
        outcome = _order_outcome(order, position)
        if outcome.outcome is ExecutionOutcome.NOT_FILLED:
            await self._positions.discard_if_empty(position)
            return replace(outcome, position=None)
        return outcome

    async def _skip(
        self,
        rule: AutoBuyRule,
        symbol: str,
        key: str,
        reason: str,
        why: str,
        listing_id: int | None,
    ) -> RuleExecution:
        """Record the SKIPPED execution; the execution already holding `key` when there is
        one (the rule fired for it before: nothing more happens)."""
        assert rule.id is not None
        skipped = await self.executions.skip(rule, symbol, key, reason, why, listing_id)
        if skipped is not None:
            return skipped
        found = await self.executions.get_by_key(rule.id, key)
        assert found is not None  # the key is taken, so its execution exists
        return found


def _order_outcome(order: Order, position: Position | None) -> BuyOutcome:
    cid = order.client_order_id
    if order.status is OrderStatus.REJECTED:
        return BuyOutcome(
            ExecutionOutcome.REJECTED,
            cid,
            order,
            position,
            order.reject_message,
            order.reject_code,
        )
    if not order.is_terminal:
        if order.executed_qty > 0:
            return BuyOutcome(ExecutionOutcome.PARTIALLY_FILLED, cid, order, position)
        return BuyOutcome(ExecutionOutcome.PENDING, cid, order, position, "order unresolved")
    if order.executed_qty <= 0:
        detail = f"the order ended {order.status} with nothing bought"
        return BuyOutcome(ExecutionOutcome.NOT_FILLED, cid, order, position, detail)
    if order.status is OrderStatus.FILLED:
        return BuyOutcome(ExecutionOutcome.FILLED, cid, order, position)
    return BuyOutcome(ExecutionOutcome.PARTIALLY_FILLED, cid, order, position)


def _probe(command: PlaceOrder) -> OrderRequest:
    return OrderRequest(
        symbol=command.symbol,
        side=command.side,
        type=command.type,
        time_in_force=command.time_in_force,
        quantity=command.quantity,
        quote_amount=command.quote_amount,
        price=command.price,
        client_order_id=_PROBE_ID,
        origin=command.origin,
        origin_ref=None,
    )
