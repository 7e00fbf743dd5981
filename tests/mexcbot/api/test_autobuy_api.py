"""The auto-buy routes over real HTTP on a paper bot: rule CRUD with roles and 422s naming the
field, the dry run, and a PRICE_BELOW rule that fires once when the paper price drops, buys with
a LIMIT IOC, opens an AUTOMATIC position with the rule's stop-loss, and does not fire again
within its cooldown or beyond its max executions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from mexcbot.app import Bot
from mexcbot.domain.orders import OrderOrigin, OrderType, TimeInForce
from tests.fixtures.api import MakeBot, api_url, auth, tokens_for
from tests.fixtures.live import connect, next_message, subscribe
from tests.mexcbot.api.test_positions_api import SYMBOL, Client, set_price, until

D = Decimal
RULES = "/api/v1/autobuy/rules"


@pytest.fixture
async def bot(make_bot: MakeBot) -> AsyncIterator[Bot]:
    async with make_bot(exit_check_interval=0.05) as running:
        yield running


def price_rule(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "dip buyer",
        "symbol": SYMBOL,
        "trigger": {"type": "PRICE_BELOW", "value": "3100"},
        "buy_amount_quote": "100",
        "max_slippage_percent": "1",
        "exits": {"stop_loss": {"percent": "10"}},
    }
    body.update(fields)
    return body


async def test_rules_crud_roles_errors_and_the_dry_run(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    trader, reader = Client(http, bot, tokens["trade"]), Client(http, bot, tokens["read"])
    await set_price(http, bot, D("3200"))

    status, _refused = await reader.call("POST", RULES, price_rule())
    assert status == 403
    status, created = await trader.call("POST", RULES, price_rule(max_executions=2))
    assert status == 201, created
    rule_id = created["id"]
    assert created["trigger"] == {"type": "PRICE_BELOW", "value": "3100", "window_seconds": None}
    assert (created["buy_amount_quote"], created["max_slippage_percent"]) == ("100", "1")
    assert created["exits"]["stop_loss"] == {"price": None, "percent": "10"}
    assert (created["executions"], created["last_executed_at"]) == (0, None)
    assert created["order_type"] == "LIMIT_IOC"
    assert created["enabled"] is True

    status, listing_rule = await trader.call(
        "POST",
        RULES,
        {
            "name": "any new USDT coin",
            "trigger": {"type": "NEW_LISTING"},
            "quote_asset": "USDT",
            "buy_amount_quote": "20",
            "max_buy_price": "0.5",
        },
    )
    assert status == 201, listing_rule
    assert listing_rule["symbol"] == "*"

    # 422s naming the field, from the domain's rules and the schema's
    for body, field in [
        (price_rule(trigger={"type": "PERCENT_DROP", "value": "5"}), "trigger.window_seconds"),
        (price_rule(trigger={"type": "NEW_LISTING", "value": "5"}), "trigger.value"),
        (price_rule(symbol="*"), "symbol"),
        (
            price_rule(name_filter="(unclosed", symbol="*", trigger={"type": "NEW_LISTING"}),
            "name_filter",
        ),
        (price_rule(buy_amount_quote="-1"), "buy_amount_quote"),
        (price_rule(max_slippage_percent="101"), "max_slippage_percent"),
        (price_rule(exits={"stop_loss": {"price": "1", "percent": "2"}}), "exits.stop_loss"),
    ]:
        status, problem = await trader.call("POST", RULES, body)
        assert status == 422, (body, problem)
        # the field as the body spells it (the dashboard shows the message beside that input)
        assert problem["field"] == field, problem
        assert problem["detail"].startswith(field), problem
    status, problem = await trader.call("POST", RULES, price_rule(symbol="NOPEUSDT"))
    assert (status, problem["code"]) == (404, "unknown_symbol")

    status, page = await reader.call("GET", RULES)
    assert (status, page["total"]) == (200, 2)
    status, page = await reader.call("GET", RULES, trigger_type="NEW_LISTING")
    assert [r["id"] for r in page["rules"]] == [listing_rule["id"]]
    status, page = await reader.call("GET", RULES, symbol="*")
    assert [r["id"] for r in page["rules"]] == [listing_rule["id"]]
    status, page = await reader.call("GET", RULES, limit="1", offset="1")
    assert (page["total"], len(page["rules"])) == (2, 1)
    status, page = await reader.call("GET", f"/api/v1/autobuy/symbols/{SYMBOL}/rules")
    assert [r["id"] for r in page["rules"]] == [rule_id]

    # the dry run: 3200 is not below 3100; a rule at 3300 would buy now
    status, dry = await reader.call("POST", f"{RULES}/{rule_id}/evaluate")
    assert status == 200, dry
    assert dry["would_buy"] is False
    assert any("not below 3100" in reason for reason in dry["reasons"])
    status, disabled = await trader.call("POST", f"{RULES}/{rule_id}/disable")
    assert (status, disabled["enabled"]) == (200, False)
    status, enabled = await trader.call("POST", f"{RULES}/{rule_id}/enable")
    assert (status, enabled["enabled"]) == (200, True)
    # replaced while disabled by a trigger that holds at 3200: only "disabled" stops it
    status, replaced = await trader.call(
        "PUT",
        f"{RULES}/{rule_id}",
        price_rule(enabled=False, trigger={"type": "PRICE_BELOW", "value": "3300"}),
    )
    assert (status, replaced["trigger"]["value"]) == (200, "3300"), replaced
    assert replaced["max_executions"] is None
    assert replaced["enabled"] is False
    status, dry = await reader.call("POST", f"{RULES}/{rule_id}/evaluate")
    assert (dry["would_buy"], dry["reasons"]) == (False, ["the rule is disabled"]), dry
    assert dry["symbol"] == SYMBOL
    assert D(dry["reference_price"]) > 0
    assert D(dry["quote_amount"]) == D("100")
    assert D(dry["limit_price"]) <= D(dry["reference_price"]) * D("1.01")
    assert D(dry["quantity"]) * D(dry["limit_price"]) <= D("100")
    status, dry = await reader.call("POST", f"{RULES}/{listing_rule['id']}/evaluate")
    assert (dry["would_buy"], dry["matching_listings"]) == (False, [])

    status, problem = await reader.call("GET", f"{RULES}/999999")
    assert (status, problem["code"], problem["field"]) == (404, "rule_not_found", "id")
    status, _ = await reader.call("DELETE", f"{RULES}/{rule_id}")
    assert status == 403
    status, _ = await trader.call("DELETE", f"{RULES}/{rule_id}")
    assert status == 204
    status, _ = await reader.call("GET", f"{RULES}/{rule_id}")
    assert status == 404
    status, executions = await reader.call("GET", "/api/v1/autobuy/executions")
    assert (status, executions) == (200, {"executions": [], "total": 0})
    async with bot.uow_factory() as uow:
        actions = [e.action for e in await uow.audit.recent(limit=100)]
    assert "create_rule" in actions
    assert "delete_rule" in actions


async def positions_of(bot: Bot) -> list[Any]:
    async with bot.uow_factory() as uow:
        return (await uow.positions.list(symbol=SYMBOL, limit=100)).positions


async def test_a_price_below_rule_fires_once_and_opens_a_position_with_its_stop(
    bot: Bot, http: aiohttp.ClientSession
) -> None:
    tokens = await tokens_for(bot)
    trader, reader = Client(http, bot, tokens["trade"]), Client(http, bot, tokens["read"])
    await set_price(http, bot, D("3200"))
    status, cooled = await trader.call(
        "POST", RULES, price_rule(name="cooldown", cooldown_seconds=3600)
    )
    assert status == 201, cooled
    status, capped = await trader.call("POST", RULES, price_rule(name="once", max_executions=1))
    assert status == 201, capped

    async def executions() -> dict[str, Any]:
        return (await reader.call("GET", "/api/v1/autobuy/executions"))[1]

    live = await connect(http, bot, tokens["read"])
    await next_message(live, "authenticated")
    await subscribe(live, "autobuy")
    snapshot = await next_message(live, "snapshot", "autobuy")
    assert snapshot["data"] == {"executions": [], "total": 0}

    await set_price(http, bot, D("3000"))
    done = await until(
        executions,
        lambda page: (
            page["total"] == 2 and all(e["outcome"] != "PENDING" for e in page["executions"])
        ),
    )
    limits = {}
    for execution in done["executions"]:
        assert execution["outcome"] in ("FILLED", "PARTIALLY_FILLED"), execution
        assert execution["trigger_type"] == "PRICE_BELOW"
        assert D(execution["quantity"]) > 0
        assert execution["position_id"] is not None
        # "price P below 3100": the IOC is priced at P + 1 % rounded down to the cent
        reference = D(execution["reason"].split()[1])
        assert reference < D("3100")
        limits[execution["client_order_id"]] = (reference * D("1.01")).quantize(
            D("0.01"), rounding="ROUND_DOWN"
        )
        assert D(execution["average_price"]) <= limits[execution["client_order_id"]]
    positions = await positions_of(bot)
    assert len(positions) == 2
    for position in positions:
        assert position.type.value == "AUTOMATIC"
        assert position.exits.stop_loss is not None
        assert position.exits.stop_loss.percent == D(10)
        assert position.stop_price is not None
        assert position.average_entry is not None
        assert position.stop_price == (position.average_entry * D("0.9")).quantize(
            D("1e-18"), rounding="ROUND_DOWN"
        )
    async with bot.uow_factory() as uow:
        orders = (await uow.orders.list(symbol=SYMBOL, limit=100)).orders
    buys = [o for o in orders if o.request.origin is OrderOrigin.RULE]
    assert len(buys) == 2
    for order in buys:
        assert (order.request.type, order.request.time_in_force) == (
            OrderType.LIMIT,
            TimeInForce.IOC,
        )
        assert order.request.price == limits[order.client_order_id]

    begun = await next_message(live, "update", "autobuy")
    assert begun["data"]["execution"]["outcome"] == "PENDING"
    finished = {
        (m["data"]["execution"]["rule_id"], m["data"]["execution"]["outcome"])
        for m in [await next_message(live, "update", "autobuy") for _ in range(3)]
    }
    assert {rule_id for rule_id, outcome in finished if outcome != "PENDING"} == {
        cooled["id"],
        capped["id"],
    }
    await live.close()

    status, rule = await reader.call("GET", f"{RULES}/{capped['id']}")
    assert rule["executions"] == 1
    assert rule["last_executed_at"] is not None

    # back above, then below again: the cooldown and max executions stop both rules
    await set_price(http, bot, D("3200"))

    async def last() -> Decimal | None:
        return bot.market.last_price(SYMBOL)

    await until(last, lambda price: price is not None and price > D("3100"))
    await asyncio.sleep(0.5)  # a published price above re-arms the triggers
    await set_price(http, bot, D("3000"))
    skipped = await until(
        executions,
        lambda page: sum(e["outcome"] == "SKIPPED" for e in page["executions"]) == 2,
    )
    reasons = sorted(e["detail"] for e in skipped["executions"] if e["outcome"] == "SKIPPED")
    assert ["cooldown" in reasons[0], "max_executions" in reasons[1]] == [True, True], reasons
    await asyncio.sleep(0.5)  # more prices below: nothing more
    assert len(await positions_of(bot)) == 2
    assert (await executions())["total"] == 4
    status, page = await reader.call(
        "GET", "/api/v1/autobuy/executions", rule_id=str(capped["id"]), outcome="SKIPPED"
    )
    assert page["total"] == 1
    async with http.get(f"{api_url(bot)}/metrics", headers=auth(tokens["read"])) as response:
        metrics = await response.text()
    assert 'mexcbot_autobuy_executions_total{outcome="skipped"} 2.0' in metrics
