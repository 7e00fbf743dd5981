"""Listing snipe latency: open time -> first order accepted, by mexcsim's own acceptance log.

One run: mexcsim in a subprocess with MEXC's rate limits ON (the 429 count must stay 0), the bot
in-process in live mode against it (the same code path as against MEXC). `--n` listings are
scheduled for the bot (base assets SNB...) and as many for the baseline (SNC...), interleaved
`--spacing` seconds apart so the two never fire at once. The bot learns of its listings the way
it would in production (calendar, web symbol list, exchangeInfo), from one NEW_LISTING rule
created through its API (LIMIT IOC at a max price). The baseline is the least any sniper can
do: a LIMIT buy at the same cap (new listings refuse IMMEDIATE_OR_CANCEL, 30041), built and
signed ahead, sent on a keep-alive session at the open by a sleep-until loop that polls the
clock for its last 2 ms, and re-sent at once while it gets 10007.

Per listing the latency is mexcsim's acceptance time of the first accepted order minus the open
time (both on the simulator's clock). Also counted: listings the bot bought more than once
(duplicates, must be 0), listings it missed, and 429 answers (must be 0).

Usage: .venv/bin/python benchmarks/snipe.py [--n 50] [--spacing 0.3]
Its last line: `snipe: p50 X ms p99 Y ms (bare p50 Z ms), duplicates D, 429s Q`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from harness import percentile, start_simulator
from mexcbot.app import Bot, start_bot
from mexcbot.config import LogFormat, Mode, Settings

API_KEY = "bench-key"
API_SECRET = "bench-secret"
PRICE = "1"
MAX_PRICE = "1.5"
QUANTITY = "5"
LEAD_S = 8.0  # first open this long after scheduling: the calendar poll and arming fit in


async def schedule(http: aiohttp.ClientSession, url: str, base: str, open_ms: int) -> None:
    body = {
        "symbol": f"{base}USDT",
        "base_asset": base,
        "open_time": open_ms,
        "initial_price": PRICE,
    }
    async with http.post(f"{url}/_sim/listings", json=body) as response:
        if response.status != 201:
            raise RuntimeError(f"schedule {base}: {response.status} {await response.text()}")


async def create_rule(http: aiohttp.ClientSession, bot: Bot) -> None:
    token = bot.started.admin_token
    assert token is not None, "the benchmark needs a fresh database (first admin token)"
    body = {
        "name": "bench snipe",
        "symbol": "*",
        "quote_asset": "USDT",
        "name_filter": "^SNB",
        "trigger": {"type": "NEW_LISTING"},
        "buy_amount_quote": "5",
        "max_buy_price": MAX_PRICE,
        "order_type": "LIMIT_IOC",
    }
    async with http.post(
        f"{bot.started.api_url}/api/v1/autobuy/rules",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        if response.status != 201:
            raise RuntimeError(f"rule: {response.status} {await response.text()}")


def _signed(symbol: str, stamp_ms: int) -> str:
    query = (
        f"symbol={symbol}&side=BUY&type=LIMIT&quantity={QUANTITY}&price={MAX_PRICE}"
        f"&recvWindow=5000&timestamp={stamp_ms}"
    )
    signature = hmac.new(API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def sleep_until(target_ms: float) -> None:
    """Sleep until the clock reads `target_ms`, polling it for the last 2 ms."""
    while True:
        left = target_ms - time.time() * 1000
        if left <= 0:
            return
        await asyncio.sleep((left - 2) / 1000 if left > 2 else 0)


async def bare_snipe(session: aiohttp.ClientSession, url: str, symbol: str, open_ms: int) -> int:
    """Fire a pre-signed IOC buy at `open_ms`; re-send at once on 10007. Returns the sends."""
    path = f"{url}/api/v3/order?{_signed(symbol, open_ms)}"
    await sleep_until(open_ms)
    for sends in range(1, 200):
        async with session.post(path) as response:
            body = await response.read()
            if response.status == 200:
                return sends
            if b"10007" not in body:
                raise RuntimeError(f"bare {symbol}: {response.status} {body[:200]!r}")
    raise RuntimeError(f"bare {symbol}: never accepted")


async def accepted(http: aiohttp.ClientSession, url: str, symbol: str) -> list[int]:
    async with http.get(f"{url}/_sim/orders/accepted", params={"symbol": symbol}) as response:
        data = await response.json()
    return sorted(order["acceptedAtUs"] for order in data["orders"] if order["side"] == "BUY")


async def bot_snipes(http: aiohttp.ClientSession, bot: Bot) -> list[dict[str, Any]]:
    token = bot.started.admin_token
    assert token is not None
    async with http.get(
        f"{bot.started.api_url}/api/v1/listings",
        params={"view": "recent", "limit": "500"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        listings = (await response.json())["listings"]
    return [snipe for listing in listings for snipe in listing["snipes"]]


async def run(n: int, spacing: float, url: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            mode=Mode.LIVE,
            api_key=API_KEY,
            api_secret=API_SECRET,
            exchange_url=url,
            exchange_ws_url=url.replace("http://", "ws://") + "/ws",
            exchange_web_url=url,
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            api_port=0,
            listing_poll_interval=1.0,
            listing_symbols_interval=0.5,
            snipe_arm_lead=3.0,
            log_format=LogFormat.JSON,
            log_level="WARNING",
        )
        headers = {"X-MEXC-APIKEY": API_KEY, "Content-Type": "application/json"}
        async with (
            start_bot(settings) as bot,
            aiohttp.ClientSession() as http,
            aiohttp.ClientSession(headers=headers) as bare_session,
        ):
            for _ in range(600):
                if bot.execution.ready:
                    break
                await asyncio.sleep(0.05)
            await create_rule(http, bot)
            first = int(time.time() * 1000 + LEAD_S * 1000)
            step = int(spacing * 1000)
            bot_opens = {f"SNB{i:03d}USDT": first + 2 * i * step for i in range(n)}
            bare_opens = {f"SNC{i:03d}USDT": first + (2 * i + 1) * step for i in range(n)}
            for symbol, open_ms in {**bot_opens, **bare_opens}.items():
                await schedule(http, url, symbol.removesuffix("USDT"), open_ms)
            # warm the baseline's connection like a real sniper does
            async with bare_session.get(f"{url}/api/v3/ping") as response:
                await response.read()
            sends = await asyncio.gather(
                *(bare_snipe(bare_session, url, s, t) for s, t in bare_opens.items())
            )
            await asyncio.sleep(settings.snipe_deadline / 4)
            bot_ms, duplicates, missed = [], 0, 0
            slowest: list[tuple[float, str]] = []
            for symbol, open_ms in bot_opens.items():
                times = await accepted(http, url, symbol)
                if not times:
                    missed += 1
                    continue
                duplicates += len(times) - 1
                bot_ms.append(times[0] / 1000 - open_ms)
                slowest.append((bot_ms[-1], symbol))
            bare_ms = []
            for symbol, open_ms in bare_opens.items():
                times = await accepted(http, url, symbol)
                bare_ms.append(times[0] / 1000 - open_ms)
            async with http.get(f"{url}/_sim/stats") as response:
                throttled = (await response.json())["throttled429"]
            snipes = await bot_snipes(http, bot)
    print(f"listings: {n} for the bot, {n} for the baseline, {spacing * 1000:.0f} ms apart")
    print(f"baseline sends per listing: mean {statistics.mean(sends):.2f} (10007 re-sends)")
    if bot_ms:
        print(
            f"bot:  open -> accepted p50 {percentile(bot_ms, 0.5):.2f} ms, "
            f"p99 {percentile(bot_ms, 0.99):.2f} ms, max {max(bot_ms):.2f} ms, missed {missed}"
        )
    print(
        f"bare: open -> accepted p50 {percentile(bare_ms, 0.5):.2f} ms, "
        f"p99 {percentile(bare_ms, 0.99):.2f} ms"
    )
    worst = ", ".join(f"{symbol} {ms:.1f} ms" for ms, symbol in sorted(slowest)[-3:])
    print(f"bot's slowest: {worst}")
    if snipes:
        fired = [x["fired_ms"] for x in snipes if x["fired_ms"] is not None]
        acked = [x["accepted_ms"] for x in snipes if x["accepted_ms"] is not None]
        print(
            f"bot's own view: fired p50 {percentile(fired, 0.5):.2f} ms, acknowledged p50 "
            f"{percentile(acked, 0.5):.2f} ms after the open; sends per listing: mean "
            f"{statistics.mean(x['attempts'] for x in snipes):.2f}"
        )
    p50 = percentile(bot_ms, 0.5) if bot_ms else float("nan")
    p99 = percentile(bot_ms, 0.99) if bot_ms else float("nan")
    print(
        f"snipe: p50 {p50:.2f} ms p99 {p99:.2f} ms (bare p50 {percentile(bare_ms, 0.5):.2f} ms), "
        f"duplicates {duplicates}, 429s {throttled}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="listings per side (default 50)")
    parser.add_argument("--spacing", type=float, default=0.3, help="seconds between opens")
    args = parser.parse_args()
    process, url = start_simulator(API_KEY, API_SECRET, rate_limits=True)
    try:
        asyncio.run(run(args.n, args.spacing, url))
    finally:
        process.kill()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
