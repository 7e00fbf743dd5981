"""The MEXC REST transport: sign, send, and retry only what is safe for money.

Every parameter, ``signature`` last, travels in the query string with an empty body, as every major
MEXC client does. ``RestTransport.call`` turns one request into a decoded payload or a typed error
(``mexcbot.mexc.errors``) under the retry policy of its ``RequestKind``:

* ``READ`` (GET, ``order/test``, listen keys) is retried with exponential backoff on 429, 5xx,
  timeouts and connection errors, at most ``read_retries`` times, then raises
  ``ExchangeUnavailable`` (or ``RateLimited``).
* ``PLACE`` (``order`` POST, ``batchOrders``) is NEVER retried on a failure: a timeout, a dropped
  connection or a 5xx raises ``OutcomeUnknown`` carrying the client order ids; the caller resolves
  the order with a query by client order id. A 429 raises ``RateLimited`` (MEXC refused the request
  before processing it, so the order does not exist).
* ``CANCEL`` is retried like a read, because cancelling twice cannot cancel anything extra. If an
  attempt had an unknown outcome and a retry then answers "unknown order", the first attempt may
  have done the cancel (or the order may have filled meanwhile), so ``OutcomeUnknown`` is raised;
  exhausted retries also raise ``OutcomeUnknown``.

One refusal is repaired for every kind: 700003 (timestamp outside the recvWindow) is checked before
MEXC processes anything, so the transport re-measures the clock offset and re-sends the same request
(same client order id) ONCE. A second 700003 is raised. No other rejection is ever re-sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, NoReturn

import aiohttp
from yarl import URL

from mexcbot.mexc import constants as ep
from mexcbot.mexc import wire
from mexcbot.mexc.constants import Endpoint
from mexcbot.mexc.errors import (
    ExchangeUnavailable,
    IpBanned,
    MexcError,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    TimestampOutsideRecvWindow,
    UnexpectedResponse,
    error_for,
)
from mexcbot.mexc.ratelimit import Priority, RateLimiter, WaitObserver
from mexcbot.mexc.signing import ParamValue, encode_query, sign

Params = list[tuple[str, ParamValue]]

#: Seconds since the epoch, like ``time.time`` (tests pass a wrong one to provoke 700003).
WallClock = Callable[[], float]

_TRANSPORT_ERRORS: Final = (aiohttp.ClientError, asyncio.TimeoutError)


class RequestKind(Enum):
    """Which retry policy a request gets (see the module docstring)."""

    READ = "read"
    CANCEL = "cancel"
    PLACE = "place"


@dataclass(frozen=True, slots=True)
class MexcClientConfig:
    """Immutable client settings. ``rate_limit=False`` turns client-side throttling off."""

    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    base_url: str = ep.DEFAULT_BASE_URL
    recv_window_ms: int = ep.DEFAULT_RECV_WINDOW_MS
    timeout_s: float = 10.0
    rate_limit: bool = True
    read_retries: int = 3
    retry_backoff_s: float = 0.2
    max_connections: int = 100
    read_connections_reserved: int = 10
    """Connections ``Priority.READ`` requests may not take: the order path always finds one."""
    read_wait_limit_s: float | None = None
    """Longest a ``Priority.READ`` request waits for budget before ``BudgetExhausted``."""

    def __post_init__(self) -> None:
        if not 0 < self.recv_window_ms <= ep.MAX_RECV_WINDOW_MS:
            raise ValueError(
                f"recv_window_ms must be in 1..{ep.MAX_RECV_WINDOW_MS}, got {self.recv_window_ms}"
            )
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.read_retries < 0:
            raise ValueError(f"read_retries must be >= 0, got {self.read_retries}")
        if not 0 <= self.read_connections_reserved < self.max_connections:
            raise ValueError(
                "read_connections_reserved must be in 0..max_connections-1, "
                f"got {self.read_connections_reserved}"
            )


@dataclass(slots=True)
class _Reply:
    status: int
    body: bytes
    retry_after: float | None


class RestTransport:
    """One pooled keep-alive aiohttp session, the signed-timestamp clock and the retry policy.

    ``on_request(endpoint, seconds)`` is called after every HTTP round trip, failed ones included.
    ``limiter`` is ``None`` when client-side throttling is off.
    """

    def __init__(
        self,
        config: MexcClientConfig,
        *,
        limiter: RateLimiter | None,
        on_request: WaitObserver | None = None,
        wall_clock: WallClock = time.time,
    ) -> None:
        self._config = config
        self._secret = config.api_secret.encode()
        self._base = config.base_url.rstrip("/")
        self._recv_window = f"recvWindow={config.recv_window_ms}&timestamp="
        self.limiter = limiter
        self._on_request = on_request
        self._wall_clock = wall_clock
        self._session: aiohttp.ClientSession | None = None
        self.offset_ms = 0
        # Bumped by every sync, so concurrent 700003s re-measure the clock once, not once each.
        self._clock_generation = 0
        self._clock_lock = asyncio.Lock()
        # Reads queue here for a connection, never in the pool the order path draws from.
        self._read_connections = asyncio.Semaphore(
            config.max_connections - config.read_connections_reserved
        )

    def open(self) -> aiohttp.ClientSession:
        """The session, created on first use."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._config.max_connections, keepalive_timeout=30, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._config.timeout_s),
                headers={
                    ep.API_KEY_HEADER: self._config.api_key,
                    "Content-Type": "application/json",
                },
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the clock -------------------------------------------------------------------------------

    async def sync_clock(self) -> int:
        """Measure the server-minus-local clock offset (mid-point of the round trip) and use it for
        every signed timestamp from now on. Returns the offset in milliseconds."""
        before = self._wall_clock() * 1000
        payload = await self.call(ep.TIME, [])
        after = self._wall_clock() * 1000
        try:
            server = wire.parse_server_time(payload)
        except (KeyError, TypeError, ValueError) as exc:
            raise UnexpectedResponse(None, f"{ep.TIME.key}: {type(exc).__name__}: {exc}") from None
        self.offset_ms = round(server - (before + after) / 2)
        self._clock_generation += 1
        return self.offset_ms

    async def _resync_clock(self, seen_generation: int) -> None:
        """Re-measure the offset unless another request already did since ``seen_generation``."""
        async with self._clock_lock:
            if self._clock_generation == seen_generation:
                await self.sync_clock()

    # --- one round trip --------------------------------------------------------------------------

    def _url(self, endpoint: Endpoint, params: Params) -> URL:
        query = encode_query(params)
        if endpoint.signed:
            stamp = int(self._wall_clock() * 1000) + self.offset_ms
            query = (
                f"{query}&{self._recv_window}{stamp}" if query else f"{self._recv_window}{stamp}"
            )
            query = f"{query}&signature={sign(self._secret, query)}"
        url = f"{self._base}{endpoint.path}?{query}" if query else self._base + endpoint.path
        return URL(url, encoded=True)

    async def _exchange(
        self, endpoint: Endpoint, params: Params, weight: int, priority: Priority
    ) -> _Reply:
        """One HTTP round trip (after waiting for budget); transport errors propagate.

        A read takes its budget first and a read connection second, so reads waiting for one
        endpoint's budget never hold connections that reads of other endpoints could use."""
        limiter = self.limiter
        if limiter is None:
            return await self._connected(endpoint, params, priority)
        await limiter.acquire(endpoint, weight, priority)
        try:
            return await self._connected(endpoint, params, priority)
        finally:
            limiter.release(endpoint, weight)

    async def _connected(self, endpoint: Endpoint, params: Params, priority: Priority) -> _Reply:
        if priority is Priority.READ:
            async with self._read_connections:
                return await self._round_trip(endpoint, params)
        return await self._round_trip(endpoint, params)

    async def _round_trip(self, endpoint: Endpoint, params: Params) -> _Reply:
        if self._on_request is None:
            return await self._send_and_read(endpoint, params)
        started = time.perf_counter()
        try:
            return await self._send_and_read(endpoint, params)
        finally:
            self._on_request(endpoint.key, time.perf_counter() - started)

    async def _send_and_read(self, endpoint: Endpoint, params: Params) -> _Reply:
        session = self._session or self.open()
        async with session.request(endpoint.method, self._url(endpoint, params)) as response:
            body = await response.read()
            retry_after: float | None = None
            if response.status in (418, 429):
                retry_after = _retry_after(response.headers.get("Retry-After"))
            return _Reply(response.status, body, retry_after)

    # --- the retry policy ------------------------------------------------------------------------

    async def call(
        self,
        endpoint: Endpoint,
        params: Params,
        *,
        kind: RequestKind = RequestKind.READ,
        weight: int | None = None,
        client_order_ids: tuple[str, ...] = (),
        priority: Priority = Priority.TRADING,
    ) -> object:
        """Send with the retry policy of ``kind`` and return the decoded success payload.

        ``priority`` picks the budget lane (``mexcbot.mexc.ratelimit``); only ``READ`` kinds may
        be ``Priority.READ``, and those may raise ``BudgetExhausted`` before anything is sent."""
        if priority is Priority.READ and kind is not RequestKind.READ:
            raise ValueError("only reads may take the read lane of the rate-limit budget")
        cost = endpoint.weight if weight is None else weight
        attempts = 1 if kind is RequestKind.PLACE else 1 + self._config.read_retries
        ambiguous = False
        resynced = False
        failure = ""
        attempt = 0
        while attempt < attempts:
            if attempt:
                await asyncio.sleep(self._config.retry_backoff_s * 2 ** (attempt - 1))
            attempt += 1
            generation = self._clock_generation
            try:
                reply = await self._exchange(endpoint, params, cost, priority)
            except aiohttp.ClientConnectorError as exc:
                # Opening the connection failed: nothing was sent, so nothing is ambiguous.
                failure = f"{endpoint.key}: cannot connect ({type(exc).__name__})"
                if kind is RequestKind.PLACE:
                    raise ExchangeUnavailable(
                        None, f"{failure}; the request was not sent"
                    ) from None
                continue
            except _TRANSPORT_ERRORS as exc:
                ambiguous = True
                failure = f"{endpoint.key}: {type(exc).__name__} after sending"
                continue
            if reply.status >= 500:
                ambiguous = True
                failure = f"{endpoint.key}: HTTP {reply.status}"
                continue
            try:
                return self._payload(endpoint, reply, kind)
            except TimestampOutsideRecvWindow as skew:
                if resynced:
                    self._raise_refused(skew, kind, ambiguous, client_order_ids)
                resynced = True
                try:
                    await self._resync_clock(generation)
                except MexcError as sync_failure:
                    skew.add_note(f"re-measuring the clock failed: {sync_failure.msg}")
                    self._raise_refused(skew, kind, ambiguous, client_order_ids)
                attempt -= 1  # refused before processing: the re-send is not a retry
            except OrderNotFound:
                if kind is RequestKind.CANCEL and ambiguous:
                    raise OutcomeUnknown(
                        f"{endpoint.key}: an earlier attempt may have cancelled the order",
                        client_order_ids=client_order_ids,
                    ) from None
                raise
            except RateLimited as exc:
                if kind is RequestKind.PLACE or isinstance(exc, IpBanned) or attempt == attempts:
                    raise
                await self._honour_retry_after(endpoint, exc.retry_after)
        if kind is RequestKind.READ or not ambiguous:
            raise ExchangeUnavailable(None, f"{failure} ({attempts} attempts)")
        raise OutcomeUnknown(failure, client_order_ids=client_order_ids)

    @staticmethod
    def _raise_refused(
        refusal: MexcError, kind: RequestKind, ambiguous: bool, client_order_ids: tuple[str, ...]
    ) -> NoReturn:
        """Raise a refusal; after an earlier attempt of a write had an unknown outcome, the write
        may still have happened, so the outcome is unknown rather than refused."""
        if ambiguous and kind is not RequestKind.READ:
            raise OutcomeUnknown(
                f"{refusal.msg}; an earlier attempt may have been executed",
                client_order_ids=client_order_ids,
                http_status=refusal.http_status,
            ) from refusal
        raise refusal

    async def _honour_retry_after(self, endpoint: Endpoint, retry_after: float | None) -> None:
        seconds = 1.0 if retry_after is None else retry_after
        if self.limiter is not None:
            self.limiter.block(endpoint, seconds)
        else:
            await asyncio.sleep(seconds)

    def _payload(self, endpoint: Endpoint, reply: _Reply, kind: RequestKind) -> object:
        status = reply.status
        if status in (418, 429):
            if self.limiter is not None and reply.retry_after is not None:
                self.limiter.block(endpoint, reply.retry_after)
            cls = IpBanned if status == 418 else RateLimited
            code, msg = _error_body(reply.body) or (status, "too many requests")
            raise cls(code, f"{endpoint.key}: {msg}", status, reply.retry_after)
        try:
            payload = wire.decode(reply.body)
        except ValueError:
            text = reply.body[:200].decode(errors="replace")
            if status >= 400:
                raise MexcError(None, f"{endpoint.key}: {text}", status) from None
            raise UnexpectedResponse(None, f"{endpoint.key}: not JSON: {text}", status) from None
        failure = wire.error_in(payload)
        if failure is not None:
            write = kind is not RequestKind.READ
            raise error_for(failure[0], failure[1], status, write=write)
        if status >= 400:
            raise MexcError(None, f"{endpoint.key}: HTTP {status}", status)
        return payload


def _retry_after(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


def _error_body(body: bytes) -> tuple[int, str] | None:
    try:
        return wire.error_in(wire.decode(body))
    except ValueError:
        return None
