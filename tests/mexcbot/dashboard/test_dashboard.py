"""The dashboard in headless Chromium on a paper bot: log in, balances, orders placed, filled and
cancelled, a position's stop firing, a read token without trade buttons, a lost live connection,
and screenshots of every page at desktop and phone width (build/screenshots/)."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.mexcbot.dashboard.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    BotThread,
    expect,
    login,
    screenshot,
)

D = Decimal
SYMBOL = "BTCUSDT"


def last_price(live_bot: BotThread) -> Decimal:
    status, ticker = live_bot.api("GET", f"/market/tickers/{SYMBOL}", live_bot.tokens["read"])
    assert status == 200, ticker
    return D(ticker["last_price"])


def test_login_shows_the_paper_mode_and_balances(live_bot: BotThread, new_page: Any) -> None:
    page = new_page(DESKTOP)  # a fresh context: nothing cached, so this is a first load
    login(page, live_bot.url, live_bot.tokens["admin"])
    timing = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType('navigation')[0];
          const res = performance.getEntriesByType('resource');
          const sum = (rows) => rows.reduce((s, r) => s + r.transferSize, 0);
          const files = res.filter((r) => new URL(r.name).pathname.startsWith('/ui/'));
          const api = res.filter((r) => new URL(r.name).pathname.startsWith('/api/'));
          return {document_bytes: nav.transferSize, files: files.length, file_bytes: sum(files),
                  api_requests: api.length, api_bytes: sum(api),
                  dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
                  load_ms: Math.round(nav.loadEventEnd)};
        }"""
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "first-load.json").write_text(json.dumps(timing, indent=2))
    print(f"first load of the overview on loopback: {timing}")

    assert "PAPER" in page.locator("[data-testid=mode-banner]").inner_text()
    status, balances = live_bot.api("GET", "/account/balances", live_bot.tokens["read"])
    assert status == 200
    usdt = next(b for b in balances if b["asset"] == "USDT")
    row = page.locator("[data-testid=balance-USDT]")
    row.wait_for()
    assert usdt["free"] in row.inner_text()  # the exact decimal string, not a float's rendering
    assert page.locator("[data-testid=trading-state]").inner_text() == "ACTIVE"

    screenshot(page, "overview-desktop")

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("API token").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    page.get_by_label("API token").fill("mxb_not-a-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_contain_text("not valid")


def test_place_an_order_with_rounding_then_cancel_it(live_bot: BotThread, new_page: Any) -> None:
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["trade"])
    page.goto(f"{live_bot.url}/#/orders")
    form = page.locator("[data-testid=order-form]")
    form.wait_for()
    rules = page.locator("[data-testid=symbol-rules]")
    status, symbol = live_bot.api("GET", f"/market/symbols/{SYMBOL}", live_bot.tokens["read"])
    assert status == 200
    assert f"min notional {symbol['min_notional']}" in rules.inner_text()

    price = (last_price(live_bot) * D("0.97")).quantize(D("0.01"))
    places = symbol["quantity_precision"]
    typed = "0.00123456789"
    rounded = str(D(typed).quantize(D(1).scaleb(-places), rounding=ROUND_DOWN))
    page.get_by_label("Price").fill(str(price) + "123")  # more decimals than the tick allows
    page.get_by_label("Quantity", exact=True).fill(typed)
    preview = page.locator("[data-testid=order-preview]")
    assert f"Quantity sent: {rounded} BTC" in preview.inner_text()
    assert f"Price sent: {price} USDT" in preview.inner_text()

    page.get_by_role("button", name="Place order").click()
    placed = page.locator("[data-testid=open-orders] tbody tr").first
    placed.wait_for()
    assert rounded in placed.inner_text()
    assert "NEW" in placed.locator("[data-testid=status]").inner_text()
    status, open_orders = live_bot.api(
        "GET", f"/trades/orders/open/{SYMBOL}", live_bot.tokens["read"]
    )
    assert status == 200
    assert [o["quantity"] for o in open_orders] == [rounded]
    screenshot(page, "orders-desktop")

    placed.get_by_role("button", name="Cancel").click()
    page.locator("[data-testid=open-orders] tbody tr").wait_for(state="detached")
    history = page.locator("[data-testid=order-history] tbody tr").first
    history.locator("[data-testid=status]", has_text="CANCELED").wait_for()
    status, open_orders = live_bot.api(
        "GET", f"/trades/orders/open/{SYMBOL}", live_bot.tokens["read"]
    )
    assert (status, open_orders) == (200, [])


def test_a_fill_arrives_without_a_reload(live_bot: BotThread, new_page: Any) -> None:
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["read"])
    page.goto(f"{live_bot.url}/#/orders")
    page.evaluate("window.notReloaded = true")
    live_bot.set_price(SYMBOL, D("30000"))
    status, order = live_bot.api(
        "POST",
        "/trades/orders",
        live_bot.tokens["trade"],
        {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "29500"},
    )
    assert status == 201, order
    row = page.locator(f"[data-testid='order-{order['client_order_id']}']")
    row.wait_for()
    live_bot.set_price(SYMBOL, D("29000"))  # the market trades through the bid
    page.locator(f"[data-testid='fill-{order['client_order_id']}']").wait_for()
    row.wait_for(state="detached")
    assert page.evaluate("window.notReloaded") is True


def test_a_position_opened_with_a_stop_closes_when_the_price_falls(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["trade"])
    live_bot.set_price(SYMBOL, D("30000"))
    page.goto(f"{live_bot.url}/#/positions")
    form = page.locator("[data-testid=open-position-form]")
    form.get_by_label("Spend (quote amount)").fill("60")
    form.get_by_label("Stop price").fill("28500")
    form.get_by_label("Take profit 1: % above entry").fill("10")
    form.get_by_label("Take profit 1: fraction").fill("0.5")
    form.get_by_role("button", name="Buy at market and open").click()
    detail = page.locator("[data-testid=position-detail]")
    expect(detail.locator("[data-testid=detail-stop]")).to_have_text("28500")
    position_id = page.evaluate("location.hash").rsplit("/", 1)[1]
    row = page.locator(f"[data-testid='position-{position_id}']")
    expect(row.locator("[data-testid=position-status]")).to_have_text("OPEN")
    edit = page.locator("[data-testid=edit-exits-form]")
    edit.get_by_label("Stop price").fill("28600")
    edit.get_by_role("button", name="Save exits").click()
    expect(detail.locator("[data-testid=detail-stop]")).to_have_text("28600")
    expect(row.locator("[data-testid=stop]")).to_have_text("28600")
    page.wait_for_timeout(300)  # the candles, then the levels drawn on them
    screenshot(page, "position-chart-desktop")

    page.evaluate("window.notReloaded = true")
    live_bot.set_price(SYMBOL, D("28000"))
    row.wait_for(state="detached")
    closed = page.locator(f"[data-testid='closed-{position_id}']")
    expect(closed.locator("[data-testid=position-status]")).to_have_text("CLOSED")
    assert page.evaluate("window.notReloaded") is True
    status, position = live_bot.api("GET", f"/positions/{position_id}", live_bot.tokens["read"])
    assert status == 200
    assert position["status"] == "CLOSED"
    assert position["stop_trigger"] == "stop"
    assert position["exits"]["stop_loss"]["price"] == "28600"
    assert position["exits"]["take_profits"] == [
        {"fraction": "0.5", "price": None, "percent": "10"}
    ]


def test_an_admin_halts_and_resumes_trading_from_the_overview(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["admin"])
    state = page.locator("[data-testid=trading-state]")
    expect(state).to_have_text("ACTIVE")
    page.once("dialog", lambda dialog: dialog.accept())  # "Halt all trading?"
    try:
        page.get_by_role("button", name="Kill switch: halt all").click()
        expect(state).to_have_text("HALTED")
        _, risk = live_bot.api("GET", "/risk", live_bot.tokens["read"])
        assert risk["state"] == "HALTED"
        assert risk["changed_by"] == "dash-admin"
        screenshot(page, "overview-halted-desktop")
        page.get_by_role("button", name="Pause entries").click()
        expect(state).to_have_text("REDUCING")
        page.get_by_role("button", name="Resume trading").click()
        expect(state).to_have_text("ACTIVE")
    finally:
        live_bot.api("PUT", "/risk", live_bot.tokens["admin"], {"state": "ACTIVE"})


def test_the_dashboard_works_from_the_keyboard(live_bot: BotThread, new_page: Any) -> None:
    page = new_page(DESKTOP)
    page.goto(f"{live_bot.url}/")
    page.get_by_label("API token").wait_for()
    assert page.evaluate("document.activeElement.id") == "token"  # focus starts in the field
    page.keyboard.type(live_bot.tokens["read"])
    page.keyboard.press("Enter")
    page.locator("body[data-live=live]").wait_for(state="attached")
    page.get_by_role("link", name="Orders").focus()
    page.keyboard.press("Enter")
    page.locator("main[data-page=orders]").wait_for()
    assert page.evaluate("document.activeElement.id") == "view"  # the new page has the focus
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.tagName") in ("A", "BUTTON")


def test_a_read_token_sees_no_trade_buttons_and_the_api_refuses(
    live_bot: BotThread, new_page: Any
) -> None:
    live_bot.set_price(SYMBOL, D("30000"))  # the order below rests
    status, order = live_bot.api(
        "POST",
        "/trades/orders",
        live_bot.tokens["trade"],
        {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "29500"},
    )
    assert status == 201, order
    page = new_page(DESKTOP)
    login(page, live_bot.url, live_bot.tokens["read"])
    expect(page.locator("[data-testid=who]")).to_contain_text("(read)")
    page.locator("[data-testid=trading-state]").wait_for()
    assert page.locator("[data-testid=risk-controls]").count() == 0
    page.goto(f"{live_bot.url}/#/orders")
    page.locator(f"[data-testid='order-{order['client_order_id']}']").wait_for()
    assert page.locator("[data-testid=order-form]").count() == 0
    assert page.get_by_role("button", name="Cancel").count() == 0
    page.goto(f"{live_bot.url}/#/positions")
    page.locator("[data-testid=open-positions], [data-testid=closed-positions]").first.wait_for()
    assert page.locator("[data-testid=open-position-form]").count() == 0
    assert page.get_by_role("link", name="Tokens").is_hidden()
    refused = page.evaluate(
        """async (order) => {
          const token = sessionStorage.getItem('mexcbot.token');
          const r = await fetch(`/api/v1/trades/orders/${order.symbol}/${order.client_order_id}`,
                                {method: 'DELETE', headers: {Authorization: `Bearer ${token}`}});
          return {status: r.status, code: (await r.json()).code};
        }""",
        order,
    )
    assert refused == {"status": 403, "code": "forbidden"}
    live_bot.api(
        "DELETE", f"/trades/orders/{SYMBOL}/{order['client_order_id']}", live_bot.tokens["trade"]
    )


def test_a_lost_live_connection_shows_a_banner_and_resumes(
    live_bot: BotThread, new_page: Any
) -> None:
    page = new_page(DESKTOP)
    sockets: list[Any] = []
    sent: list[dict[str, Any]] = []

    def proxy(ws: Any) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)

        def upstream(message: str | bytes) -> None:
            if isinstance(message, str):
                sent.append(json.loads(message))
            server.send(message)

        ws.on_message(upstream)
        server.on_message(ws.send)

    page.route_web_socket("**/api/v1/ws", proxy)
    login(page, live_bot.url, live_bot.tokens["read"])
    page.goto(f"{live_bot.url}/#/orders")
    banner = page.locator("[data-testid=conn-banner]")
    assert banner.is_hidden()

    sockets[-1].close(code=4000, reason="test: the network went away")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("reconnecting")
    screenshot(page, "connection-lost-desktop")
    expect(banner).to_be_hidden()
    assert len(sockets) == 2
    subscribes = [m for m in sent if m.get("type") == "subscribe" and "orders" in m["topics"]]
    assert "since" not in subscribes[0]
    assert isinstance(subscribes[-1]["since"], int)  # resumed from the last sequence number

    live_bot.set_price(SYMBOL, D("30000"))
    status, order = live_bot.api(
        "POST",
        "/trades/orders",
        live_bot.tokens["trade"],
        {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "29500"},
    )
    assert status == 201, order
    page.locator(f"[data-testid='order-{order['client_order_id']}']").wait_for()
    live_bot.api(
        "DELETE", f"/trades/orders/{SYMBOL}/{order['client_order_id']}", live_bot.tokens["trade"]
    )


PAGES = ["overview", "positions", "orders", "market", "autobuy", "listings", "audit", "tokens"]


def test_every_page_renders_at_desktop_and_phone_width(live_bot: BotThread, new_page: Any) -> None:
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(viewport)
        login(page, live_bot.url, live_bot.tokens["admin"])
        for page_name in PAGES:
            page.goto(f"{live_bot.url}/#/{page_name}")
            view = page.locator(f"main[data-page={page_name}]")
            view.wait_for()
            page.wait_for_load_state("networkidle")
            assert view.locator("h1").inner_text()
            assert page.errors == [], page.errors
            # no part of the page may need sideways scrolling on a phone but wide tables
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{page_name} is {width}px wide"
            screenshot(page, f"{page_name}-{name}")


def test_the_page_computes_amounts_in_exact_decimals(live_bot: BotThread, new_page: Any) -> None:
    page = new_page(DESKTOP)
    page.goto(f"{live_bot.url}/")
    results = page.evaluate(
        """async () => {
          const d = await import('/ui/decimal.js');
          return [d.add('0.1', '0.2'), d.mul('0.1', '3'), d.floorTo('0.00123456789', 6),
                  d.floorTo('5', 2), d.byPercent('3200', '5'), d.byPercent('3200', '-10'),
                  d.sub('1', '1.000000000000000001'), d.cmp('0.30', '0.3'), d.step(4)];
        }"""
    )
    assert results == [
        "0.3",
        "0.3",
        "0.001234",
        "5.00",
        "3360.00",
        "2880.00",
        "-0.000000000000000001",
        0,
        "0.0001",
    ]
