"""A session of orders in LIVE mode with a known key, secret and token: none of them may appear in
any log line or any API response."""

from __future__ import annotations

import io
import json
import logging

import aiohttp

from mexcbot.app import Bot
from mexcbot.config import LogFormat, Mode
from mexcbot.store import TokenRole
from mexcbot.telemetry import configure_logging
from mexcsim import SimServer
from tests.fixtures.api import MakeBot, api_url, auth
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET


async def test_no_secret_in_logs_or_responses(
    sim: SimServer, make_bot: MakeBot, http: aiohttp.ClientSession
) -> None:
    stream = io.StringIO()
    handler = configure_logging(LogFormat.JSON, "DEBUG", stream=stream)
    bodies: list[str] = []
    try:
        async with make_bot(
            mode=Mode.LIVE,
            api_key=SIM_API_KEY,
            api_secret=SIM_API_SECRET,
            exchange_url=sim.url,
        ) as bot:
            _, token = await bot.tokens.create("session", TokenRole.ADMIN, actor="t")
            bodies += await _session(http, bot, token)
            # a wrong token and a malformed header are logged/answered without echoing them
            for header in (f"Bearer {token}x", f"Token {token}"):
                async with http.get(
                    f"{api_url(bot)}/api/v1/status", headers={"Authorization": header}
                ) as response:
                    assert response.status == 401
                    bodies.append(await response.text())
                    bodies.append(str(response.headers))
    finally:
        logging.getLogger().removeHandler(handler)
    logs = stream.getvalue()
    assert "place_order" in logs or "POST /api/v1/trades/orders" in logs  # logging did happen
    assert '"request_id"' in logs
    placed = [
        entry
        for entry in map(json.loads, logs.splitlines())
        if entry["message"].startswith("POST /api/v1/trades/orders -> 201")
    ]
    assert len(placed) == 2
    assert all(entry["client_order_id"].startswith("mxb") for entry in placed)
    # the order's own state changes are logged too, each line tagged with its client order id
    order_lines = [
        entry for entry in map(json.loads, logs.splitlines()) if entry["logger"] == "mexcbot.orders"
    ]
    placed_ids = {entry["client_order_id"] for entry in placed}
    acknowledged = [e for e in order_lines if e["message"].startswith("order acknowledged:")]
    assert {entry["client_order_id"] for entry in acknowledged} == placed_ids
    assert all(entry.get("client_order_id") for entry in order_lines)
    for secret in (SIM_API_KEY, SIM_API_SECRET, token):
        assert secret not in logs
        for body in bodies:
            assert secret not in body


async def _session(http: aiohttp.ClientSession, bot: Bot, token: str) -> list[str]:
    base, headers, seen = f"{api_url(bot)}/api/v1", auth(token), []
    order = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": "30000",
    }
    calls = [
        ("POST", "/trades/orders", order),
        (
            "POST",
            "/trades/orders",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "20"},
        ),
        ("POST", "/trades/orders", {**order, "quantity": "50"}),  # rejected by the exchange
        ("POST", "/trades/orders", {**order, "price": "-1"}),  # 422
        ("GET", "/trades/orders", None),
        ("GET", "/status", None),
        ("GET", "/admin/config", None),
        ("GET", "/admin/tokens", None),
        ("GET", "/admin/audit", None),
        ("GET", "/account/balances", None),
    ]
    for method, path, body in calls:
        async with http.request(method, base + path, json=body, headers=headers) as response:
            seen.append(await response.text())
            seen.append(str(response.headers))
    placed = [line for line in seen if '"client_order_id"' in line]
    assert placed
    async with http.get(f"{api_url(bot)}/metrics", headers=headers) as response:
        seen.append(await response.text())
    return seen
