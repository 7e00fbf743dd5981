"""Admin routes: API tokens, the audit log and the running configuration (never its secrets)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from mexcbot.api.context import AdminAccess, Ctx, audit_target
from mexcbot.api.errors import problem_responses
from mexcbot.api.numbers import PlainInt
from mexcbot.api.schemas import AuditEntryOut, CreatedToken, CreateToken, TokenNamePath, TokenOut

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
_COMMON = problem_responses(401, 403, 422, 429)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedToken,
    responses={**_COMMON, **problem_responses(409)},
)
async def create_api_token(
    body: CreateToken, request: Request, ctx: Ctx, caller: AdminAccess
) -> CreatedToken:
    """Create a token; the response shows it once (only its hash is stored)."""
    audit_target(request, body.name, audited=True)
    stored, token = await ctx.tokens.create(body.name, body.role, actor=caller.name)
    return CreatedToken(**TokenOut.of(stored).model_dump(), token=token)


@router.get("/tokens", response_model=list[TokenOut], responses=_COMMON)
async def list_api_tokens(ctx: Ctx, caller: AdminAccess) -> list[TokenOut]:
    """Every token (name, role, dates), never the tokens themselves."""
    return [TokenOut.of(token) for token in await ctx.tokens.list()]


@router.delete(
    "/tokens/{name}",
    response_model=TokenOut,
    responses={**_COMMON, **problem_responses(404)},
)
async def revoke_api_token(
    name: TokenNamePath, request: Request, ctx: Ctx, caller: AdminAccess
) -> TokenOut:
    """Revoke a token by name; it stops working at once."""
    audit_target(request, name, audited=True)
    return TokenOut.of(await ctx.tokens.revoke(name, actor=caller.name))


@router.get("/audit", response_model=list[AuditEntryOut], responses=_COMMON)
async def audit_log(
    ctx: Ctx,
    caller: AdminAccess,
    limit: Annotated[PlainInt, Query(ge=1, le=1000)] = 100,
    offset: Annotated[PlainInt, Query(ge=0, le=1_000_000)] = 0,
) -> list[AuditEntryOut]:
    """Audit entries, newest first: who (token name) did what, to what, with which result."""
    async with ctx.uow_factory() as uow:
        entries = await uow.audit.recent(limit=limit, offset=offset)
    return [
        AuditEntryOut(
            time=entry.time,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            result=entry.result,
        )
        for entry in entries
    ]


@router.get("/config", responses=_COMMON)
async def configuration(ctx: Ctx, caller: AdminAccess) -> dict[str, Any]:
    """The running configuration. Secrets show only whether they are set."""
    settings = ctx.settings
    hidden = {"api_key", "api_secret", "database_url", "telegram_bot_token", "webhooks"}
    shown = settings.model_dump(mode="json", exclude=hidden)
    shown["api_key_set"] = settings.api_key is not None
    shown["telegram_bot_token_set"] = settings.telegram_bot_token is not None
    # a webhook's URL may hold a credential: only its name and events are shown
    shown["webhooks"] = [
        hook.model_dump(mode="json", include={"name", "events", "timeout", "max_attempts"})
        for hook in settings.webhooks
    ]
    shown["mode"] = ctx.mode.value
    shown["database"] = settings.database_url.split("://", 1)[0]
    return shown
