"""The request gate: authenticate first, then read a bounded body, then route.

FastAPI reads and parses a body before it resolves the route's dependencies, so without this
layer an anonymous client could make the bot read and parse any amount of JSON before the 401.
The gate (plain ASGI, inside the telemetry and CORS layers) does, for every request:

1. a route that is not public needs a token: a client address over its failed-authentication
   limit gets 429, a missing, malformed, unknown or revoked token 401, all without reading a byte
   of the body; the ``Principal`` is left in the request state for the routes (``context.py``);
2. a body announced larger than the limit (Content-Length) is 413 at once; otherwise it is read
   with a running length check (413 as soon as it passes the limit) and one deadline (408);
3. the route gets the body replayed from memory;
4. a read (GET, HEAD) waits for one of ``READS_AT_ONCE`` places before it is routed, so orders
   and cancels keep their priority over reads: a burst of polled reads that arrived together
   no longer queues ~200 ready steps on the event loop ahead of each step of an order (measured
   with benchmarks/many_clients.py: the figures are at `READS_AT_ONCE`); a read still running
   after `READ_PLACE_S` (it waits for the exchange) gives its place to the next; while an
   order, a cancel or any other change is being handled a read waits for it (`READ_HOLD_S`,
   `WRITE_LINGER_S`); and with a `CollectorHold` (app.py), the garbage collector waits until
   the changes being handled are answered (mexcbot.engine.collector says why).

An early answer to a request whose body was not read closes the connection when that body could
be large (chunked, or announced over the limit), so the server does not drain it.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mexcbot.api.auth import TokenAuthority, bearer_credentials
from mexcbot.api.errors import ApiProblem, problem_response
from mexcbot.api.limits import BodyLimits, ClientDisconnected, FailedAuthLimit, read_body
from mexcbot.config import Settings
from mexcbot.engine.collector import CollectorHold

ALWAYS_PUBLIC = frozenset({"/health", "/ready", "/"})
READS_AT_ONCE = 4
"""Reads routed at once; the others wait in arrival order. Reads answered from what the engine
keeps (api/read_bodies.py) run in one loop step each, so a few places keep the loop busy, and
each step of an order waits behind at most this many reads' steps. Measured in pairs on the
shared box (50 clients, benchmarks/many_clients.py): without / with 8 places, orders' loaded p99
179 / 175 ms and 190 / 94 ms, reads' p99 234 / 211 and 177 / 144 ms; once the loop no longer
synced the WAL (store/checkpoint.py), 16 / 4 places (interleaved windows, same minutes): orders'
p99 ratio 1.41 / 1.16 and 1.39 / 1.10 (loaded p99 17.3 / 20.2 and 15.8 / 12.4 ms), reads' p99
33.2 / 30.4 and 28.6 / 32.3 ms."""
READ_PLACE_S = 0.005
"""How long a read keeps its place: one answered from what the engine keeps is done well within
it (one loop step, ~0.3-0.6 ms); one that waits for the exchange (a REST snapshot, klines) gives
its place to the next read after this long instead of holding it for its whole round trip, so a
few slow reads never hold up the ones answered from memory."""
WRITE_LINGER_S = 0.002
"""How long the reads held by orders stay held after the last one is answered: a client's next
order often follows at once (a place, then its cancel), and without the pause it met the burst of
reads released by the first. With 50 readers (benchmarks/many_clients.py, 40 s runs) the cancel's
loaded p99 went from 17-20 ms to 9-10 ms, the orders' p99 ratio from 1.61-1.93 to 1.13-1.68."""
READ_HOLD_S = 0.02
"""How long a read waits for the orders and cancels in flight before it is routed anyway: long
enough for a placement on a healthy exchange (a few ms), short enough that an exchange answering
slowly holds no read for more than this."""
_READS = frozenset({"GET", "HEAD"})
PUBLIC_PREFIXES = ("/ui/",)
"""The dashboard's page (``/``) and files (``/ui/``) hold no data: they are served to anyone."""


class RequestGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        authority: TokenAuthority,
        failures: FailedAuthLimit,
        limits: BodyLimits,
        public_paths: frozenset[str],
        collector: CollectorHold | None = None,
    ) -> None:
        self.app = app
        self.collector = collector
        self.authority = authority
        self.failures = failures
        self.limits = limits
        self.public_paths = public_paths
        self.reads = asyncio.Semaphore(READS_AT_ONCE)
        self.writes_in_flight = 0
        self.no_writes = asyncio.Event()
        self.no_writes.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced, chunked = _body_framing(scope)
        unbounded = chunked or announced > self.limits.max_bytes
        path = scope["path"]
        public = path in self.public_paths or path.startswith(PUBLIC_PREFIXES)
        if scope["method"] != "OPTIONS" and not public:
            problem = await self._authenticate(scope)
            if problem is not None:
                await _answer(problem, scope, receive, send, close=unbounded)
                return
        if announced > self.limits.max_bytes:
            await _answer(self.limits.too_large(), scope, receive, send, close=True)
            return
        if announced or chunked:
            try:
                body = await read_body(receive, self.limits)
            except ClientDisconnected:
                return
            except ApiProblem as problem:
                await _answer(problem, scope, receive, send, close=True)
                return
            receive = _replay(body, receive)
        if scope["method"] in _READS:
            await self.reads.acquire()
            place = _ReadPlace(self.reads)
            try:
                if self.writes_in_flight:
                    await self._after_writes()
                timer = asyncio.get_running_loop().call_later(READ_PLACE_S, place.give_back)
                try:
                    await self.app(scope, receive, send)
                finally:
                    timer.cancel()
            finally:
                place.give_back()
            return
        self.writes_in_flight += 1
        self.no_writes.clear()
        collector = self.collector
        if collector is not None:
            collector.hold()  # no garbage collection inside an order or a cancel
        try:
            await self.app(scope, receive, send)
        finally:
            if collector is not None:
                collector.release()
            self.writes_in_flight -= 1
            if not self.writes_in_flight:
                asyncio.get_running_loop().call_later(WRITE_LINGER_S, self._release_reads)

    def _release_reads(self) -> None:
        if not self.writes_in_flight:
            self.no_writes.set()

    async def _after_writes(self) -> None:
        """Hold a read while orders or cancels are being handled, at most `READ_HOLD_S`."""
        try:
            async with asyncio.timeout(READ_HOLD_S):
                await self.no_writes.wait()
        except TimeoutError:
            pass

    async def _authenticate(self, scope: Scope) -> ApiProblem | None:
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        wait = self.failures.retry_after(address)
        if wait > 0:
            return self.failures.refusal(wait)
        try:
            presented = bearer_credentials(_header(scope, b"authorization"))
            caller = await self.authority.authenticate(presented)
        except ApiProblem as problem:
            if problem.status == 401:
                self.failures.record_failure(address)
            return problem
        scope.setdefault("state", {})["principal"] = caller
        return None


class _ReadPlace:
    """One read's place in the gate, given back once: when the read ends, or earlier when it
    runs past `READ_PLACE_S`."""

    __slots__ = ("_held", "_places")

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = True

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._places.release()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _body_framing(scope: Scope) -> tuple[int, bool]:
    """(announced Content-Length or 0, chunked). The HTTP parser already refused a malformed
    Content-Length, and one that is both chunked and sized."""
    length = 0
    chunked = False
    for key, value in scope["headers"]:
        if key == b"content-length" and value.isdigit():
            length = int(value)
        elif key == b"transfer-encoding":
            chunked = True
    return length, chunked


def _replay(body: bytes, receive: Receive) -> Receive:
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(
    problem: ApiProblem, scope: Scope, receive: Receive, send: Send, *, close: bool
) -> None:
    if close:
        problem.headers = {**problem.headers, "Connection": "close"}
    await problem_response(problem)(scope, receive, send)


def install_request_gate(
    api: FastAPI,
    authority: TokenAuthority,
    failures: FailedAuthLimit,
    settings: Settings,
    collector: CollectorHold | None = None,
) -> None:
    """Add the gate to ``api``; call it before adding CORS, so the gate runs inside it (a CORS
    preflight never needs a token, and the gate's answers get CORS headers). ``failures`` is
    shared with the websocket route (api/live.py), so an address over its limit is refused on
    both."""
    public = set(ALWAYS_PUBLIC)
    for path in (api.docs_url, api.redoc_url, api.openapi_url):
        if path:
            public.add(path)
    if api.docs_url and api.swagger_ui_oauth2_redirect_url:
        public.add(api.swagger_ui_oauth2_redirect_url)
    if settings.metrics_public:
        public.add("/metrics")
    api.add_middleware(
        RequestGate,
        authority=authority,
        failures=failures,
        limits=BodyLimits(settings.api_max_body_bytes, settings.api_body_timeout),
        public_paths=frozenset(public),
        collector=collector,
    )
