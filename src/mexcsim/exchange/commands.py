"""Every change to the exchange as a recorded command, and the clock it runs on.

Why commands and not state deltas: the exchange is deterministic for a given state, command and
time (the liquidity provider's random walk is seeded and its generator state is part of the world).
So a world plus the commands that followed it, each replayed at the time it first ran, rebuilds
exactly the state the live exchange had, and a command is a few dozen bytes where a delta of a
requote touches twenty orders. The price of that design is that *everything* that mutates must be a
command: user requests, admin calls, the market clock's ticks (`advance`) and listings that a mere
query happened to open (`open_listings`).

One command reads the clock once: `CommandClock.command()` pins the time for the whole call, so the
replay can hand the same instant back. Commands that raise (a rejected order) are recorded too: a
rejection can still have opened a due listing, and replaying it rejects it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Protocol

from mexcsim.market.symbols import SymbolSpec, decode_spec
from mexcsim.world import Command

CommandSink = Callable[[Command], None]
"""Where finished commands go (the journal); it must have made them durable when it returns."""


class CommandClock:
    """The exchange's clock, pinned for the length of one command, and its command counter."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._pinned: int | None = None
        self._replay_time: int | None = None
        self.seq = 0
        """The number of the last command run (and recorded, outside a replay)."""
        self.sink: CommandSink | None = None
        self.on_finished: Callable[[], None] | None = None
        """Called after every outermost command (recorded or replayed), e.g. to publish streams."""

    def now(self) -> int:
        """The command's pinned time inside a command, the live clock outside one."""
        return self._pinned if self._pinned is not None else self._clock()

    @property
    def in_command(self) -> bool:
        return self._pinned is not None

    @property
    def is_replaying(self) -> bool:
        """Inside `replaying()`: the command already ran once (before a restart)."""
        return self._replay_time is not None

    @contextmanager
    def command(self, op: str, args: Mapping[str, object]) -> Iterator[int]:
        """Run one command at one instant and record it when it ends (raised or not). A command
        started inside another is part of the outer one and is not recorded on its own."""
        if self._pinned is not None:
            yield self._pinned
            return
        at = self._replay_time if self._replay_time is not None else self._clock()
        self._pinned = at
        try:
            yield at
        finally:
            self._pinned = None
            self.seq += 1
            if self.sink is not None and self._replay_time is None:
                self.sink(Command(self.seq, at, op, dict(args)))
            if self.on_finished is not None:
                self.on_finished()

    @contextmanager
    def replaying(self, command: Command) -> Iterator[None]:
        """Run the body as `command` again: at its time, counted, not recorded a second time."""
        if command.seq != self.seq + 1:
            raise ValueError(f"command {command.seq} does not follow command {self.seq}")
        self._replay_time = command.time_ms
        try:
            yield
        finally:
            self._replay_time = None
            self.seq = max(self.seq, command.seq)


class CommandTarget(Protocol):
    """The facade's methods that commands replay (the facade satisfies it; no import of it here)."""

    def open_due_listings(self) -> int: ...
    def advance(self, symbols: Sequence[str] | None = None) -> None: ...
    def create_account(
        self, api_key: str, api_secret: str, balances: Mapping[str, Decimal] | None = None
    ) -> None: ...
    def fund(self, api_key: str, asset: str, amount: Decimal) -> None: ...
    def set_price(self, symbol: str, price: Decimal) -> None: ...
    def schedule_listing(
        self,
        spec: SymbolSpec,
        open_time_ms: int,
        initial_price: Decimal,
        *,
        api_open_delay_ms: int = 0,
        book_ramp_ms: int | None = None,
    ) -> None: ...
    def place_order(
        self, api_key: str, params: Mapping[str, str], *, test: bool = False
    ) -> dict[str, object]: ...
    def batch_orders(
        self, api_key: str, orders: Sequence[Mapping[str, str]]
    ) -> list[dict[str, object]]: ...
    def cancel_order(self, api_key: str, params: Mapping[str, str]) -> dict[str, object]: ...
    def cancel_open_orders(
        self, api_key: str, params: Mapping[str, str]
    ) -> list[dict[str, object]]: ...
    def create_listen_key(self, api_key: str) -> dict[str, object]: ...
    def keepalive_listen_key(self, api_key: str, listen_key: str) -> dict[str, object]: ...
    def close_listen_key(self, api_key: str, listen_key: str) -> dict[str, object]: ...


def replay_command(target: CommandTarget, command: Command) -> None:
    """Call the method `command` recorded with the arguments it recorded."""
    replayer = _REPLAY.get(command.op)
    if replayer is None:
        raise ValueError(f"command {command.seq} has an unknown op {command.op!r}")
    replayer(target, command.args)


def _text(args: Mapping[str, object], name: str) -> str:
    return str(args[name])


def _fields(args: Mapping[str, object], name: str) -> dict[str, str]:
    raw = args[name]
    assert isinstance(raw, dict)
    return {str(k): str(v) for k, v in raw.items()}


def _funding(args: Mapping[str, object]) -> dict[str, Decimal] | None:
    raw = args["balances"]
    return None if raw is None else {a: Decimal(v) for a, v in _fields(args, "balances").items()}


def _symbols(args: Mapping[str, object]) -> list[str] | None:
    """A partial tick's markets (None: a full tick, as every journal before them recorded)."""
    raw = args.get("symbols")
    if raw is None:
        return None
    assert isinstance(raw, list)
    return [str(s) for s in raw]


def _batch(args: Mapping[str, object]) -> list[dict[str, str]]:
    raw = args["orders"]
    assert isinstance(raw, list)
    return [{str(k): str(v) for k, v in item.items()} for item in raw]


_REPLAY: Mapping[str, Callable[[CommandTarget, Mapping[str, object]], object]] = {
    "open_listings": lambda ex, a: ex.open_due_listings(),
    "advance": lambda ex, a: ex.advance(_symbols(a)),
    "create_account": lambda ex, a: ex.create_account(
        _text(a, "api_key"), _text(a, "api_secret"), _funding(a)
    ),
    "fund": lambda ex, a: ex.fund(
        _text(a, "api_key"), _text(a, "asset"), Decimal(_text(a, "amount"))
    ),
    "set_price": lambda ex, a: ex.set_price(_text(a, "symbol"), Decimal(_text(a, "price"))),
    # journals written before late opens and thin books existed: on time, full book at once
    "schedule_listing": lambda ex, a: ex.schedule_listing(
        decode_spec(a["spec"]),
        int(_text(a, "open_time_ms")),
        Decimal(_text(a, "price")),
        api_open_delay_ms=int(str(a.get("api_open_delay_ms", 0))),
        book_ramp_ms=int(str(a.get("book_ramp_ms", 0))),
    ),
    "place_order": lambda ex, a: ex.place_order(_text(a, "api_key"), _fields(a, "params")),
    "batch_orders": lambda ex, a: ex.batch_orders(_text(a, "api_key"), _batch(a)),
    "cancel_order": lambda ex, a: ex.cancel_order(_text(a, "api_key"), _fields(a, "params")),
    "cancel_open_orders": lambda ex, a: ex.cancel_open_orders(
        _text(a, "api_key"), _fields(a, "params")
    ),
    "create_listen_key": lambda ex, a: ex.create_listen_key(_text(a, "api_key")),
    "keepalive_listen_key": lambda ex, a: ex.keepalive_listen_key(
        _text(a, "api_key"), _text(a, "listen_key")
    ),
    "close_listen_key": lambda ex, a: ex.close_listen_key(
        _text(a, "api_key"), _text(a, "listen_key")
    ),
}
"""How each recorded command runs again (the inverse of the arguments each method records)."""
