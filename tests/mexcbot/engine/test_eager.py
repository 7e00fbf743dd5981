"""start_task: a task whose first step has run when the call returns, as that task."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from mexcbot.engine.eager import start_task

_VAR = contextvars.ContextVar("var", default="caller")


async def test_the_first_step_runs_inside_the_call_and_the_rest_in_the_task() -> None:
    steps: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def work() -> str:
        steps.append("first")
        await gate
        steps.append("rest")
        return "done"

    task = start_task(work())
    assert steps == ["first"]  # before the loop's next pass
    gate.set_result(None)
    assert await task == "done"
    assert steps == ["first", "rest"]


async def test_the_first_step_runs_as_the_new_task_in_its_own_context() -> None:
    caller = asyncio.current_task()
    seen: list[object] = []

    async def work() -> None:
        seen.append(asyncio.current_task())
        _VAR.set("task")  # in the task's context, not the caller's
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        seen.append(_VAR.get())

    task = start_task(work())
    assert seen == [task]
    assert asyncio.current_task() is caller  # the caller is the current task again
    assert _VAR.get() == "caller"
    await task
    assert seen == [task, task, "task"]


async def test_a_timeout_inside_the_coroutine_ends_its_own_wait() -> None:
    async def work() -> str:
        try:
            async with asyncio.timeout(0.01):  # set in the first step: it means the new task
                await asyncio.sleep(10)
        except TimeoutError:
            return "timed out"
        return "slept"  # pragma: no cover

    assert await start_task(work()) == "timed out"


async def test_a_coroutine_that_ends_in_its_first_step_gives_its_outcome_to_the_task() -> None:
    async def finished() -> int:
        return 7

    async def failed() -> int:
        raise ValueError("refused")

    assert await start_task(finished()) == 7
    with pytest.raises(ValueError, match="refused"):
        await start_task(failed())


async def test_cancelling_before_the_task_took_over_reaches_the_coroutine_where_it_waits() -> None:
    cleaned: list[str] = []
    never = asyncio.get_running_loop().create_future()

    async def work() -> None:
        try:
            await never
        except asyncio.CancelledError:
            cleaned.append("cancelled at its wait")
            raise

    task = start_task(work())
    task.cancel()  # before the loop's next pass
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cancelled at its wait"]
    assert task.cancelled()


async def test_cancelling_later_cancels_what_it_waits_for_as_a_plain_task() -> None:
    waiting = asyncio.get_running_loop().create_future()

    async def work() -> None:
        await waiting

    task = start_task(work())
    await asyncio.sleep(0)  # the task has taken over
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert waiting.cancelled()
