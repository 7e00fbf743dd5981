"""MexcClient under rate limits and exchange faults, against the real simulator over HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType
from mexcbot.mexc.errors import ExchangeUnavailable, OrderNotFound, OutcomeUnknown, RateLimited
from mexcbot.mexc.ratelimit import RateLimiter
from mexcbot.mexc.rest import MexcClient
from mexcsim import SimServer
from mexcsim.http.faults import FaultPlan, OrderFault
from mexcsim.http.rate_limits import RateLimiter as SimRateLimiter
from tests.fixtures.mexc import client_config
from tests.fixtures.sim import sim_config

D = Decimal


async def place_resting(mexc: MexcClient, client_order_id: str) -> None:
    await mexc.place_order(
        "BTCUSDT",
        OrderSide.BUY,
        OrderType.LIMIT,
        quantity=D("0.001"),
        price=D("30000"),
        client_order_id=client_order_id,
    )


# --- rate limits ---------------------------------------------------------------------------------


async def test_hammering_past_the_weight_budget_waits_instead_of_429() -> None:
    # Same 500-weight budget as MEXC, over a 1 s window so the test is quick. No retries: a 429
    # would surface as RateLimited instead of being hidden by a retry.
    server = SimServer(sim_config(), rate_limiter=SimRateLimiter(window_seconds=1.0))
    waits: list[tuple[str, float]] = []
    limiter = RateLimiter(window_s=1.0, on_wait=lambda key, s: waits.append((key, s)))
    async with (
        server,
        MexcClient(client_config(server.url, read_retries=0), limiter=limiter) as mexc,
    ):
        results = await asyncio.gather(*(mexc.exchange_info(["BTCUSDT"]) for _ in range(70)))
    assert len(results) == 70  # 700 weight > 500 per window, and no RateLimited was raised
    assert mexc.rate_limit_wait_s > 0.3
    assert waits
    assert all(key == "GET /api/v3/exchangeInfo" for key, _ in waits)


async def test_two_per_second_account_cap_is_respected(sim: SimServer) -> None:
    async with MexcClient(client_config(sim.url, read_retries=0)) as mexc:
        for _ in range(5):
            await mexc.account()
        assert mexc.rate_limit_wait_s >= 1.5


async def test_retry_after_is_honoured_on_reads(sim: SimServer, client: MexcClient) -> None:
    sim.faults.set(FaultPlan(rate_limit_burst=1))
    assert (await client.depth("BTCUSDT")).asks
    assert client.rate_limit_wait_s >= 0.9  # the simulator's Retry-After is 1 s


async def test_rate_limited_order_is_not_retried(sim: SimServer, client: MexcClient) -> None:
    sim.faults.set(FaultPlan(rate_limit_burst=1))
    with pytest.raises(RateLimited) as info:
        await place_resting(client, "rl-1")
    assert info.value.retry_after == 1
    assert info.value.http_status == 429
    with pytest.raises(OrderNotFound):
        await client.get_order("BTCUSDT", client_order_id="rl-1")


async def test_rate_limit_can_be_disabled(sim_no_limits: SimServer) -> None:
    async with MexcClient(client_config(sim_no_limits.url, rate_limit=False)) as mexc:
        for _ in range(4):
            await mexc.account()
        assert mexc.rate_limit_wait_s == 0.0


# --- faults on order placement: never retried, OutcomeUnknown carries the client id ---------------


@pytest.mark.parametrize(
    ("fault", "exists"),
    [
        (OrderFault.ERROR_BEFORE, False),
        (OrderFault.ERROR_AFTER, True),
        (OrderFault.DROP_AFTER, True),
    ],
)
async def test_order_faults_are_outcome_unknown(
    sim: SimServer, client: MexcClient, fault: OrderFault, exists: bool
) -> None:
    sim.faults.set(FaultPlan(order_fault=fault, order_fault_count=1))
    with pytest.raises(OutcomeUnknown) as info:
        await place_resting(client, f"fault-{fault.value}")
    assert info.value.client_order_id == f"fault-{fault.value}"
    # Resolving the unknown outcome by client order id tells the truth either way.
    if exists:
        order = await client.get_order("BTCUSDT", client_order_id=f"fault-{fault.value}")
        assert order.status is OrderStatus.NEW
    else:
        with pytest.raises(OrderNotFound):
            await client.get_order("BTCUSDT", client_order_id=f"fault-{fault.value}")
    assert len(await client.open_orders("BTCUSDT")) == (1 if exists else 0)  # never re-posted


async def test_batch_fault_is_outcome_unknown_with_every_client_id(
    sim: SimServer, client: MexcClient
) -> None:
    from mexcbot.mexc.models import NewOrder

    sim.faults.set(FaultPlan(order_fault=OrderFault.ERROR_AFTER))
    orders = [
        NewOrder(
            OrderSide.BUY,
            OrderType.LIMIT,
            quantity=D("0.001"),
            price=D("30000"),
            client_order_id=f"bf-{i}",
        )
        for i in range(2)
    ]
    with pytest.raises(OutcomeUnknown) as info:
        await client.place_batch_orders("BTCUSDT", orders)
    assert info.value.client_order_ids == ("bf-0", "bf-1")


async def test_order_timeout_is_outcome_unknown(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(latency_ms=1500, latency_paths=("/api/v3/order",)))
    async with MexcClient(client_config(sim.url, timeout_s=0.3)) as mexc:
        with pytest.raises(OutcomeUnknown) as info:
            await place_resting(mexc, "slow-1")
        assert info.value.client_order_id == "slow-1"
        sim.faults.clear()
        order = await mexc.get_order("BTCUSDT", client_order_id="slow-1")
        assert order.status is OrderStatus.NEW


async def test_slow_reads_are_retried_then_unavailable(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(latency_ms=1000, latency_paths=("/api/v3/depth",)))
    async with MexcClient(client_config(sim.url, timeout_s=0.2, read_retries=2)) as mexc:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ExchangeUnavailable, match="3 attempts"):
            await mexc.depth("BTCUSDT")
        assert asyncio.get_running_loop().time() - started >= 0.6  # three timed-out attempts
        assert (await mexc.ticker_price("BTCUSDT")).price > 0  # other endpoints unaffected


# --- read-side 5xx: retried with backoff, bounded ------------------------------------------------


def counting(sent: Counter[str]) -> Callable[[str, float], None]:
    return lambda key, _: sent.update([key])


async def test_reads_are_retried_through_fewer_5xx_than_retries(sim: SimServer) -> None:
    sent: Counter[str] = Counter()
    sim.faults.set(FaultPlan(read_error_count=2, error_status=503))
    config = client_config(sim.url, read_retries=3, retry_backoff_s=0.05)
    async with MexcClient(config, on_request=counting(sent)) as mexc:
        started = asyncio.get_running_loop().time()
        book = await mexc.depth("BTCUSDT", limit=5)
        elapsed = asyncio.get_running_loop().time() - started
    assert book.bids
    assert book.asks
    assert sent["GET /api/v3/depth"] == 3  # two 503s, then the answer
    assert elapsed >= 0.05 + 0.1  # exponential backoff between the attempts
    assert sim.faults.plan.read_error_count == 0


async def test_signed_reads_are_retried_too(sim: SimServer, client: MexcClient) -> None:
    await place_resting(client, "signed-read")
    sim.faults.set(FaultPlan(read_error_count=2, error_status=502))
    order = await client.get_order("BTCUSDT", client_order_id="signed-read")
    assert order.status is OrderStatus.NEW
    sim.faults.set(FaultPlan(read_error_count=1))
    assert (await client.account()).balances


async def test_more_5xx_than_retries_is_exchange_unavailable(sim: SimServer) -> None:
    sent: Counter[str] = Counter()
    sim.faults.set(FaultPlan(read_error_count=5, error_status=503))
    async with MexcClient(
        client_config(sim.url, read_retries=2), on_request=counting(sent)
    ) as mexc:
        with pytest.raises(ExchangeUnavailable, match=r"HTTP 503 \(3 attempts\)") as info:
            await mexc.ticker_price("BTCUSDT")
        assert info.value.code is None
        assert sent["GET /api/v3/ticker/price"] == 3  # 1 + read_retries, then it gives up
        assert sim.faults.plan.read_error_count == 2
        sim.faults.clear()
        assert (await mexc.ticker_price("BTCUSDT")).price > 0


async def test_writes_are_untouched_by_read_faults(sim: SimServer, client: MexcClient) -> None:
    sim.faults.set(FaultPlan(read_error_count=1))
    await place_resting(client, "not-a-read")  # POST: the read fault stays armed
    assert sim.faults.plan.read_error_count == 1


# --- cancel retries -------------------------------------------------------------------------------


async def test_throttled_cancel_is_retried_and_cancels(sim: SimServer, client: MexcClient) -> None:
    await place_resting(client, "cancel-429")
    sim.faults.set(FaultPlan(rate_limit_burst=1))
    order = await client.cancel_order("BTCUSDT", client_order_id="cancel-429")
    assert order.status is OrderStatus.CANCELED
    assert client.rate_limit_wait_s >= 0.9  # Retry-After honoured before the second attempt


async def test_cancel_retry_after_a_lost_answer_is_outcome_unknown(sim: SimServer) -> None:
    # The first DELETE cancels on the exchange but its answer comes too late; the retry then
    # hears "unknown order", which must not read as "there was nothing to cancel".
    sent: Counter[str] = Counter()

    def on_request(key: str, seconds: float) -> None:
        sent.update([key])
        if key == "DELETE /api/v3/order":
            sim.faults.clear()  # only the first attempt is slow

    async with MexcClient(client_config(sim.url)) as setup:  # the usual timeout to place it
        await place_resting(setup, "cancel-lost")
    async with MexcClient(client_config(sim.url, timeout_s=0.3), on_request=on_request) as mexc:
        sim.faults.set(FaultPlan(latency_ms=1500, latency_paths=("/api/v3/order",)))
        with pytest.raises(OutcomeUnknown, match="earlier attempt") as info:
            await mexc.cancel_order("BTCUSDT", client_order_id="cancel-lost")
        assert info.value.client_order_id == "cancel-lost"
        assert sent["DELETE /api/v3/order"] == 2
        order = await mexc.get_order("BTCUSDT", client_order_id="cancel-lost")
        assert order.status is OrderStatus.CANCELED


async def test_cancel_that_never_answers_is_outcome_unknown(sim: SimServer) -> None:
    # placed and read back with the usual timeout: only the cancel's 0.2 s is under test (a
    # loaded box once took longer than that for the placement itself)
    async with MexcClient(client_config(sim.url)) as mexc:
        await place_resting(mexc, "cancel-slow")
    async with MexcClient(client_config(sim.url, timeout_s=0.2, read_retries=1)) as hasty:
        sim.faults.set(FaultPlan(latency_ms=1000, latency_paths=("/api/v3/order",)))
        with pytest.raises(OutcomeUnknown) as info:
            await hasty.cancel_order("BTCUSDT", client_order_id="cancel-slow")
        assert info.value.client_order_id == "cancel-slow"
        sim.faults.clear()
    async with MexcClient(client_config(sim.url)) as mexc:
        order = await mexc.get_order("BTCUSDT", client_order_id="cancel-slow")
        assert order.status is OrderStatus.CANCELED
