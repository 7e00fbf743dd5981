"""The JSON body of a polled read, encoded once per state it describes and shared by every reader.

Fifty clients polling balances, a ticker, a book and their open orders twice a second ask for the
same few states hundreds of times a second: the engine hands every one of them the same answer
object (`Fresh` from a shared read or a stream-kept book, the open-orders view's list), so the
body is encoded the first time that object is served and the bytes are reused until the state
changes. The routes return them as a `Response`, so FastAPI neither re-validates nor re-encodes
the response model (which still documents the body in OpenAPI).

Measured with benchmarks/many_clients.py (py-spy on the bot's loop): building, validating and
encoding the response models was ~10 % of the loop's busy time before this; a shared body is one
dictionary look-up.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import TypeVar

from fastapi import Response

from mexcbot.engine.reads import Fresh, utc_now

DATA_AGE_HEADER = "X-Data-Age"
JSON = "application/json"
_DATA_AGE = DATA_AGE_HEADER.lower().encode("latin-1")
_V = TypeVar("_V")


class SharedBodies:
    """The last encoded body per key (a route and its arguments), valid while the engine still
    serves the same state object (compared by identity; the entry holds it, so its identity
    cannot be reused by another object meanwhile)."""

    def __init__(self, max_keys: int = 1024) -> None:
        self._max_keys = max_keys
        self._last: dict[Hashable, tuple[object, bytes]] = {}
        self.encoded = 0

    def body(self, key: Hashable, state: object, encode: Callable[[], bytes]) -> bytes:
        hit = self._last.get(key)
        if hit is not None and hit[0] is state:
            return hit[1]
        data = encode()
        self.encoded += 1
        if len(self._last) >= self._max_keys and key not in self._last:
            self._last.clear()  # many distinct keys (symbols x limits): start over
        self._last[key] = (state, data)
        return data


def json_response(body: bytes) -> Response:
    return Response(body, media_type=JSON)


def aged_response(body: bytes, as_of: datetime) -> Response:
    """The shared body, with how old its state is now (``X-Data-Age``, seconds)."""
    response = Response(body, media_type=JSON)
    age = max(0.0, (utc_now() - as_of).total_seconds())
    # appended raw: starlette's MutableHeaders.__setitem__ scans and rebuilds the list (~4 %
    # of the loop under 50 polling clients)
    response.raw_headers.append((_DATA_AGE, b"%.3f" % age))
    return response


def fresh_response(body: bytes, fresh: Fresh[_V]) -> Response:
    return aged_response(body, fresh.as_of)
