"""The process the crash test kills: places a stream of orders through ExecutionService.

Run as ``python -m tests.mexcbot.engine.crash_child --url URL --database DB --seed N``. It starts
the service (which reconciles, as every start does), prints ``READY``, then runs a few concurrent
workers that place resting limits, market orders and quote-amount buys and cancel, forever,
until it is killed. Every placement prints ``SUBMIT <intent>`` before and ``DONE <intent>``
after, so the test can tell whether a kill hit a submit in flight.

Intents are numbered across restarts (continuing from the highest intent in the database, minus
two: the last intents of the killed run are replayed with the same idempotency key, as a
re-fired trigger would be, and must not create a second order).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
from decimal import Decimal

from mexcbot.domain.orders import OrderOrigin, OrderSide, OrderType, PlaceOrder
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import ExecutionError
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.mexc.exchange import MexcExchange
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.store import OrderJournal, UnitOfWork, create_engine
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET

SYMBOL = "BTCUSDT"
INTENT_PREFIX = "crash-intent:"
WORKERS = 3
D = Decimal


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def last_intent(service: ExecutionService) -> int:
    page = await service.list_orders(limit=200)
    numbers = [
        int(o.request.origin_ref[len(INTENT_PREFIX) :])
        for o in page.orders
        if o.request.origin_ref and o.request.origin_ref.startswith(INTENT_PREFIX)
    ]
    return max(numbers, default=0)


async def place_one(service: ExecutionService, intent: int, rng: random.Random) -> None:
    key = f"{INTENT_PREFIX}{intent}"
    common = {"origin": OrderOrigin.RULE, "origin_ref": key, "idempotency_key": key}
    roll = rng.random()
    if roll < 0.5:
        price = D(rng.randint(30000, 40000))
        await service.place(
            PlaceOrder(
                symbol=SYMBOL,
                side=OrderSide.BUY,
                type=OrderType.LIMIT,
                quantity=D("0.001"),
                price=price,
                **common,  # type: ignore[arg-type]
            )
        )
    elif roll < 0.75:
        side = OrderSide.SELL if rng.random() < 0.5 else OrderSide.BUY
        await service.place(
            PlaceOrder(
                symbol=SYMBOL,
                side=side,
                type=OrderType.MARKET,
                quantity=D("0.0005"),
                **common,  # type: ignore[arg-type]
            )
        )
    else:
        await service.place(
            PlaceOrder(
                symbol=SYMBOL,
                side=OrderSide.BUY,
                type=OrderType.MARKET,
                quote_amount=D("20"),
                **common,  # type: ignore[arg-type]
            )
        )


async def worker(service: ExecutionService, counter: list[int], rng: random.Random) -> None:
    while True:
        counter[0] += 1
        intent = counter[0]
        say(f"SUBMIT {intent}")
        try:
            await place_one(service, intent, rng)
        except ExecutionError as exc:
            say(f"REFUSED {intent} {type(exc).__name__}")
        say(f"DONE {intent}")
        if rng.random() < 0.3:
            open_orders = await service.open_orders(SYMBOL)
            if open_orders:
                target = rng.choice(open_orders)
                with contextlib.suppress(ExecutionError):  # e.g. it filled first
                    await service.cancel(SYMBOL, target.client_order_id)


async def main(url: str, database: str, seed: int) -> None:
    rng = random.Random(seed)
    engine = create_engine(database)
    config = MexcClientConfig(
        api_key=SIM_API_KEY,
        api_secret=SIM_API_SECRET,
        base_url=url,
        timeout_s=2.0,
        rate_limit=False,
    )
    async with MexcClient(config) as client:
        service = ExecutionService(
            MexcExchange(client),
            lambda: UnitOfWork(engine),
            events=EventBus(),
            writer=OrderJournal(engine),
            resolve_delays=(0.05, 0.1, 0.2, 0.3),
            never_received_grace=0.5,
            symbols=[SYMBOL],
        )
        await service.start()
        counter = [max(0, await last_intent(service) - 2)]
        say("READY")
        await asyncio.gather(*(worker(service, counter, rng) for _ in range(WORKERS)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.database, args.seed))
