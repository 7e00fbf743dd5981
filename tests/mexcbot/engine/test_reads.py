"""SharedRead and BalanceBook: one exchange call for many identical reads, answers with their age,
stale answers dropped after a fill, and balances served from the stream while it is live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mexcbot.domain.market import Balance
from mexcbot.engine.events import BalanceChanged, StreamStatusChanged
from mexcbot.engine.reads import BalanceBook, Fresh, SharedRead

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_many_identical_concurrent_reads_share_one_exchange_call() -> None:
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    shared: SharedRead[str, int] = SharedRead(1.0, wall=lambda: T0)
    readers = [asyncio.ensure_future(shared.get("BTCUSDT", fetch)) for _ in range(1000)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*readers)
    assert calls == 1
    assert {answer.value for answer in answers} == {42}
    assert {answer.as_of for answer in answers} == {T0}


async def test_an_answer_is_served_for_its_lifetime_then_fetched_again() -> None:
    clock = Clock()
    values = iter(range(10))

    async def fetch() -> int:
        return next(values)

    shared: SharedRead[None, int] = SharedRead(0.25, clock=clock)
    assert (await shared.get(None, fetch)).value == 0
    clock.now += 0.2
    assert (await shared.get(None, fetch)).value == 0
    clock.now += 0.1
    assert (await shared.get(None, fetch)).value == 1


async def test_a_failure_is_shared_but_not_cached() -> None:
    attempts = 0

    async def fetch() -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("down")
        return 7

    shared: SharedRead[None, int] = SharedRead(10.0)
    first = await asyncio.gather(
        shared.get(None, fetch), shared.get(None, fetch), return_exceptions=True
    )
    assert all(isinstance(result, ConnectionError) for result in first)
    assert (await shared.get(None, fetch)).value == 7
    assert attempts == 2


async def test_invalidation_during_a_flight_keeps_its_stale_answer_out_of_the_cache() -> None:
    gate = asyncio.Event()
    values = iter(["before fill", "after fill"])

    async def fetch() -> str:
        value = next(values)
        if value == "before fill":
            await gate.wait()
        return value

    shared: SharedRead[None, str] = SharedRead(10.0)
    early = asyncio.ensure_future(shared.get(None, fetch))
    await asyncio.sleep(0)
    shared.invalidate()  # a fill happened while the snapshot was on its way
    gate.set()
    assert (await early).value == "before fill"
    assert (await shared.get(None, fetch)).value == "after fill"


def test_the_balance_book_answers_only_while_the_user_stream_is_live() -> None:
    book = BalanceBook()
    book.on_stream(StreamStatusChanged("user", True, None, 0, 0, T0))
    assert book.current() is None  # no snapshot yet
    book.replace(Fresh([Balance("USDT", Decimal("100"), Decimal("0"))], T0))
    later = T0 + timedelta(seconds=5)
    book.apply(BalanceChanged("USDT", Decimal("70"), Decimal("30"), later))
    book.apply(BalanceChanged("BTC", Decimal("0.001"), Decimal("0"), later))
    live = book.current()
    assert live is not None
    assert live.as_of == later
    assert live.value == [
        Balance("BTC", Decimal("0.001"), Decimal("0")),
        Balance("USDT", Decimal("70"), Decimal("30")),
    ]
    book.on_stream(StreamStatusChanged("user", False, "lost", 1, 1, later))
    assert book.current() is None  # a gap may hide changes: ask the exchange again
