"""Starting a task eagerly: its first step runs at once, as the new task, inside the call.

`start_task(coro)` returns a task like `asyncio.create_task(coro)` does, except that the
coroutine has already run up to its first real wait when the call returns (asyncio's
`eager_task_factory`, Python 3.12+, which is used where it exists). A plain task's first step
waits for the loop's next pass; on the order path that pass sat between the durable intent and
the request on the wire (benchmarks/place_order.py: ~13-16 us a placement between the network
waits, on the shared 2-core box), and now runs while the request is in flight.

Python 3.11 has no eager tasks: the task is created around a `_Resumption`, the coroutine's first
step is run with the new task as the loop's current task (so `asyncio.current_task()`,
`asyncio.timeout()` and aiohttp's timeouts inside it mean the new task) and in the task's own
context, and the task's first step then only takes over what that step left: the future it
waits for, or its result.
"""

from __future__ import annotations

import asyncio
import contextvars
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar, cast

_T = TypeVar("_T")

_native: Callable[..., asyncio.Task[Any]] | None = getattr(asyncio, "eager_task_factory", None)


def start_task(coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
    """The task running `coro`, whose first step has run already (see the module docstring)."""
    loop = asyncio.get_running_loop()
    if _native is not None:  # pragma: no cover - Python 3.12+
        return cast(asyncio.Task[_T], _native(loop, coro))
    context = contextvars.copy_context()
    resumption = _Resumption(coro)
    task: asyncio.Task[_T] = loop.create_task(resumption, context=context)
    caller = asyncio.current_task(loop)
    if caller is not None:
        _leave_task(loop, caller)
    _enter_task(loop, task)
    try:
        context.run(resumption.first_step)
    finally:
        _leave_task(loop, task)
        if caller is not None:
            _enter_task(loop, caller)
    return task


_YIELDED, _RETURNED, _RAISED = range(3)


class _Resumption(Coroutine[Any, Any, Any]):
    """What the task drives: the coroutine, whose first step `first_step` ran already."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self._first: tuple[int, Any] | None = None

    def first_step(self) -> None:
        try:
            self._first = (_YIELDED, self._coro.send(None))
        except StopIteration as stop:
            self._first = (_RETURNED, stop.value)
        except BaseException as exc:  # the task raises it on its first step
            self._first = (_RAISED, exc)

    def send(self, value: Any) -> Any:
        first = self._first
        if first is None:
            return self._coro.send(value)
        self._first = None
        kind, outcome = first
        if kind == _YIELDED:
            return outcome  # the future the coroutine waits for: the task waits for it now
        if kind == _RETURNED:
            raise StopIteration(outcome)
        raise outcome

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        first = self._first
        if first is not None and first[0] != _YIELDED:
            return self.send(None)  # the coroutine ended in its first step: its outcome stands
        self._first = None
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)  # pragma: no cover - the old signature

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:  # pragma: no cover - tasks only
        raise TypeError("a _Resumption is driven by its task only")
