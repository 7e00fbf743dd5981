"""The snipe on a paper bot: a NEW_LISTING rule created through the API buys a listing scheduled
through the simulator's admin API at its open, exactly once, opens a NEWCOIN position with the
rule's exits and reports its latency; a late open is retried through 10007; two rules and
several detectors still buy once; a restart while armed resumes without a second buy; a skewed
exchange clock is corrected for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from mexcbot.app import Bot, start_bot
from mexcbot.config import Mode
from mexcbot.paper import ADMIN_TOKEN_SUFFIX
from mexcsim import SimServer
from tests.fixtures.api import MakeBot, api_url, auth, bot_settings, tokens_for, wait_ready
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET, sim_config

FAST: dict[str, Any] = {
    "listing_poll_interval": 0.2,
    "listing_symbols_interval": 0.2,
    "snipe_arm_lead": 1.0,
    "snipe_deadline": 3.0,
}
RULE = {
    "name": "new coins",
    "symbol": "*",
    "quote_asset": "USDT",
    "trigger": {"type": "NEW_LISTING"},
    "buy_amount_quote": "5",
    "max_buy_price": "0.75",
    "order_type": "LIMIT_IOC",
    "exits": {"stop_loss": {"percent": "10"}},
}


def sim_auth(bot: Bot) -> dict[str, str]:
    token = Path(bot.settings.paper_state_file + ADMIN_TOKEN_SUFFIX).read_text().strip()
    return {"Authorization": f"Bearer {token}"}


async def sim_post(http: aiohttp.ClientSession, bot: Bot, path: str, body: object) -> Any:
    assert bot.paper is not None
    async with http.post(f"{bot.paper.url}{path}", json=body, headers=sim_auth(bot)) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def sim_get(http: aiohttp.ClientSession, bot: Bot, path: str, **params: str) -> Any:
    assert bot.paper is not None
    async with http.get(f"{bot.paper.url}{path}", params=params, headers=sim_auth(bot)) as response:
        return await response.json()


async def create_rule(http: aiohttp.ClientSession, bot: Bot, token: str, **changes: Any) -> int:
    async with http.post(
        f"{api_url(bot)}/api/v1/autobuy/rules", json={**RULE, **changes}, headers=auth(token)
    ) as response:
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


async def schedule(
    http: aiohttp.ClientSession, bot: Bot, base: str, in_s: float, **extra: object
) -> int:
    open_ms = int(time.time() * 1000 + in_s * 1000)
    await sim_post(
        http,
        bot,
        "/_sim/listings",
        {
            "symbol": f"{base}USDT",
            "base_asset": base,
            "open_time": open_ms,
            "initial_price": "0.5",
            **extra,
        },
    )
    return open_ms


async def recent_snipes(http: aiohttp.ClientSession, bot: Bot, token: str, symbol: str) -> Any:
    async with http.get(
        f"{api_url(bot)}/api/v1/listings", params={"view": "recent"}, headers=auth(token)
    ) as response:
        found = [x for x in (await response.json())["listings"] if x["symbol"] == symbol]
    return found[0]["snipes"] if found else []


async def finished_snipe(
    http: aiohttp.ClientSession, bot: Bot, token: str, symbol: str
) -> dict[str, Any]:
    for _ in range(300):
        snipes = await recent_snipes(http, bot, token, symbol)
        if snipes and snipes[0]["outcome"] != "PENDING":
            return dict(snipes[0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no finished snipe of {symbol}")


async def test_buys_a_new_listing_once_at_its_open(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(**FAST) as bot:
        tokens = await tokens_for(bot)
        first = await create_rule(http, bot, tokens["trade"])
        second = await create_rule(http, bot, tokens["trade"], name="also new coins")
        open_ms = await schedule(http, bot, "SNIPA", in_s=2.5)
        snipe = await finished_snipe(http, bot, tokens["read"], "SNIPAUSDT")
        assert snipe["outcome"] in ("FILLED", "PARTIALLY_FILLED"), snipe
        assert snipe["rule_id"] == min(first, second)
        assert snipe["armed_ms"] < 0 <= snipe["accepted_ms"]
        assert snipe["position_id"] is not None
        accepted = await sim_get(http, bot, "/_sim/orders/accepted", symbol="SNIPAUSDT")
        buys = [o for o in accepted["orders"] if o["side"] == "BUY"]
        assert len(buys) == 1, accepted
        assert buys[0]["acceptedAtUs"] >= open_ms * 1000
        async with http.get(
            f"{api_url(bot)}/api/v1/positions/{snipe['position_id']}", headers=auth(tokens["read"])
        ) as response:
            position = await response.json()
        assert position["type"] == "NEWCOIN"
        assert position["exits"]["stop_loss"]["percent"] == "10"
        assert position["quantity"] != "0"
        async with http.get(
            f"{api_url(bot)}/api/v1/autobuy/executions", headers=auth(tokens["read"])
        ) as response:
            executions = (await response.json())["executions"]
        assert [e["rule_id"] for e in executions if e["symbol"] == "SNIPAUSDT"] == [
            snipe["rule_id"]
        ]


async def test_a_late_api_open_is_retried_through_10007(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    async with make_bot(**FAST) as bot:
        tokens = await tokens_for(bot)
        await create_rule(http, bot, tokens["trade"])
        open_ms = await schedule(http, bot, "SNIPL", in_s=2.0, api_open_delay_ms=300)
        snipe = await finished_snipe(http, bot, tokens["read"], "SNIPLUSDT")
        assert snipe["outcome"] in ("FILLED", "PARTIALLY_FILLED"), snipe
        assert snipe["attempts"] > 1
        assert snipe["accepted_ms"] >= 300
        accepted = await sim_get(http, bot, "/_sim/orders/accepted", symbol="SNIPLUSDT")
        assert accepted["refused10007"] == snipe["attempts"] - 1
        assert [o["acceptedAtUs"] >= (open_ms + 300) * 1000 for o in accepted["orders"]] == [True]


async def test_a_restart_while_armed_resumes_and_buys_once(
    make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    settings = {**FAST, "snipe_arm_lead": 3.0}
    async with make_bot(**settings) as bot:
        tokens = await tokens_for(bot)
        await create_rule(http, bot, tokens["trade"])
        await schedule(http, bot, "SNIPR", in_s=4.5)
        for _ in range(200):  # armed: the execution row is committed
            async with http.get(
                f"{api_url(bot)}/api/v1/autobuy/executions", headers=auth(tokens["read"])
            ) as response:
                if (await response.json())["executions"]:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the snipe never armed")
    async with make_bot(**settings) as bot:
        snipe = await finished_snipe(http, bot, tokens["read"], "SNIPRUSDT")
        assert snipe["outcome"] in ("FILLED", "PARTIALLY_FILLED"), snipe
        accepted = await sim_get(http, bot, "/_sim/orders/accepted", symbol="SNIPRUSDT")
        assert len([o for o in accepted["orders"] if o["side"] == "BUY"]) == 1


async def test_the_snipe_fires_on_the_exchange_clock_not_its_own(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """mexcsim's clock runs 400 ms ahead: a bot firing on its own clock would be 400 ms late."""
    skew_ms = 400
    async with SimServer(sim_config(clock_skew_ms=skew_ms)) as sim:
        settings = bot_settings(
            tmp_path,
            mode=Mode.LIVE,
            api_key=SIM_API_KEY,
            api_secret=SIM_API_SECRET,
            exchange_url=sim.url,
            exchange_ws_url=sim.url.replace("http://", "ws://") + "/ws",
            exchange_web_url=sim.url,
            **FAST,
        )
        async with start_bot(settings) as bot:
            await wait_ready(bot)
            tokens = await tokens_for(bot)
            await create_rule(http, bot, tokens["trade"])
            open_ms = int(time.time() * 1000) + skew_ms + 2500  # on the exchange's clock
            async with http.post(
                f"{sim.url}/_sim/listings",
                json={
                    "symbol": "SKEWUSDT",
                    "base_asset": "SKEW",
                    "open_time": open_ms,
                    "initial_price": "0.5",
                },
            ) as response:
                assert response.status == 201
            snipe = await finished_snipe(http, bot, tokens["read"], "SKEWUSDT")
            async with http.get(
                f"{sim.url}/_sim/orders/accepted", params={"symbol": "SKEWUSDT"}
            ) as response:
                accepted = await response.json()
    assert snipe["outcome"] in ("FILLED", "PARTIALLY_FILLED"), snipe
    first_ms = accepted["orders"][0]["acceptedAtUs"] / 1000 - open_ms
    assert 0 <= first_ms < skew_ms / 4, (first_ms, snipe)
