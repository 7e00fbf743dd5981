"""The API as a served application: the FastAPI app over an `ApiContext`, and its server.

`build_api` assembles routers, the request gate, problem+json errors, CORS and telemetry; `serve`
runs it with uvicorn on the configured address (the head limits of `http_protocol`, websockets for
`/api/v1/ws`) and registers its stop on the composition root's exit stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from mexcbot.api.context import ApiContext
from mexcbot.api.errors import install_error_handlers
from mexcbot.api.gate import install_request_gate
from mexcbot.api.http_protocol import bounded_httptools
from mexcbot.api.live import router as live_router
from mexcbot.api.middleware import RequestTelemetry
from mexcbot.api.routers import (
    admin,
    autobuy,
    dashboard,
    listings,
    market,
    notifications,
    positions,
    risk,
    system,
    trades,
)
from mexcbot.config import Settings

STOP_TIMEOUT_S = 10.0
_WS_MAX_MESSAGE_BYTES = 64 * 1024


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the bot decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


#: The API's routers, in the order their routes are matched (after the placement route).
ROUTERS = (
    trades.router,
    market.router,
    system.router,
    positions.router,
    risk.router,
    listings.router,
    autobuy.router,
    admin.router,
    notifications.router,
    live_router,
    dashboard.router,
)


def build_api(ctx: ApiContext) -> FastAPI:
    """The FastAPI application over ``ctx``: routers, problem+json errors, telemetry, CORS."""
    docs = ctx.settings.docs_public
    api = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="mexcbot",
        version=ctx.version,
        description="A self-hosted trading bot for the MEXC spot exchange. "
        "Every route but /health and /ready needs `Authorization: Bearer <token>`.\n\n"
        "**Live updates**: the websocket `GET /api/v1/ws` (not listed below: OpenAPI has no "
        "websocket routes) streams orders, fills, balances, tickers, stream and reconciliation "
        "status. Authenticate with the same tokens, by the `Authorization: Bearer` header or a "
        'first message `{"type":"auth","token":"mxb_..."}` (never in the URL); then '
        '`{"type":"subscribe","topics":["orders","fills","tickers:BTCUSDT"]}`. Every message is '
        "`{type, topic, seq, ts, data}`; `seq` is global, and "
        '`{"type":"resume","since":<seq>}` replays what a reconnecting client missed.',
        redirect_slashes=False,  # a redirect would build its Location from the Host header
        # The bot's telemetry is its own (Prometheus, the access log): FastAPI's OpenTelemetry
        # layer only asked the global providers on every request whether it was configured
        # (~2 % of the loop under 50 polling clients, py-spy, benchmarks/many_clients.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api.state.ctx = ctx
    # Routes are matched in this order, one regular expression each: order placement (the hot
    # path) first, on the app itself (trades.add_placement_route says why), then the routes
    # clients poll (market data, balances, open orders) (matching was ~13 % of the loop under 50
    # polling clients when they came after ~60 others). No two routers share a path.
    trades.add_placement_route(api)
    for router in ROUTERS:
        _include_flat(api, router)
    _documentation_last(api)
    install_error_handlers(api)
    # before CORS
    install_request_gate(api, ctx.authority, ctx.auth_failures, ctx.settings, ctx.collector)
    if ctx.settings.cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=ctx.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        )
    api.add_middleware(RequestTelemetry, metrics=ctx.metrics, audit=ctx.audit)
    return api


def _include_flat(api: FastAPI, router: APIRouter) -> None:
    """`api.include_router(router)` (no prefix, tags or dependencies of the inclusion's own) as
    the router's routes appended to the app's: one flat list, each route matched once by its
    regular expression. FastAPI 0.163 includes a router as one route that delegates: every
    request was matched twice through it (to find the router, then to hand it the request) and
    asked each router for its routes' version, ~15 % of the bot's loop under 50 polling
    clients (py-spy, benchmarks/many_clients.py: `_IncludedRouter` matching). The routes are
    the router's own objects, already built with its prefix and tags (`APIRouter.add_api_route`
    applies them), so the OpenAPI document and every answer are the same (a test compares the
    document with the one `include_router` builds)."""
    if router.on_startup or router.on_shutdown or router.dependencies:  # pragma: no cover
        raise ValueError(f"router {router.prefix or '/'}: include it with include_router")
    api.router.routes.extend(router.routes)


def _documentation_last(api: FastAPI) -> None:
    """FastAPI's own documentation routes (/openapi.json, /docs, /redoc) after the API's: no
    path is shared, and a request no longer tries their four expressions first."""
    routes = api.router.routes
    routes.sort(key=lambda route: type(route) is Route)  # stable: the rest keeps its order


async def serve(api: FastAPI, settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    """Serve the API on the configured address; its URL once it accepts connections."""
    config = uvicorn.Config(
        api,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        http=bounded_httptools(settings.api_max_header_bytes, settings.api_body_timeout),
        ws="websockets-sansio",
        ws_max_size=_WS_MAX_MESSAGE_BYTES,
    )
    server = _Uvicorn(config)
    host = settings.api_host
    listener = _bind(host, settings.api_port)
    task = asyncio.create_task(server.serve(sockets=[listener]), name="mexcbot-api")

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=STOP_TIMEOUT_S)

    stack.push_async_callback(stop)
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"the API server on {host} stopped during start-up")
        await asyncio.sleep(0.01)
    port = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _bind(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound here so a port in use is an OSError naming it (uvicorn
    would call sys.exit). The explicit IPPROTO_TCP matters: asyncio only turns Nagle off
    (TCP_NODELAY) on sockets that say they are TCP; without it every response waited ~40 ms for
    a delayed ACK (measured: GET /health 44 ms -> 1 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise OSError(f"the API cannot listen on {host}:{port}: {exc}") from None
    return listener
