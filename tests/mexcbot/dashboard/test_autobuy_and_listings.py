"""The auto-buy and listings pages on the real API: a NEW_LISTING rule created in the form (a
refused field shown beside it first), a dry run, then a listing scheduled on the simulator's
admin API that counts down on the bot's clock and is sniped, its latency shown."""

from __future__ import annotations

import time
from typing import Any

from tests.mexcbot.dashboard.conftest import DESKTOP, BotThread, expect, login, screenshot

BOT_SETTINGS: dict[str, Any] = {
    "listing_poll_interval": 0.5,
    "listing_symbols_interval": 0.5,
    "snipe_arm_lead": 2.0,
    "snipe_deadline": 3.0,
}


def test_a_rule_made_in_the_form_snipes_a_listing_that_counts_down(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["trade"])
    page.goto(f"{live_bot.url}/#/autobuy")
    page.get_by_role("button", name="New rule").click()
    form = page.locator("[data-testid=rule-form]")
    form.get_by_label("Name").fill("dash new coins")
    form.get_by_label("Symbol (* = any new listing)").fill("*")
    form.get_by_label("Buy amount (quote)").fill("0")
    form.get_by_label("Max buy price").fill("0.75")
    form.get_by_role("button", name="Create rule").click()
    expect(form.locator("[data-error-for=buy_amount_quote]")).not_to_be_empty()
    status, rules = live_bot.api("GET", "/autobuy/rules", live_bot.tokens["read"])
    assert (status, rules["total"]) == (200, 0)  # the refused rule changed nothing

    form.get_by_label("Buy amount (quote)").fill("5")
    form.get_by_role("button", name="Create rule").click()
    status, rules = 0, {"rules": []}
    for _ in range(50):
        status, rules = live_bot.api("GET", "/autobuy/rules", live_bot.tokens["read"])
        if rules["rules"]:
            break
        time.sleep(0.1)
    (rule,) = rules["rules"]
    assert (rule["name"], rule["symbol"], rule["trigger"]["type"]) == (
        "dash new coins",
        "*",
        "NEW_LISTING",
    )
    row = page.locator(f"[data-testid=rule-{rule['id']}]")
    expect(row.locator("[data-testid=rule-state]")).to_have_text("enabled")
    row.get_by_role("button", name="Dry run").click()
    expect(page.locator("[data-testid=dry-run]")).to_be_visible()
    screenshot(page, "autobuy-rule-created-desktop")

    open_ms = int(time.time() * 1000) + 9_000
    live_bot.sim(
        "/_sim/listings",
        {"symbol": "DASHUSDT", "base_asset": "DASH", "open_time": open_ms, "initial_price": "0.5"},
    )
    page.goto(f"{live_bot.url}/#/listings")
    countdown = page.locator("[data-testid=listing-DASHUSDT] [data-testid=countdown]")
    countdown.wait_for(timeout=8_000)
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=5_000)
    screenshot(page, "listings-countdown-desktop")
    snipe = page.locator("[data-testid=recent-DASHUSDT]")
    expect(snipe.locator("[data-testid=snipe-outcome]")).to_have_text("FILLED", timeout=20_000)
    expect(snipe.locator("[data-testid=snipe-latency]")).to_contain_text("accepted")
    screenshot(page, "listings-sniped-desktop")
