"""The crash test: SIGKILL a process that is placing orders, at random moments, many times.

A child process (``crash_child``) trades through ExecutionService against a mexcsim SUBPROCESS
whose order endpoint answers slowly (so submits are in flight), and is killed with SIGKILL at
random instants. After each kill a fresh ExecutionService in this process reconciles, and then:
every order the exchange has for the account is in the database with the same status and
executed quantity; no client order id was used twice; nothing is left PENDING_NEW or UNKNOWN.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mexcbot.engine.bus import EventBus
from mexcbot.engine.orders.report import DISCREPANCY_KINDS
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork, create_engine
from tests.fixtures.agreement import compare
from tests.fixtures.engine_timing import client_config
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET, start_sim_process

SYMBOL = "BTCUSDT"
KILLS = {"sqlite": int(os.environ.get("CRASH_KILLS", "20")), "postgres": 8}
ROOT = Path(__file__).resolve().parents[3]

#: Order faults per round, cycling: error_before (-1: every submit of the round gets a 5xx and
#: never reaches the book) lets kills land while UNKNOWN orders are being resolved.
ROUND_FAULTS = (("none", 1), ("error_before", -1), ("none", 1), ("drop_after", 1))
BREAKDOWN = DISCREPANCY_KINDS

pytestmark = pytest.mark.slow


def set_faults(url: str, plan: str) -> None:
    request = urllib.request.Request(
        f"{url}/_sim/faults",
        data=plan.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def start_child(url: str, database: str, seed: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable,
        "-m",
        "tests.mexcbot.engine.crash_child",
        "--url",
        url,
        "--database",
        database,
        "--seed",
        str(seed),
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_ready(child: subprocess.Popen[str], timeout: float = 30.0) -> None:
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    for line in child.stdout:
        if line.strip() == "READY":
            return
        if time.monotonic() > deadline:
            break
    child.kill()
    raise AssertionError(f"child never became ready: {child.stderr.read() if child.stderr else ''}")


def in_flight(lines: list[str]) -> int:
    """Submits the child began but never finished."""
    started = {line.split()[1] for line in lines if line.startswith("SUBMIT ")}
    done = {line.split()[1] for line in lines if line.startswith("DONE ")}
    return len(started - done)


@pytest.mark.timeout(240)
async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    database_backend: str, migrated_database_url: str
) -> None:
    rng = random.Random(20240613)
    kills = KILLS[database_backend]
    figures = {"kills": 0, "in_flight_kills": 0, "in_flight_submits": 0, "orders": 0}
    discrepancies: list[int] = []
    found: Counter[str] = Counter()
    problems: list[str] = []
    engine = create_engine(migrated_database_url)
    uow_factory: Callable[[], UnitOfWork] = lambda: UnitOfWork(engine)  # noqa: E731
    with start_sim_process(
        api_key=SIM_API_KEY, api_secret=SIM_API_SECRET, tick_interval=0.05, no_rate_limits=True
    ) as url:
        async with MexcClient(client_config(url, timeout_s=5.0, rate_limit=False)) as client:
            for round_ in range(kills):
                child = start_child(url, migrated_database_url, seed=round_)
                try:
                    await asyncio.to_thread(wait_ready, child)
                    # Slow order answers (and sometimes an accepted-then-dropped one) from now on,
                    # so that the kill finds submits in flight.
                    latency = rng.choice([80, 150, 300])
                    fault, count = ROUND_FAULTS[round_ % len(ROUND_FAULTS)]
                    set_faults(
                        url,
                        f'{{"latency_ms": {latency}, "latency_paths": ["/api/v3/order"],'
                        f' "order_fault": "{fault}", "order_fault_count": {count}}}',
                    )
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                finally:
                    child.send_signal(signal.SIGKILL)
                    out, _err = await asyncio.to_thread(child.communicate)
                lines = out.splitlines()
                figures["kills"] += 1
                open_submits = in_flight(lines)
                figures["in_flight_submits"] += open_submits
                figures["in_flight_kills"] += open_submits > 0
                set_faults(url, "{}")
                service = ExecutionService(
                    MexcExchange(client),
                    uow_factory,
                    events=EventBus(),
                    never_received_grace=0.5,
                    symbols=[SYMBOL],
                )
                report = await service.start()
                discrepancies.append(report.discrepancies)
                for name in BREAKDOWN:
                    found[name] += report.count(name)
                assert report.unresolved == 0
                result = await compare(client, uow_factory, [SYMBOL])
                figures["orders"] = result.exchange_orders
                problems += [f"after kill {round_ + 1}: {p}" for p in result.problems]
    await engine.dispose()
    print(
        f"\ncrash test ({database_backend}): kills={figures['kills']} "
        f"in-flight kills={figures['in_flight_kills']} "
        f"(submits in flight at kill: {figures['in_flight_submits']}) "
        f"exchange orders={figures['orders']} "
        f"discrepancies resolved by reconciliation={sum(discrepancies)} "
        f"(per kill: {discrepancies}; {dict(found)}) "
        f"problems after reconciliation={len(problems)}"
    )
    assert problems == []
    assert figures["kills"] == kills
    assert figures["in_flight_kills"] >= kills // 4
