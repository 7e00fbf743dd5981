"""Browser tests of the dashboard: a paper bot per module on a thread of its own, and Debian's
headless Chromium driven by Playwright (pointed at /usr/bin/chromium: nothing downloads a
browser). Without Chromium (or Playwright) the tests skip and say why; with
MEXCBOT_REQUIRE_BROWSER=1 (CI, `.ci/run`) they fail instead."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mexcbot.app import Bot, start_bot
from mexcbot.paper import ADMIN_TOKEN_SUFFIX
from mexcbot.store import TokenRole
from tests.fixtures.api import bot_settings, wait_ready

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) and says why
    expect = None

T = TypeVar("T")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def _missing(reason: str) -> None:
    if os.environ.get("MEXCBOT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (MEXCBOT_REQUIRE_BROWSER=1: the browser tests must run)")
    pytest.skip(reason)


def chromium_path() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    _missing("no chromium on PATH: install Debian's package (apt-get install chromium)")
    raise AssertionError("unreachable")


@dataclass
class BotThread:
    """A started paper bot running on its own event loop thread; `call` runs a coroutine there."""

    bot: Bot
    loop: asyncio.AbstractEventLoop
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.bot.started.api_url

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def sim(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the paper exchange's admin API, as a user at a terminal does."""
        assert self.bot.paper is not None
        token = Path(self.bot.settings.paper_state_file + ADMIN_TOKEN_SUFFIX).read_text().strip()
        request = urllib.request.Request(
            f"{self.bot.paper.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.sim("/_sim/prices", {"symbol": symbol, "price": str(price)})

    def api(
        self,
        method: str,
        path: str,
        token: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def live_bot(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[BotThread]:
    """One paper bot for the module, on a loop in a thread (Playwright's sync API wants the
    test's own thread free of a running loop). A module's `BOT_SETTINGS` adds settings."""
    tmp = tmp_path_factory.mktemp("dashboard-bot")
    extra = getattr(request.module, "BOT_SETTINGS", {})
    settings = bot_settings(tmp, exit_check_interval=0.05, **extra)
    loop = asyncio.new_event_loop()
    started: Future[Bot] = Future()
    stop = asyncio.Event()

    async def run() -> None:
        try:
            async with start_bot(settings) as bot:
                await wait_ready(bot)
                started.set_result(bot)
                await stop.wait()
        except BaseException as exc:  # the test thread must hear of a failed start
            if not started.done():
                started.set_exception(exc)
            raise

    thread = threading.Thread(target=loop.run_forever, name="dashboard-bot", daemon=True)
    thread.start()
    task = asyncio.run_coroutine_threadsafe(run(), loop)
    running = BotThread(started.result(timeout=60), loop)
    for role in TokenRole:
        _, running.tokens[role.value] = running.call(
            running.bot.tokens.create(f"dash-{role.value}", role, actor="test")
        )
    try:
        yield running
    finally:
        loop.call_soon_threadsafe(stop.set)
        with contextlib.suppress(Exception):
            task.result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """`new_page(viewport=DESKTOP)`: a fresh page in its own context (its own session storage)."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # uncaught page errors, checked by `login`
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def login(page: Any, url: str, token: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.locator("[data-testid=mode-banner]").wait_for()
    page.locator("body[data-live=live]").wait_for(state="attached")  # the live feed is on
    assert page.errors == []


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
