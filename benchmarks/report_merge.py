"""Merging an order report: `OrderSync.apply` on the loop (FillWriter) against a unit of work.

Each sample merges one FILLED report and its trade into an acknowledged order of a temporary
SQLite file (the account stream's and the placement read-back's write), once through
`FillWriter.merge` (one transaction on the loop) and once through a `UnitOfWork` (aiosqlite), on
different orders of the same database. Wall time per report, and the CPU time the event loop's
thread spent on it (`time.thread_time`: the aiosqlite thread's own work is not in it), which is
what other tasks on the loop (the API's websocket writers, the exchange's handlers) wait for.

Run: ``.venv/bin/python benchmarks/report_merge.py [--n 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

from mexcbot.domain.orders import Order, OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.engine.bus import EventBus
from mexcbot.engine.orders.sync import OrderSync
from mexcbot.engine.ports import Exchange, OrderReport, TradeReport
from mexcbot.store import UnitOfWork, create_engine
from mexcbot.store.fill_writer import FillWriter
from mexcbot.store.migrate import upgrade

T0 = datetime(2026, 1, 1, tzinfo=UTC)
QTY, PRICE = Decimal("0.0003"), Decimal("64123.45")


def filled(order: Order) -> tuple[OrderReport, TradeReport]:
    exchange_id = order.exchange_order_id
    assert exchange_id is not None
    report = OrderReport(
        symbol=order.symbol,
        exchange_order_id=exchange_id,
        client_order_id=order.client_order_id,
        side=order.request.side,
        type=order.request.type,
        time_in_force=TimeInForce.GTC,
        status=OrderStatus.FILLED,
        price=PRICE,
        quantity=QTY,
        quote_amount=None,
        executed_qty=QTY,
        cumulative_quote_qty=QTY * PRICE,
        created_at=T0,
        updated_at=T0,
    )
    trade = TradeReport(
        symbol=order.symbol,
        trade_id="t-" + exchange_id,
        exchange_order_id=exchange_id,
        price=PRICE,
        qty=QTY,
        quote_qty=QTY * PRICE,
        commission=Decimal("0.0000003"),
        commission_asset="BTC",
        is_maker=False,
        at=T0,
    )
    return report, trade


async def stored_orders(uow_factory: Callable[[], UnitOfWork], n: int) -> list[Order]:
    orders = []
    for i in range(n):
        order = Order.place(
            symbol="BTCUSDT",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=QTY,
            price=PRICE,
            created_at=T0 + timedelta(microseconds=i),
        )
        order.acknowledge(f"ex-{i}", T0)
        async with uow_factory() as uow:
            await uow.orders.add(order)
            await uow.commit()
        orders.append(order)
    return orders


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        await upgrade(url)
        engine = create_engine(url)
        writer = FillWriter(engine)
        try:

            def uow_factory() -> UnitOfWork:
                return UnitOfWork(engine)

            orders = await stored_orders(uow_factory, 2 * n)
            no_exchange = cast(Exchange, None)  # apply never asks the exchange
            ways = (
                (
                    "on the loop",
                    OrderSync(no_exchange, uow_factory, EventBus(), fill_writer=writer),
                ),
                ("unit of work", OrderSync(no_exchange, uow_factory, EventBus())),
            )
            for (name, sync), batch in zip(ways, (orders[:n], orders[n:]), strict=True):
                cpu, wall = time.thread_time(), time.perf_counter()
                for order in batch:
                    report, trade = filled(order)
                    await sync.apply(order.client_order_id, report, [trade], action="order.stream")
                cpu = (time.thread_time() - cpu) / n * 1000
                wall = (time.perf_counter() - wall) / n * 1000
                print(f"report_merge {name:<13} {wall:6.3f} ms per report, loop CPU {cpu:6.3f} ms")
            assert writer.busy_fallbacks == 0
        finally:
            writer.close()
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200, help="reports per way (default 200)")
    asyncio.run(run(parser.parse_args().n))


if __name__ == "__main__":
    main()
