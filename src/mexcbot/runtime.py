"""The engine task: startup (clock, rules, prices, reconciliation, exits re-armed, auto-buy
recovery) with retries until it succeeds, then every worker side by side until cancelled."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from mexcbot.engine.account_feed import AccountFeed
from mexcbot.engine.autobuy.buying import AutoBuyer
from mexcbot.engine.autobuy.triggers import TriggerWatch
from mexcbot.engine.listings.detector import ListingDetector
from mexcbot.engine.listings.first_trade import FirstTradeWatch
from mexcbot.engine.listings.sniper import Sniper
from mexcbot.engine.market_interest import MarketInterest
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.exits import ExitMonitor
from mexcbot.engine.price_feed import PriceFeed

log = logging.getLogger(__name__)

STARTUP_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Workers:
    """Everything the engine task starts (see `run_engine`)."""

    execution: ExecutionService
    monitor: ExitMonitor
    account_feed: AccountFeed
    price_feed: PriceFeed
    buyer: AutoBuyer
    triggers: TriggerWatch
    detector: ListingDetector
    first_trades: FirstTradeWatch | None
    sniper: Sniper
    market_interest: MarketInterest | None = None
    """Unwatches the live market's idle on-demand symbols."""


async def run_engine(
    workers: Workers,
    *,
    reconcile_interval: float,
    exit_check_interval: float,
) -> None:
    """Startup (clock, rules, prices, reconciliation, the exits re-armed) with retries, then
    periodic reconciliation beside the two stream feeds and the exit monitor (stream prices and
    a REST timer). The feeds start after startup, so their first reconciliation runs on a synced
    clock; the price feed follows the symbols known then."""
    execution, monitor = workers.execution, workers.monitor
    for attempt, delay in enumerate(retry_delays(), start=1):
        try:
            await execution.start()
            await monitor.rearm()
            await workers.buyer.recover()
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "engine start-up failed (attempt %d, %s: %s); retrying in %.0f s",
                attempt,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
    log.info("ready: startup reconciliation finished, exits armed")
    # What startup built (modules, the app, caches) lives as long as the process: out of the
    # collector's reach, a full collection no longer walks it, which cut the snipe's tail
    # (benchmarks/snipe.py p99, see the issue note).
    gc.freeze()
    # A full collection still walks everything made since (orders, books, the paper exchange's
    # tape): 40-65 ms each, about one every 10 s with 50 API readers, the largest stall of the
    # orders' and the reads' tails. Ten times rarer full collections (cyclic garbage that gets old
    # waits longer; the young generations are collected as before): with 50 readers
    # (benchmarks/many_clients.py, paired runs) reads p99 63 -> 25 ms, orders p99 62 -> 24 ms.
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(execution.run_reconciliation_loop(reconcile_interval))
        tasks.create_task(workers.account_feed.run(), name="mexcbot-account-feed")
        tasks.create_task(workers.price_feed.run(), name="mexcbot-price-feed")
        tasks.create_task(monitor.run(), name="mexcbot-exits")
        tasks.create_task(monitor.run_timer(exit_check_interval), name="mexcbot-exit-timer")
        tasks.create_task(workers.triggers.run(), name="mexcbot-autobuy-triggers")
        tasks.create_task(
            workers.triggers.run_timer(exit_check_interval), name="mexcbot-autobuy-trigger-timer"
        )
        tasks.create_task(workers.detector.run(), name="mexcbot-listings")
        tasks.create_task(workers.sniper.run(), name="mexcbot-sniper")
        if workers.market_interest is not None:
            tasks.create_task(workers.market_interest.run(), name="mexcbot-market-interest")
        if workers.first_trades is not None:
            tasks.create_task(workers.first_trades.run(), name="mexcbot-first-trades")


FULL_COLLECTION_EVERY = 100
"""Collections of the middle generation between two full collections (Python's default: 10)."""


def retry_delays() -> Iterator[float]:
    yield from STARTUP_RETRY_SECONDS
    while True:
        yield STARTUP_RETRY_SECONDS[-1]
