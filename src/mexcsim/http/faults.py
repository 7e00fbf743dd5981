"""Fault injection: make the simulator misbehave the way a real exchange does, on demand.

MEXC answers slowly, answers 5xx after it has already placed an order, drops connections, and
throttles. A bot that never sees these in tests will lose orders in production, so the simulator can
be told, at run time (from a test through ``SimServer.faults`` or over ``/_sim/faults``), to do
each of them.

The injector only decides *what* should happen to a request; the HTTP layer applies the decision. It
holds no threads and no locks: everything runs on the server's event loop.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

#: The paths whose POSTs place orders; order faults hit only these (never ``/api/v3/order/test``).
ORDER_PLACING_PATHS = frozenset({"/api/v3/order", "/api/v3/batchOrders"})

#: Upper bounds of a plan's values: a plan is a test tool, and one unbounded value (a latency of
#: 10^12 ms) would hang every path of the server until it is restarted.
MAX_LATENCY_MS = 60_000
MAX_COUNT = 100_000
MAX_LATENCY_PATHS = 100
MAX_STREAM_STALL_MS = 600_000
MAX_STREAM_SKIPS = 1_000

#: Requests under this prefix are the ones a ``rate_limit_burst`` throttles or a read error fails.
MEXC_API_PREFIX = "/api/v3/"


class OrderFault(StrEnum):
    """What happens to an order-placing POST while a fault is armed."""

    NONE = "none"
    ERROR_BEFORE = "error_before"  # 5xx, the exchange is never touched: no order exists
    ERROR_AFTER = "error_after"  # the order is placed, then the client gets a 5xx
    DROP_AFTER = "drop_after"  # the order is placed, then the connection is cut with no response


class FaultPlanError(ValueError):
    """A fault plan breaks a rule; ``field`` names the field, the message says the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field} {rule}")
        self.field = field


@dataclass
class FaultPlan:
    """The faults currently armed. The default plan is a well-behaved exchange."""

    latency_ms: int = 0
    """Delay added after the request is processed, before the response is sent (so a slow
    response to an order POST still means the order exists)."""
    latency_paths: tuple[str, ...] = ()
    """Paths the latency applies to; empty means every path."""
    order_fault: OrderFault = OrderFault.NONE
    """Applies to order-placing POSTs (``/api/v3/order``, ``/api/v3/batchOrders``)."""
    order_fault_count: int = 1
    """How many order POSTs the fault hits; -1 keeps it armed until cleared."""
    error_status: int = 503
    """The 5xx status sent for ERROR_BEFORE / ERROR_AFTER."""
    rate_limit_burst: int = 0
    """The next N requests under /api/v3 get HTTP 429 with ``Retry-After: 1``."""
    read_error_count: int = 0
    """The next N GET requests under /api/v3 answer ``error_status`` without touching the exchange
    (MEXC fails reads too; a client should retry them)."""
    ws_drop_connections: bool = False
    """Close every open ``/ws`` connection once, as soon as the plan is armed (then it disarms)."""
    ws_stall_ms: int = 0
    """Hold every websocket push for this long from the moment the plan is armed (queued, then
    sent late and in order), as a congested MEXC gateway does."""
    ws_skip_depth_versions: int = 0
    """The next N aggre-depth pushes each leave one version out (``fromVersion`` jumps by 2): a
    client must notice the gap and resync from REST."""
    ws_push_delay_ms: int = 0
    """Delay added to every websocket push (frames stay in order)."""

    def to_json(self) -> dict[str, object]:
        """The plan as the JSON object ``/_sim/faults`` returns."""
        return {
            "latency_ms": self.latency_ms,
            "latency_paths": list(self.latency_paths),
            "order_fault": self.order_fault.value,
            "order_fault_count": self.order_fault_count,
            "error_status": self.error_status,
            "rate_limit_burst": self.rate_limit_burst,
            "read_error_count": self.read_error_count,
            "ws_drop_connections": self.ws_drop_connections,
            "ws_stall_ms": self.ws_stall_ms,
            "ws_skip_depth_versions": self.ws_skip_depth_versions,
            "ws_push_delay_ms": self.ws_push_delay_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FaultPlan:
        """Build a plan from JSON; absent fields take their defaults, unknown ones are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultPlanError(
                unknown[0], f"is not a fault plan field; allowed: {', '.join(sorted(known))}"
            )
        plan = cls()
        if "latency_ms" in data:
            plan.latency_ms = _int_field(data, "latency_ms", minimum=0, maximum=MAX_LATENCY_MS)
        if "latency_paths" in data:
            paths = data["latency_paths"]
            if not isinstance(paths, list | tuple) or not all(
                isinstance(p, str) and p.startswith("/") for p in paths
            ):
                raise FaultPlanError("latency_paths", "must be a list of paths starting with '/'")
            if len(paths) > MAX_LATENCY_PATHS:
                raise FaultPlanError(
                    "latency_paths", f"must list at most {MAX_LATENCY_PATHS} paths"
                )
            plan.latency_paths = tuple(str(p) for p in paths)
        if "order_fault" in data:
            value = data["order_fault"]
            try:
                plan.order_fault = OrderFault(str(value))
            except ValueError:
                allowed = ", ".join(f.value for f in OrderFault)
                raise FaultPlanError("order_fault", f"must be one of: {allowed}") from None
        if "order_fault_count" in data:
            plan.order_fault_count = _int_field(
                data, "order_fault_count", minimum=-1, maximum=MAX_COUNT
            )
        if "error_status" in data:
            plan.error_status = _int_field(data, "error_status", minimum=500)
            if plan.error_status > 599:
                raise FaultPlanError("error_status", "must be a 5xx status (500..599)")
        if "rate_limit_burst" in data:
            plan.rate_limit_burst = _int_field(
                data, "rate_limit_burst", minimum=0, maximum=MAX_COUNT
            )
        if "read_error_count" in data:
            plan.read_error_count = _int_field(
                data, "read_error_count", minimum=0, maximum=MAX_COUNT
            )
        if "ws_drop_connections" in data:
            drop = data["ws_drop_connections"]
            if not isinstance(drop, bool):
                raise FaultPlanError("ws_drop_connections", "must be true or false")
            plan.ws_drop_connections = drop
        bounds = {
            "ws_stall_ms": MAX_STREAM_STALL_MS,
            "ws_skip_depth_versions": MAX_STREAM_SKIPS,
            "ws_push_delay_ms": MAX_LATENCY_MS,
        }
        for name, maximum in bounds.items():
            if name in data:
                setattr(plan, name, _int_field(data, name, minimum=0, maximum=maximum))
        plan.validate()
        return plan

    def validate(self) -> None:
        """Refuse a plan the injector cannot honour (also used for plans built in Python)."""
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise FaultPlanError("latency_ms", f"must be between 0 and {MAX_LATENCY_MS}")
        for name in ("order_fault_count", "rate_limit_burst", "read_error_count"):
            if getattr(self, name) > MAX_COUNT:
                raise FaultPlanError(name, f"must be <= {MAX_COUNT}")
        if self.order_fault_count != -1 and self.order_fault_count < 1:
            raise FaultPlanError("order_fault_count", "must be >= 1, or -1 for 'until cleared'")
        if not 500 <= self.error_status <= 599:
            raise FaultPlanError("error_status", "must be a 5xx status (500..599)")
        if self.rate_limit_burst < 0:
            raise FaultPlanError("rate_limit_burst", "must be >= 0")
        if self.read_error_count < 0:
            raise FaultPlanError("read_error_count", "must be >= 0")
        bounds = {
            "ws_stall_ms": MAX_STREAM_STALL_MS,
            "ws_skip_depth_versions": MAX_STREAM_SKIPS,
            "ws_push_delay_ms": MAX_LATENCY_MS,
        }
        for name, maximum in bounds.items():
            if not 0 <= getattr(self, name) <= maximum:
                raise FaultPlanError(name, f"must be between 0 and {maximum}")

    @property
    def order_fault_armed(self) -> bool:
        return self.order_fault is not OrderFault.NONE


def _int_field(data: Mapping[str, object], name: str, *, minimum: int, maximum: int = 599) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultPlanError(name, "must be an integer")
    if value < minimum:
        raise FaultPlanError(name, f"must be >= {minimum}")
    if value > maximum:
        raise FaultPlanError(name, f"must be <= {maximum}")
    return value


class FaultInjector:
    """Holds the armed plan and consumes its one-shot parts as requests pass."""

    def __init__(self) -> None:
        self.plan = FaultPlan()
        self._stall_until = 0.0
        self.on_drop_streams: list[Callable[[], None]] = []
        """Called when a plan with ``ws_drop_connections`` is armed (the stream hub listens)."""

    def set(self, plan: FaultPlan) -> None:
        """Arm ``plan``, replacing whatever was armed (its counters start afresh)."""
        plan.validate()
        self.plan = dataclasses.replace(plan, ws_drop_connections=False)
        self._stall_until = time.monotonic() + plan.ws_stall_ms / 1000.0
        if plan.ws_drop_connections:
            for drop in self.on_drop_streams:
                drop()

    def clear(self) -> None:
        """Back to a well-behaved exchange."""
        self.plan = FaultPlan()
        self._stall_until = 0.0

    def push_hold_s(self) -> float:
        """Seconds a websocket push must wait now: what is left of a stall plus the push delay."""
        stall = max(0.0, self._stall_until - time.monotonic())
        return stall + self.plan.ws_push_delay_ms / 1000.0

    def take_depth_skip(self) -> bool:
        """True when this aggre-depth push must leave a version out (consumes one)."""
        if self.plan.ws_skip_depth_versions <= 0:
            return False
        self.plan.ws_skip_depth_versions -= 1
        return True

    def take_rate_limit(self, path: str) -> bool:
        """True when this request must be throttled by the armed burst (consumes one)."""
        if self.plan.rate_limit_burst <= 0 or not path.startswith(MEXC_API_PREFIX):
            return False
        self.plan.rate_limit_burst -= 1
        return True

    def take_read_error(self, method: str, path: str) -> bool:
        """True when this read must fail with ``error_status`` (consumes one)."""
        if self.plan.read_error_count <= 0 or method != "GET":
            return False
        if not path.startswith(MEXC_API_PREFIX):
            return False
        self.plan.read_error_count -= 1
        return True

    def take_order_fault(self, method: str, path: str) -> OrderFault:
        """The fault this request suffers, consuming one use of it; NONE for other requests."""
        plan = self.plan
        if method != "POST" or path not in ORDER_PLACING_PATHS or not plan.order_fault_armed:
            return OrderFault.NONE
        fault = plan.order_fault
        if plan.order_fault_count > 0:
            plan.order_fault_count -= 1
            if plan.order_fault_count == 0:
                plan.order_fault = OrderFault.NONE
                plan.order_fault_count = 1
        return fault

    def latency_for(self, path: str) -> float:
        """Seconds to hold the response of a request to ``path`` before sending it."""
        plan = self.plan
        if plan.latency_ms <= 0:
            return 0.0
        if plan.latency_paths and path not in plan.latency_paths:
            return 0.0
        return plan.latency_ms / 1000.0
