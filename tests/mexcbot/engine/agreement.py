"""The check every scenario ends with: the database and the exchange agree order by order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mexcbot.domain.orders import Order, OrderStatus
from mexcbot.mexc.rest import MexcClient
from mexcbot.store import UnitOfWork

UNRESOLVED = {OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN}


@dataclass
class Agreement:
    exchange_orders: int = 0
    db_orders: int = 0
    problems: list[str] = field(default_factory=list)


async def stored_orders(uow_factory: Callable[[], UnitOfWork]) -> list[Order]:
    orders: list[Order] = []
    cursor: str | None = None
    async with uow_factory() as uow:
        while True:
            page = await uow.orders.list(limit=1000, cursor=cursor)
            orders.extend(page.orders)
            cursor = page.next_cursor
            if cursor is None:
                return orders


async def compare(
    client: MexcClient, uow_factory: Callable[[], UnitOfWork], symbols: Iterable[str]
) -> Agreement:
    """Every exchange order is stored with the same status and executed quantity; no client order
    id was used twice on the exchange; nothing stored is unresolved; every stored order with an
    exchange id exists on the exchange; REJECTED orders do not exist on the exchange."""
    result = Agreement()
    db = await stored_orders(uow_factory)
    result.db_orders = len(db)
    by_cid = {o.client_order_id: o for o in db}
    by_xid = {o.exchange_order_id: o for o in db if o.exchange_order_id}
    seen: set[str] = set()
    for symbol in symbols:
        exchange = await client.all_orders(symbol, limit=1000)
        result.exchange_orders += len(exchange)
        counts = Counter(o.client_order_id for o in exchange if o.client_order_id)
        result.problems += [f"{cid} placed {n} times" for cid, n in counts.items() if n > 1]
        for x in exchange:
            seen.add(x.order_id)
            stored = by_xid.get(x.order_id) or by_cid.get(x.client_order_id or "")
            if stored is None:
                result.problems.append(
                    f"exchange order {x.order_id} ({x.client_order_id}) not in DB"
                )
                continue
            if stored.status is not x.status or stored.executed_qty != x.executed_qty:
                result.problems.append(
                    f"{stored.client_order_id}: DB {stored.status} {stored.executed_qty}, "
                    f"exchange {x.status} {x.executed_qty}"
                )
    for order in db:
        if order.status in UNRESOLVED:
            result.problems.append(f"{order.client_order_id} still {order.status}")
        if order.exchange_order_id and order.exchange_order_id not in seen:
            result.problems.append(f"{order.client_order_id} has exchange id but is not there")
        if order.status is OrderStatus.REJECTED and order.exchange_order_id:
            result.problems.append(f"{order.client_order_id} REJECTED with an exchange id")
    return result
