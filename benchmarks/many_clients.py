"""Many clients, one exchange budget: readers polling the API while another client trades.

A paper bot (in this process, on its embedded mexcsim WITH MEXC's rate limits, so a 429 would be
counted) serves ``--clients`` readers, each polling balances, a ticker, a book and its open orders
twice a second for ``--seconds`` in all, while one more client places and cancels resting orders.
The same orders with no readers are timed in the same run, interleaved: the readers poll in every
other 5 s window and pause in the others, the trader trades throughout, and each order counts as
loaded or unloaded by its window (none in the first 0.5 s of a window, or spanning two), so the
run lasts twice ``--seconds``. Prints API p50/p99 per route, the orders' p50/p99 loaded and
unloaded (and per route), exchange requests per endpoint against MEXC's budgets, the bot's CPU
and garbage collections, the count of 429s (must be 0) and of API answers slower than the read
wait bound (must be 0).

    .venv/bin/python benchmarks/many_clients.py [--clients 50] [--seconds 60] [--lockstep]

The readers run in a child process, the trading client in another (their own event loops, as
real clients would); the bot and its paper exchange share this one, so the paper exchange's work
is on the bot's core, which a live bot does not pay. Each reader starts at its own random
(seeded) phase of the poll interval, as independent clients do; ``--lockstep`` starts them all
at once and keeps them in step, so every interval opens with 200 requests at the same instant
(the worst case, reported for comparison).

Measured on the shared 2-core box (50 clients, 60 s unless said):

* before issue 14's second pass: reads p99 192-267 ms, orders p99 ratio 2.71-6.99;
* after it (shared encoded bodies, open orders in memory, 16 reads routed at once), readers in
  lockstep and the trader in the bot's process: reads p99 106-227 ms, ratio 1.28-2.54;
* after the third pass (books, trades and tickers from the live market, subscribed on demand;
  a cancel's writes and lookup on the loop: its p50 8.3 -> 2.3 ms; reads wait for orders in
  flight; full collections ten times rarer: 0 in the loaded run instead of ~6), readers at their
  own phase, trader in its own process: reads p99 18.9-35.8 ms, orders p99 ratio 1.61-1.93
  (loaded p99 18-24 ms against unloaded 9-15 ms), 0 429s, 0 slow; exchange calls per minute:
  depth 2, ticker/24hr 13, account 1. In lockstep: reads p99 122 ms, ratio 3.44. The ratio goal
  (<= 1.5) is not met: an order's ~15 loop steps each wait behind whatever reads are on the loop
  (~0.6 ms of the bot's CPU per answer, paper exchange included).
* then (CollectorHold, engine/collector.py; the WAL's checkpoints in a thread, store/checkpoint.py):
  in 30 s of load 77 young and 6 middle collections (3-8 ms) had run inside placements, now none;
  40 s runs: reads p99 17-25 ms, orders p99 ratio 1.07-1.66 (the session-start code 1.29 in the
  same minutes). The unloaded p99 of 400 samples moves 7-10 ms from run to run by itself, so the
  ratio of two p99s does not settle below the noise; not reliably <= 1.5.
* then, on a day the box ran ~2x slower (the bot's CPU per answer ~1.2 ms instead of ~0.6): the
  routers' routes became the app's own (FastAPI 0.163 matched every request twice through an
  included router, ~15 % of the loop: py-spy), plus the placement path's changes
  (benchmarks/api_orders.py): CPU per answer 1.16-1.21 -> 1.05-1.08 ms. 60 s runs: reads p99
  48-78 ms, orders p99 ratio 1.96-3.80, against 193 ms and 4.51 for the session-start code in
  the same minutes; 40 s runs: reads p99 42-46 ms, ratio 1.21-1.79 (the session-start code
  52.8 ms, 2.15). 0 429s, 0 slow answers throughout. The middle collections (~64 a minute,
  3-8 ms, outside orders) and the slower box are most of the reads' tail now.
* then, on a quieter day (CPU per answer ~0.63 ms; the old method: reads p99 22.8-27.1 ms, ratio
  1.26-1.68): the slowest orders (95-140 ms) were loop steps frozen in the journal's commit,
  not garbage collections (a `gc.callbacks` log beside the orders: 2-5 of the slowest 25
  overlapped one). strace on the loop: 360 ``fdatasync`` of the WAL in 25 s, the header sync of
  each WAL restart (0.5 ms typically, 10-45 ms when the disk was busy); with the database on
  tmpfs the loop's SQLite calls over 1 ms went from 56 (562 ms in 40 s) to 2. The checkpointer
  now restarts the WAL in its thread (store/checkpoint.py): 4 such calls (6 ms). The unloaded
  orders timed for as long as the loaded ones, but before them, moved with the box (1.73, then
  0.94 / 1.66 / 2.86 while its CPU per answer went 630 -> 785 -> 976 us), hence the interleaved
  windows. Interleaved: 16 reads at once 1.39-1.54 (4 runs); 4 at once 1.10 / 1.16 in the same
  conditions as two of them (1.39 / 1.41); 4 at once with a waiting read giving its place after
  5 ms (api/gate.py) 1.27 / 1.30. Reads p99 28.6-39.5 ms throughout, 0 429s, 0 slow answers.
  Then: the loop's commits still took the busy fallback ~2 times a second (138 in 70 s): the
  checkpointer's restarts (~15 a second, now paced by the writes: 1,106 -> 62 checkpoints) and,
  most, read-only units of work opening with BEGIN IMMEDIATE (token lookups, the account
  stream's reads; now deferred): 73 -> 1 in 20 s. Final code, 4 runs: ratio 1.34 / 1.22 / 1.34
  / 1.46 (loaded orders' p99 9.2-10.6 ms against 14.6-18.5 before), reads p99 65.8 (the box
  slowed: api_orders gave 2.03 in the same minutes) / 28.9 / 28.7 / 34.2 ms, 0 429s, 0 slow.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import multiprocessing
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from harness import percentile
from mexcbot.app import Bot, start_bot
from mexcbot.config import LogFormat, Mode, Settings
from mexcbot.paper import PAPER_API_KEY
from mexcbot.store import TokenRole
from mexcsim.http.rate_limits import PER_SECOND_CAPS, WEIGHT_PER_WINDOW, WINDOW_SECONDS
from mexcsim.http.rate_limits import RateLimiter as SimRateLimiter

READ_WAIT_LIMIT_S = 3.0
START_UP_S = 4.0
"""From spawning the two client processes to the first window: their imports and connections."""
WINDOW_S = 5.0
"""The readers poll in every other window of this many seconds and pause in the others
(`Windows`)."""
SETTLE_S = 0.5
"""Orders in the first half second of a window are counted in neither kind: the readers are still
starting (each at its own phase of the 0.5 s poll interval) or finishing their last round."""
POLL_INTERVAL_S = 0.5
ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "time_in_force": "GTC",
    "quantity": "0.001",
    "price": "30000",
}
READ_ROUTES = {
    "balances": "/api/v1/account/balances",
    "ticker": "/api/v1/market/tickers/BTCUSDT",
    "depth": "/api/v1/market/depth/BTCUSDT?limit=20",
    "open orders": "/api/v1/trades/orders/open/BTCUSDT",
}


class ExchangeCount:
    """Requests the paper exchange admitted and refused with 429, by endpoint."""

    def __init__(self, bot: Bot) -> None:
        limiter = bot.paper.rate_limiter if bot.paper is not None else None
        assert isinstance(limiter, SimRateLimiter), "the paper exchange must enforce MEXC limits"
        self.admitted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        admit: Callable[..., Any] = limiter.admit

        def counting(endpoint: str, weight: int, **who: Any) -> Any:
            verdict = admit(endpoint, weight, **who)
            (self.admitted if verdict is None else self.refused)[endpoint] += 1
            return verdict

        limiter.admit = counting  # type: ignore[method-assign]


class Samples:
    def __init__(self, *, warmup: bool = True) -> None:
        self.by_route: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[int] = Counter()
        self.warmup: Samples = Samples(warmup=False) if warmup else self
        #: (route, wall-clock start, seconds, status) of every sample, in order
        self.timeline: list[tuple[str, float, float, int]] = []

    def add(self, route: str, seconds: float, status: int, wall: float) -> None:
        self.by_route[route].append(seconds)
        self.statuses[status] += 1
        self.timeline.append((route, wall, seconds, status))


@dataclass(frozen=True)
class Windows:
    """The run's clock: from ``start`` (wall clock, shared by the processes) windows of
    `WINDOW_S` take turns, the first without readers ("unloaded"), the next with them
    ("loaded"), and so on until ``end``. The trader trades throughout, so both kinds of orders
    come from the same minutes of the box."""

    start: float
    end: float

    def index(self, t: float) -> int:
        return int((t - self.start) // WINDOW_S)

    def loaded(self, t: float) -> bool:
        return self.index(t) % 2 == 1

    def next_loaded(self, t: float) -> float:
        """When the loaded window at ``t``, or the next one, opens."""
        k = self.index(t)
        return self.start + (k if k % 2 else k + 1) * WINDOW_S

    def side(self, started: float, seconds: float) -> str | None:
        """Which kind an order started at ``started`` is: None when it started within
        `SETTLE_S` of its window's opening (the readers still starting or finishing their round)
        or ended in another window."""
        k = self.index(started)
        if started < self.start or started < self.start + k * WINDOW_S + SETTLE_S:
            return None
        if self.index(started + seconds) != k or started + seconds > self.end:
            return None
        return "loaded" if k % 2 else "unloaded"


async def timed(
    http: aiohttp.ClientSession, method: str, url: str, samples: Samples, route: str, **kw: Any
) -> Any:
    started = time.perf_counter()
    wall = time.time()
    async with http.request(method, url, **kw) as response:
        body = await response.json()
        samples.add(route, time.perf_counter() - started, response.status, wall)
        return body


async def trade_pairs(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], samples: Samples, stop: Any
) -> None:
    """Place a resting order and cancel it, again and again, until ``stop()``."""
    while not stop():
        placed = await timed(
            http,
            "POST",
            f"{base}/api/v1/trades/orders",
            samples,
            "place",
            json=ORDER,
            headers=headers,
        )
        order_id = placed["client_order_id"]
        await timed(
            http,
            "DELETE",
            f"{base}/api/v1/trades/orders/BTCUSDT/{order_id}",
            samples,
            "cancel",
            headers=headers,
        )
        await asyncio.sleep(0.05)


async def reader(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    samples: Samples,
    windows: Windows,
    phase_s: float,
) -> None:
    """One client polling every read route in the loaded windows, starting each ``phase_s``
    into its first interval; its first round (opening its connections) is a warm-up, counted in
    ``samples.warmup`` only."""
    first = True
    while (now := time.time()) < windows.end:
        if first or not windows.loaded(now):
            opens = windows.next_loaded(now) + phase_s
            if opens >= windows.end:
                break
            await asyncio.sleep(opens - now)
        tick = time.monotonic()
        into = samples.warmup if first else samples
        first = False
        await asyncio.gather(
            *(
                timed(http, "GET", base + path, into, route, headers=headers)
                for route, path in READ_ROUTES.items()
            )
        )
        await asyncio.sleep(max(0.0, POLL_INTERVAL_S - (time.monotonic() - tick)))


def phases(clients: int, lockstep: bool, seed: int = 14) -> list[float]:
    """When each reader starts within the first poll interval. Independent clients (two browser
    tabs, a script) poll on their own clocks, so by default each starts at a random phase
    (seeded); ``lockstep`` starts them all at once and keeps them in step, so every interval
    opens with ``clients x routes`` requests at the same instant: the worst case, not the
    typical one."""
    if lockstep:
        return [0.0] * clients
    rng = random.Random(seed)
    return [rng.uniform(0.0, POLL_INTERVAL_S) for _ in range(clients)]


async def readers(
    clients: int, base: str, token: str, windows: Windows, lockstep: bool
) -> tuple[dict[str, list[float]], Counter[int]]:
    samples = Samples()
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients * len(READ_ROUTES) + 10)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(
            *(
                reader(http, base, headers, samples, windows, phase)
                for phase in phases(clients, lockstep)
            )
        )
    warm = samples.warmup
    first = [s for route in warm.by_route.values() for s in route]
    print(f"(readers' first round, not counted: n={len(first)}, max {max(first) * 1000:.0f} ms)")
    return dict(samples.by_route), samples.statuses


def reader_process(
    clients: int, base: str, token: str, windows: Windows, lockstep: bool, results: Any
) -> None:
    """The readers' own process: its samples go back through ``results``."""
    results.put(asyncio.run(readers(clients, base, token, windows, lockstep)))


async def trader(base: str, token: str, windows: Windows) -> dict[str, Samples]:
    """The trading client: place/cancel pairs from ``windows.start`` to its end, each order
    counted as loaded or unloaded by its window (or in neither); one pair first opens its
    connection, not counted."""
    samples = Samples()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10)) as http:
        first = [True]

        def warmed() -> bool:
            was, first[0] = first[0], False
            return not was

        await trade_pairs(http, base, headers, samples.warmup, warmed)
        await asyncio.sleep(max(0.0, windows.start - time.time()))
        await trade_pairs(http, base, headers, samples, lambda: time.time() > windows.end)
    sides = {"loaded": Samples(warmup=False), "unloaded": Samples(warmup=False)}
    for route, wall, seconds, status in samples.timeline:
        side = windows.side(wall, seconds)
        if side is not None:
            sides[side].add(route, seconds, status, wall)
    return sides


def trader_process(base: str, token: str, windows: Windows, results: Any) -> None:
    """The trading client's own process, as a user's script would be: its loop waits for nothing
    of the bot's."""
    results.put(asyncio.run(trader(base, token, windows)))


def report(name: str, samples: list[float]) -> str:
    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    return f"  {name:<12} n={len(samples):>6}  p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"


async def run(clients: int, seconds: float, tick: float, lockstep: bool) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mexcbot-many-"))
    settings = Settings(
        mode=Mode.PAPER,
        database_url=f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
        api_port=0,
        paper_state_file="",
        reconcile_interval=3600,
        log_format=LogFormat.JSON,
        log_level="WARNING",
        api_rate_limit_per_minute=10_000_000,
        read_wait_limit=READ_WAIT_LIMIT_S,
        paper_tick_interval=tick,
    )
    async with start_bot(settings) as bot:
        while not bot.execution.ready:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        _, read_token = await bot.tokens.create("bench-read", TokenRole.READ, actor="bench")
        _, trade_token = await bot.tokens.create("bench-trade", TokenRole.TRADE, actor="bench")
        assert bot.paper is not None
        bot.paper.exchange.fund(PAPER_API_KEY, "USDT", Decimal("1000000"))
        base = bot.started.api_url
        reads = Samples()
        context = multiprocessing.get_context("spawn")
        # both children's start-up (imports) comes before the first window; `seconds` of load
        # means as many seconds without, in windows that take turns
        start = time.time() + START_UP_S
        windows = Windows(start, start + 2 * WINDOW_S * math.ceil(seconds / WINDOW_S))
        results, trader_results = context.Queue(), context.Queue()
        child = context.Process(
            target=reader_process, args=(clients, base, read_token, windows, lockstep, results)
        )
        trading = context.Process(
            target=trader_process, args=(base, trade_token, windows, trader_results)
        )
        child.start()
        trading.start()
        await asyncio.sleep(max(0.0, windows.start - time.time()))
        counts = ExchangeCount(bot)
        cpu_started = time.process_time()
        collections_before = [g["collections"] for g in gc.get_stats()]
        started = time.monotonic()
        sides = await asyncio.to_thread(trader_results.get)
        loaded, unloaded = sides["loaded"], sides["unloaded"]
        cpu_s = time.process_time() - cpu_started
        collections = [
            g["collections"] - before
            for g, before in zip(gc.get_stats(), collections_before, strict=True)
        ]
        await asyncio.to_thread(trading.join)
        by_route, statuses = await asyncio.to_thread(results.get)
        await asyncio.to_thread(child.join)
        elapsed = time.monotonic() - started
    reads.by_route.update(by_route)
    reads.statuses.update(statuses)
    print(
        f"many_clients: {clients} readers x {len(READ_ROUTES)} routes every {POLL_INTERVAL_S}s "
        f"in {seconds:.0f}s of {WINDOW_S:.0f}s windows, interleaved with as many without "
        f"(ran {elapsed:.1f}s), "
        f"{'in lockstep' if lockstep else 'each at its own phase'}; "
        f"read wait bound {READ_WAIT_LIMIT_S}s"
    )
    print("API reads (loaded):")
    for route, samples in reads.by_route.items():
        print(report(route, samples))
    print(f"  statuses: {dict(reads.statuses)}")
    order_unloaded = unloaded.by_route["place"] + unloaded.by_route["cancel"]
    order_loaded = loaded.by_route["place"] + loaded.by_route["cancel"]
    print("orders (place + cancel):")
    print(report("unloaded", order_unloaded))
    print(report("loaded", order_loaded))
    for route in ("place", "cancel"):
        print(report(f"  {route}", unloaded.by_route[route]), "unloaded")
        print(report(f"  {route}", loaded.by_route[route]), "loaded")
    print(f"  statuses unloaded {dict(unloaded.statuses)}, loaded {dict(loaded.statuses)}")
    print(f"exchange requests in the run ({elapsed:.0f}s, half of it loaded) vs MEXC's budgets:")
    for endpoint, n in sorted(counts.admitted.items()):
        per_window = n / elapsed * WINDOW_SECONDS
        cap = PER_SECOND_CAPS.get(endpoint)
        extra = f", {n / elapsed:.2f}/s of {cap}/s" if cap else ""
        print(
            f"  {endpoint:<32} {n:>6}  ~{per_window:6.1f} requests/10s "
            f"(budget {WEIGHT_PER_WINDOW} weight/10s{extra})"
        )
    all_reads = [s for samples in reads.by_route.values() for s in samples]
    answered = len(all_reads) + len(order_loaded) + len(order_unloaded)
    print(
        f"bot process CPU in the run: {cpu_s:.1f} s for ~{answered} API answers "
        f"(~{cpu_s / answered * 1e6:.0f} us each, the paper exchange's work included): "
        "a figure the box's other load barely moves"
    )
    print(
        "bot process garbage collections in the run (young, middle, full): "
        + ", ".join(map(str, collections))
    )
    everything = all_reads + order_loaded + order_unloaded
    slow = sum(1 for s in everything if s > READ_WAIT_LIMIT_S)
    throttled = sum(counts.refused.values())
    ratio = percentile(order_loaded, 0.99) / percentile(order_unloaded, 0.99)
    print(
        f"many_clients: reads p99 {percentile(all_reads, 0.99) * 1000:.1f} ms, orders p99 ratio "
        f"{ratio:.2f} (loaded / unloaded), exchange 429s {throttled}, slow answers {slow}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--tick", type=float, default=0.25, help="paper market tick, s (the bot's default)"
    )
    parser.add_argument(
        "--lockstep",
        action="store_true",
        help="start every reader at once and keep them in step (the worst case)",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.clients, args.seconds, args.tick, args.lockstep))


if __name__ == "__main__":
    main()
