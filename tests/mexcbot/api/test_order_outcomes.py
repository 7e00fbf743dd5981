"""Placement outcomes a client must not misread: concurrent repeats of one Idempotency-Key, the
local price band, and an order the exchange never received."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp

from mexcbot.app import Bot
from mexcsim import FaultPlan, OrderFault
from tests.fixtures.api import place_order, stored_order_count

BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": "30000"}


async def test_concurrent_requests_with_one_key_and_different_bodies(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """50 at once, quantities 0.001-0.009: exactly one order exists; every request asking for
    that order gets it, final (never PENDING_NEW), and every other one gets 409."""
    key = {"Idempotency-Key": "burst-1"}
    bodies = [{**BUY, "quantity": f"0.00{1 + i % 9}"} for i in range(50)]
    answers = await asyncio.gather(
        *(place_order(http, bot, tokens["trade"], body, **key) for body in bodies)
    )
    created = [order for status, order in answers if status == 201]
    assert created, answers
    first = created[0]
    assert {o["client_order_id"] for o in created} == {first["client_order_id"]}
    for (status, answer), body in zip(answers, bodies, strict=True):
        if Decimal(body["quantity"]) == Decimal(first["quantity"]):
            assert status == 201, answer
            assert answer["status"] == "NEW"
            assert answer["exchange_order_id"] == first["exchange_order_id"]
        else:
            assert status == 409, answer
            assert answer["code"] == "idempotency_key_reused"
    assert await stored_order_count(bot) == 1
    open_on_exchange = await bot.execution.open_orders("BTCUSDT")
    assert [o.client_order_id for o in open_on_exchange] == [first["client_order_id"]]


async def test_a_buy_far_above_the_last_price_is_refused_locally(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """PERCENT_PRICE_BY_SIDE: with a recent last price known, the 422 names the field and
    nothing is stored or sent."""
    status, problem = await place_order(
        http, bot, tokens["trade"], {**BUY, "quantity": "0.001", "price": "10000000"}
    )
    assert status == 422, problem
    assert problem["code"] == "order_rule_violation"
    assert problem["field"] == "price"
    assert problem["rule"] == "percent_price_by_side"
    assert await stored_order_count(bot) == 0


async def test_an_order_the_exchange_never_received_is_a_failure_with_the_order(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    assert bot.paper is not None
    bot.paper.faults.set(FaultPlan(order_fault=OrderFault.ERROR_BEFORE))
    try:
        status, problem = await place_order(
            http, bot, tokens["trade"], {**BUY, "quantity": "0.001"}
        )
    finally:
        bot.paper.faults.clear()
    assert status == 503, problem
    assert problem["code"] == "order_not_received"
    assert problem["order"]["status"] == "REJECTED"
    assert problem["order"]["reject_code"] == -2013
    assert problem["client_order_id"] == problem["order"]["client_order_id"]


async def audit_of(bot: Bot, client_order_id: str) -> list[tuple[str, str, str]]:
    async with bot.uow_factory() as uow:
        entries = await uow.audit.recent(limit=100)
    return [(e.actor, e.action, e.result) for e in entries if e.target == client_order_id]


async def test_every_placement_request_is_audited_once(
    bot: Bot, tokens: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """The first request's entry commits with the order's acknowledgement; its repeat (same
    Idempotency-Key, answered from the stored order) and a failure get the middleware's."""
    body, key = {**BUY, "quantity": "0.001"}, {"Idempotency-Key": "audited-1"}
    status, first = await place_order(http, bot, tokens["trade"], body, **key)
    assert status == 201, first
    cid = first["client_order_id"]
    assert await audit_of(bot, cid) == [("test-trade", "place_order", "ok")]
    status, again = await place_order(http, bot, tokens["trade"], body, **key)
    assert (status, again["client_order_id"]) == (201, cid)
    assert await audit_of(bot, cid) == [("test-trade", "place_order", "ok")] * 2

    assert bot.paper is not None
    bot.paper.faults.set(FaultPlan(order_fault=OrderFault.ERROR_BEFORE))
    try:
        status, problem = await place_order(http, bot, tokens["trade"], body)
    finally:
        bot.paper.faults.clear()
    assert status == 503, problem
    by_request = [e for e in await audit_of(bot, problem["client_order_id"]) if e[0] != "system"]
    assert by_request == [("test-trade", "place_order", "failed:503")]
