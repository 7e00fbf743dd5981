"""The auto-buy and listings pages against the API shapes planned for them (issues 10 and 11).

Those routes are built on other branches; until they are merged here the browser answers them
from these fakes (Playwright's request routing), so the pages' code runs: a rule listed, a
create refused with a field error shown beside the field, a dry run, a listing counting down on
the bot's clock and a snipe's latency. Without the fakes each page says it is not available."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.mexcbot.dashboard.conftest import DESKTOP, BotThread, expect, login, screenshot

RULE = {
    "id": 7,
    "name": "new USDT coins",
    "enabled": True,
    "symbol": "*",
    "quote_asset": "USDT",
    "name_filter": None,
    "trigger": {"type": "NEW_LISTING", "value": None, "window_seconds": None},
    "buy_amount_quote": "25",
    "max_buy_price": None,
    "max_slippage_percent": "5",
    "min_volume_24h": None,
    "allow_pre_trading": False,
    "cooldown_seconds": 0,
    "max_executions": 3,
    "order_type": "LIMIT_IOC",
    "risk_check": True,
    "exits": None,
    "executions": 1,
    "last_executed_at": "2026-01-01T00:00:00Z",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}


def _json(route: Any, body: Any, status: int = 200) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def test_the_autobuy_page_shows_rules_field_errors_and_a_dry_run(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    posted: list[dict[str, Any]] = []

    def rules(route: Any) -> None:
        request = route.request
        if request.method == "POST" and request.url.endswith("/autobuy/rules"):
            posted.append(json.loads(request.post_data))
            _json(
                route,
                {
                    "type": "https://mexcbot.dev/problems/validation_error",
                    "title": "The request is invalid",
                    "status": 422,
                    "detail": "buy_amount_quote: must be greater than 0",
                    "code": "validation_error",
                    "field": "buy_amount_quote",
                    "errors": [
                        {
                            "field": "buy_amount_quote",
                            "message": "must be greater than 0",
                            "rule": "greater_than",
                        }
                    ],
                },
                422,
            )
        elif request.url.endswith("/evaluate"):
            _json(
                route,
                {
                    "rule_id": 7,
                    "would_buy": False,
                    "reasons": ["no listing matches: none upcoming"],
                    "symbol": None,
                    "reference_price": None,
                    "limit_price": None,
                    "quantity": None,
                    "quote_amount": None,
                    "matching_listings": [],
                },
            )
        else:
            _json(route, {"rules": [RULE], "total": 1})

    page.route("**/api/v1/autobuy/rules**", rules)
    page.route(
        "**/api/v1/autobuy/executions**", lambda route: _json(route, {"executions": [], "total": 0})
    )
    login(page, live_bot.url, live_bot.tokens["trade"])
    page.goto(f"{live_bot.url}/#/autobuy")
    row = page.locator("[data-testid=rule-7]")
    expect(row).to_contain_text("new USDT coins")
    expect(row.locator("[data-testid=rule-state]")).to_have_text("enabled")

    row.get_by_role("button", name="Dry run").click()
    expect(page.locator("[data-testid=dry-run]")).to_contain_text("no listing matches")

    page.get_by_role("button", name="New rule").click()
    form = page.locator("[data-testid=rule-form]")
    form.get_by_label("Name").fill("dip buyer")
    form.get_by_label("Buy amount (quote)").fill("0")
    form.get_by_role("button", name="Create rule").click()
    error = form.locator("[data-error-for=buy_amount_quote]")
    expect(error).to_have_text("must be greater than 0")
    assert form.get_by_label("Buy amount (quote)").get_attribute("aria-invalid") == "true"
    assert posted[-1]["name"] == "dip buyer"
    assert posted[-1]["buy_amount_quote"] == "0"  # sent as typed: a decimal string
    assert posted[-1]["trigger"] == {"type": "NEW_LISTING"}
    screenshot(page, "autobuy-rules-desktop")


def test_the_listings_page_counts_down_and_shows_snipe_latency(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    server_now = datetime.now(UTC) - timedelta(hours=2)  # the bot's clock, not the browser's
    opens = server_now + timedelta(minutes=1, seconds=30)
    upcoming = {
        "listings": [
            {
                "id": 1,
                "symbol": "NEWUSDT",
                "base_asset": "NEW",
                "quote_asset": "USDT",
                "status": "ANNOUNCED",
                "open_time": opens.isoformat(),
                "first_seen_at": server_now.isoformat(),
                "opened_at": None,
                "trading_at": None,
                "sources": [{"source": "calendar"}],
                "snipes": [],
            }
        ],
        "server_time": server_now.isoformat(),
    }
    recent = {
        "listings": [
            {
                **upcoming["listings"][0],
                "id": 2,
                "symbol": "OLDUSDT",
                "status": "TRADING",
                "snipes": [
                    {
                        "rule_id": 7,
                        "rule_name": "new USDT coins",
                        "outcome": "FILLED",
                        "client_order_id": "mxb1",
                        "position_id": 3,
                        "armed_ms": 0,
                        "fired_ms": 4,
                        "accepted_ms": 31,
                        "filled_ms": 35,
                        "attempts": 2,
                        "quantity": "120.5",
                        "average_price": "0.2075",
                        "detail": None,
                    }
                ],
            }
        ],
        "server_time": server_now.isoformat(),
    }
    page.route("**/api/v1/listings?view=upcoming", lambda route: _json(route, upcoming))
    page.route("**/api/v1/listings?view=recent", lambda route: _json(route, recent))
    login(page, live_bot.url, live_bot.tokens["read"])
    page.goto(f"{live_bot.url}/#/listings")
    countdown = page.locator("[data-testid=listing-NEWUSDT] [data-testid=countdown]")
    countdown.wait_for()
    first = countdown.inner_text()
    assert first.startswith("00:01:"), first
    expect(countdown).not_to_have_text(first, timeout=5000)
    assert countdown.inner_text() < first  # it counts down ("00:01:28" < "00:01:29")
    snipe = page.locator("[data-testid=recent-OLDUSDT]")
    expect(snipe.locator("[data-testid=snipe-outcome]")).to_have_text("FILLED")
    expect(snipe.locator("[data-testid=snipe-latency]")).to_have_text(
        "armed 0 ms · fired 4 ms · accepted 31 ms · filled 35 ms"
    )
    screenshot(page, "listings-planned-desktop")


def test_the_pages_say_not_available_exactly_when_the_routes_are_missing(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["read"])
    for name, route, shown in (
        ("autobuy", "/autobuy/rules", "[data-testid=rules]"),
        ("listings", "/listings?view=upcoming", "[data-testid=upcoming-listings]"),
    ):
        status, _ = live_bot.api("GET", route, live_bot.tokens["read"])
        page.goto(f"{live_bot.url}/#/{name}")
        if status == 404:  # this bot has no such feature (before the branches are merged)
            expect(page.locator("[data-testid=unavailable]")).to_contain_text("not available")
        else:
            assert status == 200
            page.locator(shown).wait_for()
