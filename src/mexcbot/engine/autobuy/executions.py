"""ExecutionLog: every firing of a rule, persisted BEFORE its order is sent.

`begin` is the exactly-once guard (principle 1 and 2 of the architecture): it commits a
PENDING execution unique per (rule, key) and counts it on the rule, re-checking max executions
and the cooldown in the same transaction. Two detectors, a restart while armed or two processes
sharing the database all derive the same key, and only one `begin` returns an execution; the
others get None and must send nothing. `finish` records the outcome; `pending` lists what a
crash left open (`AutoBuyer.recover` resolves those by their client order id).

Every begin and finish is published as `RuleExecuted`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from mexcbot.domain.autobuy import AutoBuyRule, ExecutionOutcome, RuleExecution
from mexcbot.domain.autobuy_triggers import RuleStats
from mexcbot.domain.orders import Order, client_order_id_for
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import RuleExecuted
from mexcbot.store import UnitOfWork
from mexcbot.store.autobuy import ExecutionPage


def order_key(rule_id: int, key: str, attempt: int = 0) -> str:
    """The idempotency key of attempt `attempt` of a rule's buy for `key`: its client order id
    is `client_order_id_for(order_key(...))`. Attempt 0 is `autobuy:{rule_id}:{key}`; a retry
    (after a 10007 refusal) is a new order, `autobuy:{rule_id}:{key}:{attempt}`."""
    base = f"autobuy:{rule_id}:{key}"
    return base if attempt == 0 else f"{base}:{attempt}"


#: `ExecutionLog.list` shadows the builtin inside the class body.
_Executions = list[RuleExecution]


class ExecutionLog:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        events: EventBus,
        clock: Callable[[], datetime],
        *,
        on_stats: Callable[[int, RuleStats], None] | None = None,
    ) -> None:
        """`on_stats` hears the rule's counters after each change (`AutoBuyRules.note_stats`)."""
        self._uow_factory = uow_factory
        self._events = events
        self._clock = clock
        self._on_stats = on_stats

    async def begin(
        self,
        rule: AutoBuyRule,
        symbol: str,
        key: str,
        reason: str,
        listing_id: int | None = None,
        *,
        client_order_id: str | None = None,
    ) -> RuleExecution | None:
        """Commit a PENDING execution of `rule` for `key`; None when the rule already fired
        for that key, or a guard (disabled, max executions, cooldown) stops it now. Send the
        order only after this returned an execution. It records the client order id of
        attempt 0 (`order_key`) unless told another."""
        assert rule.id is not None
        client_order_id = client_order_id or client_order_id_for(order_key(rule.id, key))
        execution = RuleExecution(
            rule_id=rule.id,
            symbol=symbol,
            trigger_type=rule.trigger.type,
            key=key,
            reason=reason,
            outcome=ExecutionOutcome.PENDING,
            created_at=self._clock(),
            listing_id=listing_id,
            client_order_id=client_order_id,
        )
        async with self._uow_factory() as uow:
            begun = await uow.autobuy_executions.begin(execution, rule)
            if begun is None:
                return None  # leaving without a commit rolls the insert back
            stats = await self._stats(uow, rule.id)
            await uow.commit()
        self._note(rule.id, stats)
        self._events.publish(RuleExecuted(begun))
        return begun

    async def skip(
        self,
        rule: AutoBuyRule,
        symbol: str,
        key: str,
        reason: str,
        detail: str,
        listing_id: int | None = None,
    ) -> RuleExecution | None:
        """Record that a guard stopped the rule for `key` (SKIPPED, final; the counters do not
        move); None when the rule already has an execution for that key."""
        assert rule.id is not None
        now = self._clock()
        execution = RuleExecution(
            rule_id=rule.id,
            symbol=symbol,
            trigger_type=rule.trigger.type,
            key=key,
            reason=reason,
            outcome=ExecutionOutcome.SKIPPED,
            created_at=now,
            finished_at=now,
            listing_id=listing_id,
            detail=detail,
        )
        async with self._uow_factory() as uow:
            recorded = await uow.autobuy_executions.record(execution)
            if recorded is None:
                return None
            await uow.commit()
        self._events.publish(RuleExecuted(recorded))
        return recorded

    async def finish(
        self,
        execution_id: int,
        outcome: ExecutionOutcome,
        *,
        client_order_id: str | None = None,
        position_id: int | None = None,
        quantity: Decimal | None = None,
        quote_spent: Decimal | None = None,
        average_price: Decimal | None = None,
        detail: str | None = None,
    ) -> RuleExecution:
        """Record how a begun execution ended (idempotent: a finished one stays as it was)."""
        if outcome is ExecutionOutcome.PENDING:
            raise ValueError("finish needs a final outcome, not PENDING")
        async with self._uow_factory() as uow:
            current = await uow.autobuy_executions.get(execution_id)
            if current is None:
                raise LookupError(f"no auto-buy execution {execution_id}")
            if current.outcome is not ExecutionOutcome.PENDING:
                return current
            finished = replace(
                current,
                outcome=outcome,
                client_order_id=client_order_id or current.client_order_id,
                position_id=position_id,
                quantity=quantity,
                quote_spent=quote_spent,
                average_price=average_price,
                detail=detail,
                finished_at=self._clock(),
            )
            await uow.autobuy_executions.finish(finished)
            stats = await self._stats(uow, finished.rule_id)
            await uow.commit()
        self._note(finished.rule_id, stats)
        self._events.publish(RuleExecuted(finished))
        return finished

    async def get(self, execution_id: int) -> RuleExecution | None:
        async with self._uow_factory() as uow:
            return await uow.autobuy_executions.get(execution_id)

    async def get_by_key(self, rule_id: int, key: str) -> RuleExecution | None:
        async with self._uow_factory() as uow:
            return await uow.autobuy_executions.get_by_key(rule_id, key)

    async def list(
        self,
        *,
        rule_id: int | None = None,
        symbol: str | None = None,
        outcome: ExecutionOutcome | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> ExecutionPage:
        async with self._uow_factory() as uow:
            return await uow.autobuy_executions.list(
                rule_id=rule_id, symbol=symbol, outcome=outcome, limit=limit, offset=offset
            )

    async def order(self, client_order_id: str) -> Order | None:
        """The stored order of an execution (recovery reads its outcome from it)."""
        async with self._uow_factory() as uow:
            return await uow.orders.get_by_client_id(client_order_id)

    async def pending(self) -> _Executions:
        """Executions begun and never finished (a crash, or an order still unresolved)."""
        async with self._uow_factory() as uow:
            return await uow.autobuy_executions.pending()

    async def _stats(self, uow: UnitOfWork, rule_id: int) -> RuleStats | None:
        stored = await uow.autobuy_rules.get(rule_id)
        return stored.stats if stored is not None else None

    def _note(self, rule_id: int, stats: RuleStats | None) -> None:
        if stats is not None and self._on_stats is not None:
            self._on_stats(rule_id, stats)
