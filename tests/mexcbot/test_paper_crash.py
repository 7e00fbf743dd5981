"""Paper mode survives a SIGKILL like a real exchange would: what the API acknowledged is still on
the paper account after a restart (balances, locks, open orders, fills), and the two agree."""

from __future__ import annotations

import json
import signal
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.api import start_bot_process

SYMBOL = "BTCUSDT"
RESTING = 10


def call(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def balances(base: str, token: str) -> dict[str, tuple[Decimal, Decimal]]:
    rows = call(base, token, "GET", "/api/v1/account/balances")
    return {row["asset"]: (Decimal(row["free"]), Decimal(row["locked"])) for row in rows}


@pytest.mark.slow
def test_kill_9_right_after_acknowledgements_loses_nothing(tmp_path: Path) -> None:
    with start_bot_process(tmp_path) as bot:
        token = bot.printed_token
        assert token is not None
        base = bot.base_url
        before = balances(base, token)
        last = Decimal(call(base, token, "GET", f"/api/v1/market/tickers/{SYMBOL}")["last_price"])
        resting = []
        for i in range(RESTING):
            price = (last * Decimal("0.8")).quantize(Decimal("0.01")) - i
            order = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.001"}
            resting.append(
                call(base, token, "POST", "/api/v1/trades/orders", {**order, "price": str(price)})
            )
        market = call(
            base,
            token,
            "POST",
            "/api/v1/trades/orders",
            {"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quote_amount": "50"},
        )
        bot.process.send_signal(signal.SIGKILL)  # right after the last acknowledgement
        bot.process.wait(timeout=10)
    assert all(order["status"] == "NEW" for order in resting)
    assert market["status"] == "FILLED"

    with start_bot_process(tmp_path) as bot:
        base = bot.base_url
        open_now = call(base, token, "GET", f"/api/v1/trades/orders/open/{SYMBOL}")
        assert sorted(o["client_order_id"] for o in open_now) == sorted(
            o["client_order_id"] for o in resting
        )
        again = call(
            base, token, "GET", f"/api/v1/trades/orders/{SYMBOL}/{market['client_order_id']}"
        )
        assert again["status"] == "FILLED"
        assert again["executed_qty"] == market["executed_qty"]
        assert again["cumulative_quote_qty"] == market["cumulative_quote_qty"]

        after = balances(base, token)
        locked = sum(Decimal(o["price"]) * Decimal(o["quantity"]) for o in resting)
        fees = {asset: Decimal(amount) for asset, amount in market["fees"].items()}
        spent = Decimal(market["cumulative_quote_qty"])
        bought = Decimal(market["executed_qty"])
        usdt_free, usdt_locked = after["USDT"]
        assert usdt_locked == before["USDT"][1] + locked
        assert usdt_free + usdt_locked == sum(before["USDT"]) - spent - fees.get("USDT", 0)
        assert sum(after["BTC"]) == sum(before.get("BTC", (0, 0))) + bought - fees.get("BTC", 0)

        admin_token = tmp_path / "mexcbot-paper.json.admin-token"
        assert admin_token.stat().st_mode & 0o777 == 0o600
        status = call(base, token, "GET", "/api/v1/status")
        assert status["lost_orders"] == 0
        assert status["reconciliation"]["last_report"]["discrepancies"] == 0
