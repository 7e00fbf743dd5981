"""Auto-buy rules and their executions in the database (`uow.autobuy_rules`,
`uow.autobuy_executions`).

A rule row holds every field of `AutoBuyRule` (the exits as the positions' JSON document) and
the guards' inputs (`RuleStats`: executions that count, the last firing). An execution row is
unique per (rule, key): `AutoBuyExecutionRepository.begin` inserts it and moves the rule's
counters in the same transaction, under a conditional UPDATE that re-checks max executions and
the cooldown, so two detectors, a restart or two processes sharing the database can never fire
one rule twice for one cause, nor past its limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.domain.autobuy import (
    AutoBuyRule,
    BuyOrderType,
    ExecutionOutcome,
    RuleExecution,
    Trigger,
    TriggerType,
)
from mexcbot.domain.autobuy_triggers import RuleStats
from mexcbot.store import tables
from mexcbot.store.positions import exits_from_json, exits_to_json
from mexcbot.store.upsert import insert_if_new

MAX_PAGE_SIZE = 500

#: The repositories' `list` shadows the builtin inside their class bodies.
_Rules = list["StoredRule"]
_Executions = list[RuleExecution]
#: Outcomes that bought nothing: they release the execution they reserved.
RELEASING_OUTCOMES = frozenset(
    {ExecutionOutcome.NOT_FILLED, ExecutionOutcome.REJECTED, ExecutionOutcome.FAILED}
)


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule: AutoBuyRule
    stats: RuleStats


@dataclass(frozen=True, slots=True)
class RulePage:
    rules: list[StoredRule]
    total: int


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    executions: list[RuleExecution]
    total: int


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _rule_columns(rule: AutoBuyRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "symbol": rule.symbol,
        "quote_asset": rule.quote_asset,
        "name_filter": rule.name_filter,
        "trigger_type": rule.trigger.type.value,
        "trigger_value": rule.trigger.value,
        "window_seconds": _seconds(rule.trigger.window),
        "buy_amount_quote": rule.buy_amount_quote,
        "max_buy_price": rule.max_buy_price,
        "max_slippage_percent": rule.max_slippage_percent,
        "min_volume_24h": rule.min_volume_24h,
        "allow_pre_trading": rule.allow_pre_trading,
        "cooldown_seconds": _seconds(rule.cooldown),
        "max_executions": rule.max_executions,
        "order_type": rule.order_type.value,
        "risk_check": rule.risk_check,
        "exits": exits_to_json(rule.exits) if rule.exits is not None else None,
    }


def _rule_from_row(row: RowMapping) -> StoredRule:
    window = row["window_seconds"]
    rule = AutoBuyRule(
        id=row["id"],
        name=row["name"],
        enabled=row["enabled"],
        symbol=row["symbol"],
        quote_asset=row["quote_asset"],
        name_filter=row["name_filter"],
        trigger=Trigger(
            TriggerType(row["trigger_type"]),
            row["trigger_value"],
            timedelta(seconds=window) if window is not None else None,
        ),
        buy_amount_quote=row["buy_amount_quote"],
        max_buy_price=row["max_buy_price"],
        max_slippage_percent=row["max_slippage_percent"],
        min_volume_24h=row["min_volume_24h"],
        allow_pre_trading=row["allow_pre_trading"],
        cooldown=timedelta(seconds=row["cooldown_seconds"]),
        max_executions=row["max_executions"],
        order_type=BuyOrderType(row["order_type"]),
        risk_check=row["risk_check"],
        exits=exits_from_json(row["exits"]) if row["exits"] is not None else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return StoredRule(rule, RuleStats(row["executions"], row["last_executed_at"]))


def _execution_from_row(row: RowMapping) -> RuleExecution:
    return RuleExecution(
        id=row["id"],
        rule_id=row["rule_id"],
        symbol=row["symbol"],
        trigger_type=TriggerType(row["trigger_type"]),
        key=row["key"],
        reason=row["reason"],
        outcome=ExecutionOutcome(row["outcome"]),
        client_order_id=row["client_order_id"],
        position_id=row["position_id"],
        listing_id=row["listing_id"],
        detail=row["detail"],
        quantity=row["quantity"],
        quote_spent=row["quote_spent"],
        average_price=row["average_price"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


class AutoBuyRuleRepository:
    """Rules of one unit of work (`uow.autobuy_rules`); do not construct it yourself."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def add(self, rule: AutoBuyRule) -> StoredRule:
        now = self._clock()
        result = await self._connection.execute(
            insert(tables.autobuy_rules)
            .values(
                **_rule_columns(rule),
                executions=0,
                last_executed_at=None,
                created_at=now,
                updated_at=now,
            )
            .returning(tables.autobuy_rules.c.id)
        )
        stored = await self.get(int(result.scalar_one()))
        assert stored is not None
        return stored

    async def update(self, rule_id: int, rule: AutoBuyRule) -> StoredRule | None:
        """Replace every field of the rule (its counters stay); None when there is none."""
        result = await self._connection.execute(
            update(tables.autobuy_rules)
            .where(tables.autobuy_rules.c.id == rule_id)
            .values(**_rule_columns(rule), updated_at=self._clock())
        )
        if result.rowcount != 1:
            return None
        return await self.get(rule_id)

    async def set_enabled(self, rule_id: int, enabled: bool) -> StoredRule | None:
        result = await self._connection.execute(
            update(tables.autobuy_rules)
            .where(tables.autobuy_rules.c.id == rule_id)
            .values(enabled=enabled, updated_at=self._clock())
        )
        if result.rowcount != 1:
            return None
        return await self.get(rule_id)

    async def delete(self, rule_id: int) -> bool:
        await self._connection.execute(
            delete(tables.autobuy_executions).where(tables.autobuy_executions.c.rule_id == rule_id)
        )
        result = await self._connection.execute(
            delete(tables.autobuy_rules).where(tables.autobuy_rules.c.id == rule_id)
        )
        return bool(result.rowcount == 1)

    async def get(self, rule_id: int) -> StoredRule | None:
        found = await self._load(
            select(tables.autobuy_rules).where(tables.autobuy_rules.c.id == rule_id)
        )
        return found[0] if found else None

    async def all(self) -> _Rules:
        return await self._load(select(tables.autobuy_rules).order_by(tables.autobuy_rules.c.id))

    async def list(
        self,
        *,
        enabled: bool | None = None,
        symbol: str | None = None,
        trigger_type: TriggerType | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RulePage:
        """Rules matching every given filter, by id."""
        _check_limit(limit)
        c = tables.autobuy_rules.c
        conditions = []
        if enabled is not None:
            conditions.append(c.enabled == enabled)
        if symbol is not None:
            conditions.append(c.symbol == symbol)
        if trigger_type is not None:
            conditions.append(c.trigger_type == trigger_type.value)
        count = select(func.count()).select_from(tables.autobuy_rules).where(*conditions)
        total = int((await self._connection.execute(count)).scalar_one())
        query = (
            select(tables.autobuy_rules)
            .where(*conditions)
            .order_by(c.id)
            .limit(limit)
            .offset(offset)
        )
        return RulePage(await self._load(query), total)

    async def _load(self, query: Select[Any]) -> _Rules:
        rows = (await self._connection.execute(query)).mappings().all()
        return [_rule_from_row(row) for row in rows]


class AutoBuyExecutionRepository:
    """Executions of one unit of work (`uow.autobuy_executions`); do not construct it."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def record(self, execution: RuleExecution) -> RuleExecution | None:
        """Insert `execution` as it is (a SKIPPED one: the counters do not move); None when
        the rule already has an execution with that key."""
        row_id = await insert_if_new(
            self._connection, tables.autobuy_executions, _execution_columns(execution)
        )
        if row_id is None:
            return None
        return _with_id(execution, row_id)

    async def begin(self, execution: RuleExecution, rule: AutoBuyRule) -> RuleExecution | None:
        """Insert the PENDING `execution` and count it on its rule, if the rule has no
        execution with that key yet and its guards (enabled, max executions, cooldown, read
        from the row inside this transaction) still allow it. None otherwise: the caller must
        roll back (the unit of work does, when it is left without a commit)."""
        row_id = await insert_if_new(
            self._connection, tables.autobuy_executions, _execution_columns(execution)
        )
        if row_id is None:
            return None
        c = tables.autobuy_rules.c
        now = execution.created_at
        conditions = [c.id == execution.rule_id, c.enabled.is_(True)]
        if rule.max_executions is not None:
            conditions.append(c.executions < rule.max_executions)
        if rule.cooldown > timedelta(0):
            conditions.append(
                or_(c.last_executed_at.is_(None), c.last_executed_at <= now - rule.cooldown)
            )
        result = await self._connection.execute(
            update(tables.autobuy_rules)
            .where(*conditions)
            .values(executions=c.executions + 1, last_executed_at=now)
        )
        if result.rowcount != 1:
            return None
        return _with_id(execution, row_id)

    async def finish(self, execution: RuleExecution) -> None:
        """Write the final state of a begun execution; an outcome that bought nothing gives
        the rule its execution back (max executions counts what bought something)."""
        assert execution.id is not None
        values = _execution_columns(execution)
        result = await self._connection.execute(
            update(tables.autobuy_executions)
            .where(tables.autobuy_executions.c.id == execution.id)
            .where(tables.autobuy_executions.c.outcome == ExecutionOutcome.PENDING.value)
            .values(**values)
        )
        if result.rowcount == 1 and execution.outcome in RELEASING_OUTCOMES:
            c = tables.autobuy_rules.c
            await self._connection.execute(
                update(tables.autobuy_rules)
                .where(c.id == execution.rule_id, c.executions > 0)
                .values(executions=c.executions - 1)
            )

    async def get(self, execution_id: int) -> RuleExecution | None:
        found = await self._load(
            select(tables.autobuy_executions).where(tables.autobuy_executions.c.id == execution_id)
        )
        return found[0] if found else None

    async def get_by_key(self, rule_id: int, key: str) -> RuleExecution | None:
        c = tables.autobuy_executions.c
        found = await self._load(
            select(tables.autobuy_executions).where(c.rule_id == rule_id, c.key == key)
        )
        return found[0] if found else None

    async def pending(self) -> _Executions:
        c = tables.autobuy_executions.c
        return await self._load(
            select(tables.autobuy_executions)
            .where(c.outcome == ExecutionOutcome.PENDING.value)
            .order_by(c.id)
        )

    async def list(
        self,
        *,
        rule_id: int | None = None,
        symbol: str | None = None,
        outcome: ExecutionOutcome | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> ExecutionPage:
        """Executions matching every given filter, newest first."""
        _check_limit(limit)
        c = tables.autobuy_executions.c
        conditions = []
        if rule_id is not None:
            conditions.append(c.rule_id == rule_id)
        if symbol is not None:
            conditions.append(c.symbol == symbol)
        if outcome is not None:
            conditions.append(c.outcome == outcome.value)
        count = select(func.count()).select_from(tables.autobuy_executions).where(*conditions)
        total = int((await self._connection.execute(count)).scalar_one())
        query = (
            select(tables.autobuy_executions)
            .where(*conditions)
            .order_by(c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return ExecutionPage(await self._load(query), total)

    async def _load(self, query: Select[Any]) -> _Executions:
        rows = (await self._connection.execute(query)).mappings().all()
        return [_execution_from_row(row) for row in rows]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}; got {limit}")


def _execution_columns(e: RuleExecution) -> dict[str, Any]:
    return {
        "rule_id": e.rule_id,
        "symbol": e.symbol,
        "trigger_type": e.trigger_type.value,
        "key": e.key,
        "reason": e.reason,
        "outcome": e.outcome.value,
        "client_order_id": e.client_order_id,
        "position_id": e.position_id,
        "listing_id": e.listing_id,
        "detail": e.detail,
        "quantity": e.quantity,
        "quote_spent": e.quote_spent,
        "average_price": e.average_price,
        "created_at": e.created_at,
        "finished_at": e.finished_at,
    }


def _with_id(execution: RuleExecution, row_id: int) -> RuleExecution:
    return replace(execution, id=row_id)


__all__ = [
    "AutoBuyExecutionRepository",
    "AutoBuyRuleRepository",
    "ExecutionPage",
    "RulePage",
    "StoredRule",
]
