"""System routes: liveness, readiness, Prometheus metrics and the bot's status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from mexcbot.api.context import Credentials, Ctx, ReadAccess, principal
from mexcbot.api.errors import problem_responses
from mexcbot.api.schemas import (
    AccountScanOut,
    ExternalOrdersOut,
    Health,
    LiveConnectionOut,
    LiveMarketOut,
    StatusOut,
    StreamStatusOut,
    WhoAmIOut,
)
from mexcbot.engine.ports import LiveMarketStatus
from mexcbot.engine.stream_health import StreamHealth

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers. No token needed."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "Still starting up"}},
)
async def ready(ctx: Ctx) -> Response:
    """Readiness: 200 once migrations, clock sync, exchange info and the startup reconciliation
    are done; 503 before. No token needed."""
    if ctx.execution.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "starting"}, status_code=503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus metrics"},
        **problem_responses(401, 403, 429),
    },
)
async def metrics(request: Request, ctx: Ctx, credentials: Credentials) -> Response:
    """Prometheus metrics (all `mexcbot_*`). Needs a token unless MEXCBOT_METRICS_PUBLIC=true."""
    if not ctx.settings.metrics_public:
        await principal(request, ctx, credentials)
    async with ctx.uow_factory() as uow:
        ctx.metrics.open_orders.set(len(await uow.orders.list_open()))
    ctx.metrics.observe_read_budget(ctx.health.diagnostics())
    ctx.metrics.observe_live_market(ctx.market.live_status())
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/status", response_model=StatusOut, responses=problem_responses(401, 429))
async def status(ctx: Ctx, caller: ReadAccess) -> StatusOut:
    """Mode, exchange reachability, clock offset, rate-limit waits, reconciliation, external
    orders and the last account scan, the exchange streams' health, the live market (watched
    symbols, connections and their subscriptions, book sync state), version."""
    state = ctx.reconciliation
    scan = ctx.execution.last_account_scan
    diagnostics = ctx.health.diagnostics()
    return StatusOut(
        mode=ctx.mode.value,
        version=ctx.version,
        ready=ctx.execution.ready,
        exchange_url=ctx.exchange_url,
        exchange_reachable=await ctx.health.reachable(),
        clock_offset_ms=diagnostics.clock_offset_ms,
        rate_limit_wait_seconds=diagnostics.rate_limit_wait_seconds,
        rate_limit_headroom=diagnostics.rate_limit_headroom,
        read_wait_limit_seconds=diagnostics.read_wait_limit_seconds,
        queued_reads=diagnostics.queued_reads,
        reconciliation={
            "runs": state.runs,
            "last_finished_at": (
                state.last_finished_at.isoformat() if state.last_finished_at else None
            ),
            "last_report": state.last_report,
            "lost_on_exchange_since_start": state.lost_on_exchange,
        },
        lost_orders=await ctx.execution.count_lost(),
        external_orders=ExternalOrdersOut(
            open=await ctx.execution.count_open_external(),
            last_account_scan=(
                AccountScanOut(
                    at=scan.at,
                    symbols_scanned=len(scan.symbols),
                    candidates=scan.candidates,
                    locked_assets=list(scan.locked_assets),
                )
                if scan is not None
                else None
            ),
        ),
        streams={name: _stream_status(health) for name, health in ctx.streams.items()},
        live_market=_live_market(ctx.market.live_status()),
    )


@router.get(
    "/api/v1/auth/whoami",
    response_model=WhoAmIOut,
    responses=problem_responses(401, 429),
    summary="The calling token's name and role",
)
async def whoami(caller: ReadAccess) -> WhoAmIOut:
    """Who the bearer token is: a client (the dashboard) shows only what its role may do; the
    server checks every request's role anyway."""
    return WhoAmIOut(name=caller.name, role=caller.role)


def _live_market(status: LiveMarketStatus | None) -> LiveMarketOut | None:
    if status is None:
        return None
    return LiveMarketOut(
        watched=list(status.watched),
        connections=[
            LiveConnectionOut(
                connection=c.connection,
                connected=c.connected,
                subscriptions=c.subscriptions,
                last_push_age_s=c.last_push_age_s,
            )
            for c in status.connections
        ],
        books_synced=status.books_synced,
        book_resyncs=status.book_resyncs,
        book_snapshots=status.book_snapshots,
        stale_after_s=status.stale_after_s,
    )


def _stream_status(health: StreamHealth) -> StreamStatusOut:
    now = health.snapshot()
    return StreamStatusOut(
        connected=now.connected,
        last_message_age_s=now.last_message_age_s,
        reconnects=now.reconnects,
        gaps=now.gaps,
    )
