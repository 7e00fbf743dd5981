"""What one request may cost before the API has decided it is worth serving.

- ``FailedAuthLimit``: failed authentications per client address in a fixed window; past the
  limit the client is answered 429 without any token lookup.
- ``read_body``: the request body, read with a running length check and one deadline for the
  whole body, so an oversized body is refused as soon as it passes the limit and a slow one
  cannot hold a request open.

Both are used by the request gate (api/gate.py); they know nothing of ASGI routing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Receive

from mexcbot.api.errors import ApiProblem

MAX_TRACKED_CLIENTS = 10_000


class FailedAuthLimit:
    """At most ``limit`` failed authentications per client address per ``window`` seconds.

    The window starts at a client's first failure; a success does not reset it (a client holding
    one valid token must not be able to interleave guesses). At most ``max_clients`` addresses are
    tracked; the oldest are forgotten first, so the table cannot grow without bound.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, tuple[float, int]] = {}

    def retry_after(self, client: str) -> float:
        """0.0 when ``client`` may try to authenticate; else the seconds until it may again."""
        entry = self._failures.get(client)
        if entry is None:
            return 0.0
        started, count = entry
        left = started + self._window - self._clock()
        if left <= 0:
            del self._failures[client]
            return 0.0
        return left if count >= self._limit else 0.0

    def record_failure(self, client: str) -> None:
        now = self._clock()
        entry = self._failures.pop(client, None)
        if entry is None or now - entry[0] >= self._window:
            entry = (now, 0)
        self._failures[client] = (entry[0], entry[1] + 1)
        while len(self._failures) > self._max_clients:
            del self._failures[next(iter(self._failures))]

    def refusal(self, wait: float) -> ApiProblem:
        return ApiProblem(
            429,
            "too_many_failed_authentications",
            "Authorization: too many requests with a missing or invalid token from this "
            f"address (the limit is {self._limit} in {self._window:g} s); "
            "retry after the Retry-After seconds",
            field="Authorization",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_bytes: int
    timeout: float

    def too_large(self) -> ApiProblem:
        return ApiProblem(
            413,
            "body_too_large",
            f"body: the request body is larger than the limit of {self.max_bytes} bytes",
            title="The request body is too large",
            field="body",
        )

    def too_slow(self) -> ApiProblem:
        return ApiProblem(
            408,
            "body_timeout",
            f"body: the request body did not arrive within {self.timeout:g} seconds",
            title="The request body arrived too slowly",
            field="body",
        )


class ClientDisconnected(Exception):
    """The client went away before its body was complete: there is no one to answer."""


async def read_body(receive: Receive, limits: BodyLimits) -> bytes:
    """The whole body; raises the 413 problem as soon as more than ``limits.max_bytes`` arrived,
    the 408 problem when it is not complete within ``limits.timeout`` seconds."""
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(loop.time() + limits.timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limits.max_bytes:
                    raise limits.too_large()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise limits.too_slow() from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
