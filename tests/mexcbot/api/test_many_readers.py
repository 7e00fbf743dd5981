"""Many readers, one exchange budget, through the real API on a paper bot: 1,000 concurrent balance
reads answer quickly from shared exchange calls without a single 429 at the exchange, every answer
says how old it is, and a read the budget cannot serve within the bound is 503 + Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp

from mexcbot.app import Bot
from mexcsim.http.rate_limits import RateLimiter as SimRateLimiter
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for

UNLIMITED_API = {"api_rate_limit_per_minute": 10_000_000}


def count_exchange_requests(bot: Bot) -> tuple[Counter[str], Counter[str]]:
    """Requests the paper exchange admitted and refused (429), by endpoint."""
    limiter = bot.paper.rate_limiter if bot.paper is not None else None
    assert isinstance(limiter, SimRateLimiter)
    admitted: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    admit: Callable[..., Any] = limiter.admit

    def counting(endpoint: str, weight: int, **who: Any) -> Any:
        verdict = admit(endpoint, weight, **who)
        (admitted if verdict is None else refused)[endpoint] += 1
        return verdict

    limiter.admit = counting  # type: ignore[method-assign]
    return admitted, refused


async def test_1000_concurrent_balance_reads_share_exchange_calls(make_bot: MakeBot) -> None:
    async with make_bot(**UNLIMITED_API) as bot:
        token = (await tokens_for(bot))["read"]
        admitted, refused = count_exchange_requests(bot)
        url = f"{api_url(bot)}/api/v1/account/balances"
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def read() -> tuple[int, str | None, list[dict[str, Any]]]:
                async with http.get(url, headers=auth(token)) as response:
                    return (
                        response.status,
                        response.headers.get("X-Data-Age"),
                        await response.json(),
                    )

            started = time.monotonic()
            answers = await asyncio.gather(*(read() for _ in range(1000)))
            took = time.monotonic() - started
    assert [status for status, _, _ in answers] == [200] * 1000
    # never older than the run plus one cache lifetime (1 s): no answer is a stale snapshot
    assert all(age is not None and 0 <= float(age) <= took + 1.0 for _, age, _ in answers)
    assert all(row["as_of"] for _, _, body in answers for row in body)
    # One shared call per second of the run (plus the one in flight), never one per reader.
    assert 1 <= admitted["GET /api/v3/account"] <= took + 2
    assert sum(refused.values()) == 0


async def test_a_read_past_the_wait_bound_is_503_with_retry_after(make_bot: MakeBot) -> None:
    # every read over REST (live_market_max_symbols=0): a book from the stream costs no budget
    async with make_bot(read_wait_limit=0.5, live_market_max_symbols=0, **UNLIMITED_API) as bot:
        token = (await tokens_for(bot))["read"]
        _, refused = count_exchange_requests(bot)
        base = api_url(bot)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:

            async def depth(limit: int) -> tuple[int, str | None, float, dict[str, Any]]:
                started = time.monotonic()
                async with http.get(
                    f"{base}/api/v1/market/depth/BTCUSDT?limit={limit}", headers=auth(token)
                ) as response:
                    body = await response.json()
                    took = time.monotonic() - started
                    return response.status, response.headers.get("Retry-After"), took, body

            # 450 different books: 450 weight, more than the read share (400 of 500 per 10 s).
            answers = await asyncio.gather(*(depth(limit) for limit in range(1, 451)))
            async with http.get(f"{base}/api/v1/status", headers=auth(token)) as response:
                status = await response.json()
    busy = [answer for answer in answers if answer[0] == 503]
    assert busy, "the read share of the depth budget was not enforced"
    assert {status for status, *_ in answers} == {200, 503}
    for _, retry_after, _, body in busy:
        assert body["code"] == "exchange_busy"
        assert retry_after is not None
        assert int(retry_after) >= 1
    # Refused at once, not after the wait: no later than the reads that were served (those may
    # wait up to the bound for budget), whatever the machine's speed.
    served_took = [took for status, _, took, _ in answers if status == 200]
    assert max(took for _, _, took, _ in busy) <= max(served_took) + 1.0
    served = [body for status, _, _, body in answers if status == 200]
    assert all(body["as_of"] for body in served)
    assert sum(refused.values()) == 0
    assert status["read_wait_limit_seconds"] == 0.5
    assert status["queued_reads"] == 0
