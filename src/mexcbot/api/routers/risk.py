"""Risk routes under ``/api/v1/risk``: the trading state, the limits and the exposure.

Reading needs a read token; changing the state or the limits is an admin's (the change is
audited and pushed as `TradingStateChanged`). HALTED sends nothing, exits included; REDUCING
(the kill switch, also set by the daily-loss limit) blocks entries only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from mexcbot.api.context import AdminAccess, ApiContext, Ctx, ReadAccess, audit_target
from mexcbot.api.errors import problem_responses
from mexcbot.api.position_schemas import RiskChangeBody, RiskOut
from mexcbot.domain.risk import PROFILES

_STATES = (
    "**Exits are never blocked by a limit.** Every limit (position size, total exposure, open "
    "positions, `max_symbol_share`, `max_orders_per_second`, `min_volume_24h_quote`, the "
    "`stop_loss_streak` cooldown) "
    "is checked on entries only. `REDUCING` (the kill switch, also what `daily_loss_limit` "
    "and `daily_loss_limit_percent` of the start-of-day equity (the stricter of the two) "
    "switch to, until an admin sets `ACTIVE` again) refuses new entries while stop-loss, "
    "take-profit and trailing exits and cancels keep running. `HALTED` is the emergency stop, "
    "set and lifted only by an admin: nothing is sent, exits included."
)

router = APIRouter(prefix="/api/v1/risk", tags=["risk"])
_COMMON = problem_responses(401, 403, 422, 429)


def _out(ctx: ApiContext) -> RiskOut:
    return RiskOut.now(ctx.risk)


@router.get(
    "",
    response_model=RiskOut,
    responses=_COMMON,
    summary="State, limits, exposure",
    description=_STATES,
)
async def read_risk(ctx: Ctx, caller: ReadAccess) -> RiskOut:
    return _out(ctx)


@router.put(
    "",
    response_model=RiskOut,
    responses=_COMMON,
    summary="Change the trading state and/or the limits (admin)",
    description=_STATES,
)
async def change_risk(
    body: RiskChangeBody, request: Request, ctx: Ctx, caller: AdminAccess
) -> RiskOut:
    limits = body.limits.limits() if body.limits else None
    if body.profile is not None:
        limits = PROFILES[body.profile]
    target = body.state.value if body.state else "limits"
    audit_target(request, target)  # a refused change is audited by the middleware
    await ctx.risk.change(actor=caller.name, state=body.state, limits=limits, reason=body.reason)
    audit_target(request, target, audited=True)  # the change wrote its entry (risk.change)
    return _out(ctx)
