"""Auto-buy routes under ``/api/v1/autobuy``: the rules (create, list, read, replace, enable,
disable, delete, dry run), their executions, and the rules of one symbol.

The rules are evaluated by the engine (`mexcbot.engine.autobuy`); these routes change what it
evaluates. A read token may read; a trade token changes. Every error is a problem document from
the one table in api/errors.py (`InvalidRule` is a 422 naming the field).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from mexcbot.api.autobuy_schemas import (
    EvaluationOut,
    ExecutionOut,
    ExecutionPageOut,
    RuleBody,
    RuleOut,
    RulePageOut,
)
from mexcbot.api.context import ApiContext, Ctx, ReadAccess, TradeAccess, audit_target
from mexcbot.api.errors import problem_responses
from mexcbot.api.numbers import PlainInt
from mexcbot.api.schemas import Symbol, SymbolPath
from mexcbot.api.symbols import require_known_symbol
from mexcbot.domain.autobuy import AutoBuyRule, ExecutionOutcome, TriggerType

router = APIRouter(prefix="/api/v1/autobuy", tags=["autobuy"])

RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The rule's id")]
_COMMON = problem_responses(401, 403, 422, 429)
_WITH_404 = {**_COMMON, **problem_responses(404)}
RULE_SYMBOL = r"^(\*|[A-Z0-9]{2,30})$"
Limit = Annotated[PlainInt, Query(ge=1, le=500)]
Offset = Annotated[PlainInt, Query(ge=0, le=1_000_000)]


async def _checked(ctx: ApiContext, body: RuleBody) -> AutoBuyRule:
    """The body's rule; a price rule's symbol must be listed (a NEW_LISTING one need not be
    yet)."""
    rule = body.rule()
    if rule.trigger.type is not TriggerType.NEW_LISTING:
        await require_known_symbol(ctx, rule.symbol)
    return rule


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleOut,
    responses=_COMMON,
    summary="Create an auto-buy rule (its trigger is watched at once when enabled)",
)
async def create_rule(body: RuleBody, request: Request, ctx: Ctx, caller: TradeAccess) -> RuleOut:
    rule = await _checked(ctx, body)
    stored = await ctx.autobuy.rules.create(rule)
    audit_target(request, f"rule:{stored.rule.id}")
    return RuleOut.of(stored)


@router.get("/rules", response_model=RulePageOut, responses=_COMMON, summary="Rules, by id")
async def list_rules(
    ctx: Ctx,
    caller: ReadAccess,
    enabled: Annotated[bool | None, Query()] = None,
    symbol: Annotated[
        str | None, Query(pattern=RULE_SYMBOL, description="A symbol, or * for the * rules")
    ] = None,
    trigger_type: Annotated[TriggerType | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RulePageOut:
    page = await ctx.autobuy.rules.list(
        enabled=enabled, symbol=symbol, trigger_type=trigger_type, limit=limit, offset=offset
    )
    return RulePageOut(rules=[RuleOut.of(r) for r in page.rules], total=page.total)


@router.get("/rules/{rule_id}", response_model=RuleOut, responses=_WITH_404, summary="A rule")
async def get_rule(rule_id: RuleId, ctx: Ctx, caller: ReadAccess) -> RuleOut:
    return RuleOut.of(await ctx.autobuy.rules.get(rule_id))


@router.put(
    "/rules/{rule_id}",
    response_model=RuleOut,
    responses=_WITH_404,
    summary="Replace every field of a rule (its executions and counters stay)",
)
async def update_rule(
    rule_id: RuleId, body: RuleBody, request: Request, ctx: Ctx, caller: TradeAccess
) -> RuleOut:
    audit_target(request, f"rule:{rule_id}")
    rule = await _checked(ctx, body)
    return RuleOut.of(await ctx.autobuy.rules.update(rule_id, rule))


@router.post(
    "/rules/{rule_id}/enable", response_model=RuleOut, responses=_WITH_404, summary="Enable a rule"
)
async def enable_rule(rule_id: RuleId, request: Request, ctx: Ctx, caller: TradeAccess) -> RuleOut:
    audit_target(request, f"rule:{rule_id}")
    return RuleOut.of(await ctx.autobuy.rules.set_enabled(rule_id, True))


@router.post(
    "/rules/{rule_id}/disable",
    response_model=RuleOut,
    responses=_WITH_404,
    summary="Disable a rule (it stops firing at once)",
)
async def disable_rule(rule_id: RuleId, request: Request, ctx: Ctx, caller: TradeAccess) -> RuleOut:
    audit_target(request, f"rule:{rule_id}")
    return RuleOut.of(await ctx.autobuy.rules.set_enabled(rule_id, False))


@router.delete(
    "/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_WITH_404,
    summary="Delete a rule and its execution history (positions it opened stay)",
)
async def delete_rule(rule_id: RuleId, request: Request, ctx: Ctx, caller: TradeAccess) -> Response:
    audit_target(request, f"rule:{rule_id}")
    await ctx.autobuy.rules.delete(rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/rules/{rule_id}/evaluate",
    response_model=EvaluationOut,
    responses=_WITH_404,
    summary="Dry run: would the rule buy now, what and why (nothing is stored or sent)",
)
async def evaluate_rule(rule_id: RuleId, ctx: Ctx, caller: ReadAccess) -> EvaluationOut:
    return EvaluationOut.of(await ctx.autobuy.dry_run.evaluate(rule_id))


@router.get(
    "/executions",
    response_model=ExecutionPageOut,
    responses=_COMMON,
    summary="Rule executions (firings, with their reason, order and outcome), newest first",
)
async def list_executions(
    ctx: Ctx,
    caller: ReadAccess,
    rule_id: Annotated[PlainInt | None, Query(ge=1, le=2**63 - 1)] = None,
    symbol: Annotated[Symbol | None, Query()] = None,
    outcome: Annotated[ExecutionOutcome | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ExecutionPageOut:
    page = await ctx.autobuy.executions.list(
        rule_id=rule_id, symbol=symbol, outcome=outcome, limit=limit, offset=offset
    )
    return ExecutionPageOut(
        executions=[ExecutionOut.of(e) for e in page.executions], total=page.total
    )


@router.get(
    "/symbols/{symbol}/rules",
    response_model=RulePageOut,
    responses=_COMMON,
    summary="The rules naming one symbol (not the * rules)",
)
async def symbol_rules(symbol: SymbolPath, ctx: Ctx, caller: ReadAccess) -> RulePageOut:
    rules = await ctx.autobuy.rules.for_symbol(symbol)
    return RulePageOut(rules=[RuleOut.of(r) for r in rules], total=len(rules))
