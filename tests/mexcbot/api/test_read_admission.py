"""The request gate admits a bounded number of reads at once; orders and cancels never wait for
a place, so a burst of polled reads cannot queue ahead of them; a read arriving while an order
or cancel is in flight waits for it, for a bounded time; orders and cancels hold the garbage
collector, reads do not."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mexcbot.api import gate as gate_module
from mexcbot.api.gate import READ_HOLD_S, READS_AT_ONCE, RequestGate
from mexcbot.api.limits import BodyLimits, FailedAuthLimit
from mexcbot.engine.collector import CollectorHold


class HeldRoutes:
    """An app whose GETs are held until released; it records who is inside."""

    def __init__(self) -> None:
        self.inside: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside.append(scope["method"])
        if scope["method"] == "GET":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def _scope(method: str) -> Scope:
    return {"type": "http", "method": method, "path": "/health", "headers": [], "client": None}


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


def _gate(app: ASGIApp, collector: CollectorHold | None = None) -> RequestGate:
    authority: Any = None  # /health is public: the gate asks no one
    return RequestGate(
        app,
        authority=authority,
        failures=FailedAuthLimit(10, 60.0),
        limits=BodyLimits(1024, 5.0),
        public_paths=frozenset({"/health"}),
        collector=collector,
    )


async def test_reads_wait_for_a_place_and_an_order_passes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gate_module, "READ_PLACE_S", 60.0)  # the held reads keep their places
    routes = HeldRoutes()
    gate = _gate(routes)
    reads = [asyncio.create_task(gate(_scope("GET"), _receive, _send)) for _ in range(1000)]
    await asyncio.sleep(0.05)
    assert routes.inside == ["GET"] * READS_AT_ONCE  # the rest wait in the gate

    await asyncio.wait_for(gate(_scope("DELETE"), _receive, _send), timeout=5)
    assert routes.inside[-1] == "DELETE"  # answered while the other reads still wait
    assert not any(task.done() for task in reads)

    routes.release.set()
    await asyncio.wait_for(asyncio.gather(*reads), timeout=10)
    assert routes.inside.count("GET") == 1000


async def test_a_read_that_waits_gives_its_place_to_the_next() -> None:
    """Reads held inside the route (waiting for the exchange, say) give their places back after
    READ_PLACE_S: a read answered at once is not held up behind them."""
    routes = HeldRoutes()
    gate = _gate(routes)
    waiting = [
        asyncio.create_task(gate(_scope("GET"), _receive, _send)) for _ in range(2 * READS_AT_ONCE)
    ]
    await asyncio.sleep(0)
    assert routes.inside == ["GET"] * READS_AT_ONCE  # the others wait for a place...
    await asyncio.sleep(gate_module.READ_PLACE_S * 4)
    assert routes.inside == ["GET"] * 2 * READS_AT_ONCE  # ...until the first gave theirs up

    quick = HeldRoutes()
    quick.release.set()
    gate.app = quick  # the same gate, its places given up by the reads still inside
    await asyncio.wait_for(gate(_scope("GET"), _receive, _send), timeout=1)
    assert quick.inside == ["GET"]
    assert not any(task.done() for task in waiting)

    routes.release.set()
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
    for _ in range(READS_AT_ONCE):  # every place was given back once, and no more
        await asyncio.wait_for(gate.reads.acquire(), timeout=1)
    assert gate.reads.locked()


class HeldWrites:
    """An app whose non-GETs are held until released; it records who is inside, in order."""

    def __init__(self) -> None:
        self.inside: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside.append(scope["method"])
        if scope["method"] != "GET":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_a_read_waits_for_the_order_in_flight() -> None:
    routes = HeldWrites()
    gate = _gate(routes)
    order = asyncio.create_task(gate(_scope("POST"), _receive, _send))
    await asyncio.sleep(0)
    read = asyncio.create_task(gate(_scope("GET"), _receive, _send))
    await asyncio.sleep(READ_HOLD_S / 4)
    assert routes.inside == ["POST"]  # the read is held while the order is handled

    routes.release.set()
    await asyncio.wait_for(asyncio.gather(order, read), timeout=5)
    assert routes.inside == ["POST", "GET"]


async def test_a_slow_order_holds_a_read_no_longer_than_the_bound() -> None:
    routes = HeldWrites()
    gate = _gate(routes)
    order = asyncio.create_task(gate(_scope("DELETE"), _receive, _send))
    await asyncio.sleep(0)
    await asyncio.wait_for(gate(_scope("GET"), _receive, _send), timeout=5)
    assert routes.inside == ["DELETE", "GET"]  # answered while the cancel is still in flight
    assert not order.done()
    routes.release.set()
    await asyncio.wait_for(order, timeout=5)
    await asyncio.wait_for(gate(_scope("GET"), _receive, _send), timeout=READ_HOLD_S / 2)


async def test_held_reads_stay_held_a_moment_after_the_last_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gate_module, "WRITE_LINGER_S", 0.5)
    monkeypatch.setattr(gate_module, "READ_HOLD_S", 5.0)
    routes = HeldWrites()
    gate = _gate(routes)
    order = asyncio.create_task(gate(_scope("POST"), _receive, _send))
    await asyncio.sleep(0)
    read = asyncio.create_task(gate(_scope("GET"), _receive, _send))
    await asyncio.sleep(0.01)
    routes.release.set()
    await asyncio.wait_for(order, timeout=5)
    await asyncio.sleep(0.05)
    assert routes.inside == ["POST"]  # the order is answered, the read it held still waits
    await asyncio.wait_for(read, timeout=5)
    assert routes.inside == ["POST", "GET"]


class CollectorAtRoute:
    """An app that records, per method, whether the garbage collector ran when it was routed."""

    def __init__(self) -> None:
        self.enabled: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.enabled[scope["method"]] = gc.isenabled()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_the_gate_holds_the_collector_for_changes_only() -> None:
    routes = CollectorAtRoute()
    gate = _gate(routes, CollectorHold())
    gc.enable()
    try:
        await gate(_scope("DELETE"), _receive, _send)
        await asyncio.sleep(0)  # the release's pass
        await asyncio.sleep(0)
        await gate(_scope("GET"), _receive, _send)
        assert routes.enabled == {"DELETE": False, "GET": True}
        assert gc.isenabled()
    finally:
        gc.enable()
