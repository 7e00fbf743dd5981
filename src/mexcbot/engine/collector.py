"""CollectorHold: Python's cyclic garbage collector kept off the path of an order.

CPython collects when allocations pass a threshold, inside whatever code allocates next: an order
that happens to allocate past it pays for the whole collection. Measured in the bot under 50
polling API clients (benchmarks/many_clients.py, 30 s, one trader placing and cancelling): 406
young collections (p50 0.35 ms) and 37 of the middle generation (p50 3.2 ms, up to 7.7 ms), 77
and 6 of them while a placement was in flight, so ~1 % of the placements carried a 3-8 ms
collection, which is where the orders' p99 sits.

So while an order is being placed (the engine's placement, and every order or cancel request
the API is handling) the collector is held (`gc.disable`), and once the last one has been
answered it is released at the next loop pass: the collection that was due runs then, in what
comes after (a read, a tick), none of it lost. Nothing else changes: the same objects are
collected by the same collector, only later. A hold never lasts longer than `max_hold_s`: if
orders overlap without a gap for that long, the collector runs again as it always does (memory
stays bounded under any load), and the next hold starts when they have all been answered.

One per process (the collector is global), built by app.py. A collector that someone else
disabled is left as it is: only a disable of this hold's own is undone.
"""

from __future__ import annotations

import asyncio
import gc

#: The longest a run of overlapping orders keeps the collector held (seconds).
DEFAULT_MAX_HOLD_S = 0.5


class CollectorHold:
    """Counts the orders in flight; the collector is held from the first until the last one
    ends (see the module docstring). `hold`/`release` pair up; use them on the event loop."""

    def __init__(self, *, max_hold_s: float = DEFAULT_MAX_HOLD_S) -> None:
        self._max_hold_s = max_hold_s
        self._holders = 0
        self._disabled_here = False
        self._deadline: asyncio.TimerHandle | None = None
        self.holds = 0
        """Runs of orders during which the collector was held."""
        self.overdue = 0
        """Runs that lasted longer than `max_hold_s` (the collector ran again before their end)."""

    def hold(self) -> None:
        self._holders += 1
        if self._holders == 1 and gc.isenabled():
            gc.disable()
            self._disabled_here = True
            self.holds += 1
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self._max_hold_s, self._overdue)

    def release(self) -> None:
        self._holders -= 1
        if self._holders == 0 and self._disabled_here:
            # at the next pass (a timer due now joins the ready callbacks after those already
            # there): the step that ended the last order writes its answer first
            asyncio.get_running_loop().call_later(0, self._resume_if_free)

    def _resume_if_free(self) -> None:
        if self._holders == 0:
            self._resume()

    def _overdue(self) -> None:
        self._deadline = None
        if self._disabled_here:
            self.overdue += 1
            self._resume()

    def _resume(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._disabled_here:
            self._disabled_here = False
            gc.enable()
