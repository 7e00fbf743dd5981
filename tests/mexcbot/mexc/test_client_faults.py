"""MexcClient under rate limits and exchange faults, against the real simulator over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType
from mexcbot.mexc.errors import ExchangeUnavailable, OrderNotFound, OutcomeUnknown, RateLimited
from mexcbot.mexc.ratelimit import RateLimiter
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcsim.faults import FaultPlan, OrderFault
from mexcsim.ratelimit import RateLimiter as SimRateLimiter
from mexcsim.server import SimServer
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET, sim_config

D = Decimal


def config_for(server: SimServer, **changes: object) -> MexcClientConfig:
    base = MexcClientConfig(
        api_key=SIM_API_KEY,
        api_secret=SIM_API_SECRET,
        base_url=server.url,
        timeout_s=5.0,
        retry_backoff_s=0.01,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[MexcClient]:
    async with MexcClient(config_for(sim)) as mexc:
        yield mexc


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
    async with server, MexcClient(config_for(server, read_retries=0), limiter=limiter) as mexc:
        results = await asyncio.gather(*(mexc.exchange_info(["BTCUSDT"]) for _ in range(70)))
    assert len(results) == 70  # 700 weight > 500 per window, and no RateLimited was raised
    assert mexc.rate_limit_wait_s > 0.3
    assert waits
    assert all(key == "GET /api/v3/exchangeInfo" for key, _ in waits)


async def test_two_per_second_account_cap_is_respected(sim: SimServer) -> None:
    async with MexcClient(config_for(sim, read_retries=0)) as mexc:
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
    async with MexcClient(config_for(sim_no_limits, rate_limit=False)) as mexc:
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
    async with MexcClient(config_for(sim, timeout_s=0.3)) as mexc:
        with pytest.raises(OutcomeUnknown) as info:
            await place_resting(mexc, "slow-1")
        assert info.value.client_order_id == "slow-1"
        sim.faults.clear()
        order = await mexc.get_order("BTCUSDT", client_order_id="slow-1")
        assert order.status is OrderStatus.NEW


async def test_slow_reads_are_retried_then_unavailable(sim: SimServer) -> None:
    sim.faults.set(FaultPlan(latency_ms=1000, latency_paths=("/api/v3/depth",)))
    async with MexcClient(config_for(sim, timeout_s=0.2, read_retries=2)) as mexc:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ExchangeUnavailable, match="3 attempts"):
            await mexc.depth("BTCUSDT")
        assert asyncio.get_running_loop().time() - started >= 0.6  # three timed-out attempts
        assert (await mexc.ticker_price("BTCUSDT")).price > 0  # other endpoints unaffected
