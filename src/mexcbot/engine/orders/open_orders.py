"""OpenOrders: the orders resting on the exchange (NEW, PARTIALLY_FILLED), kept in memory.

The API's open-orders route was a database read per request, on SQLite a write-locking
transaction (every transaction there is BEGIN IMMEDIATE) hopped through aiosqlite's thread: 50
clients polling it twice a second made it the slowest read (p99 ~350 ms, benchmarks/
many_clients.py) and queued the order journal's writes behind it (orders p99 x7 with readers).
Every committed change of an order is published on the bus (`OrderUpdated`, `FillRecorded`, after
the commit), so the engine can keep the open set itself: loaded from the database once, updated
from the events, reloaded after every reconciliation (which closes any gap, as it does for the
database itself).

Two events of one order may be delivered out of commit order (a publisher awaits between its
commit and its publish), so an update never moves an order back: a final status is final (the
order's state machine), and an open order's newer state is the one with more executed.

An event keeps a plain copy of the order (`Order.snapshot`, ~2 us); the copy is put into the
store's form (`as_stored`: canonical decimals, UTC times, ~30-40 us) only when a read lists it.
Every acknowledged placement publishes an open order, so the conversion on the event was the
largest subscriber cost of the placement path (measured in `mexcbot run`, loaded 2-core box:
the ACKNOWLEDGED delivery to this view 40 us p50 -> ~3 us).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from mexcbot.domain.orders import OPEN_STATUSES, TERMINAL_STATUSES, Order
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import FillRecorded, OrderUpdated
from mexcbot.store import UnitOfWork
from mexcbot.store.orders import as_stored

#: Final orders remembered so that a late event cannot reopen them (one id each).
CLOSED_MEMORY = 10_000


class OpenOrders:
    """The open orders as of the last committed change; `of` answers once `load` ran."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], events: EventBus) -> None:
        self._uow_factory = uow_factory
        self._open: dict[str, Order] = {}
        self._unconverted: set[str] = set()
        """Orders in `_open` still held as plain snapshots: `of` converts them."""
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._during_load: list[Order] | None = None
        self._loading: asyncio.Task[None] | None = None
        self._lists: dict[str | None, list[Order]] = {}
        self.loaded = False
        events.subscribe(OrderUpdated, self._on_event)
        events.subscribe(FillRecorded, self._on_event)

    def of(self, symbol: str | None = None) -> list[Order]:
        """Open orders of `symbol` (None: all), oldest first, as the database lists them.

        The same list object until the set changes (the API shares its encoded body), and the
        orders are the view's own copies: read them, never change either."""
        listed = self._lists.get(symbol)
        if listed is None:
            self._convert()
            listed = [o for o in self._open.values() if symbol is None or o.symbol == symbol]
            listed.sort(key=lambda o: (o.created_at, o.client_order_id))
            if len(self._lists) > 1000:
                self._lists.clear()
            self._lists[symbol] = listed
        return listed

    async def load(self) -> None:
        """(Re)load the open set from the database; the events delivered meanwhile are applied
        on top, so a change committed during the read is not lost. One load at a time."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        loading = self._loading
        try:
            await asyncio.shield(loading)
        finally:
            if self._loading is loading and loading.done():
                self._loading = None

    async def _load(self) -> None:
        self._during_load = []
        try:
            async with self._uow_factory() as uow:
                stored = await uow.orders.list_open()
            during, self._during_load = self._during_load, None
        finally:
            self._during_load = None
        self._open = {o.client_order_id: o for o in stored if not self._is_closed(o)}
        self._unconverted.clear()
        self._lists.clear()
        for order in during:
            self._merge(order)
        self.loaded = True

    def _on_event(self, event: OrderUpdated | FillRecorded) -> None:
        self.apply(event.order)

    def apply(self, order: Order) -> None:
        """An order as committed: open, it joins (or updates) the set; otherwise it leaves."""
        if self._during_load is not None:
            self._during_load.append(order.snapshot())
        self._merge(order)

    def _merge(self, order: Order) -> None:
        # on every order event of the placement path (CREATED, ACKNOWLEDGED): the id, the
        # status sets and the lists read once, directly. In-process (best of 9 x 10,000,
        # median of 3 rounds interleaved), with `Order.snapshot`'s faster copy: CREATED
        # 0.52 -> 0.27 us, ACKNOWLEDGED 1.79 -> 0.91 us; `mexcbot run` had 17-20 us p50.
        cid = order.request.client_order_id
        if cid in self._closed:
            return
        if self._lists:
            self._lists.clear()  # every list may name this order: rebuilt on the next read
        status = order.status
        if status in TERMINAL_STATUSES:
            self._open.pop(cid, None)
            self._unconverted.discard(cid)
            self._closed[cid] = None
            while len(self._closed) > CLOSED_MEMORY:
                self._closed.popitem(last=False)
            return
        if status not in OPEN_STATUSES:  # PENDING_NEW, UNKNOWN: not resting (yet)
            self._open.pop(cid, None)
            self._unconverted.discard(cid)
            return
        known = self._open.get(cid)
        if known is None or order.executed_qty >= known.executed_qty:
            # a copy: the publisher's object may change again
            self._open[cid] = order.snapshot()
            self._unconverted.add(cid)

    def _convert(self) -> None:
        """Put the snapshots into the form the database lists them in: the publisher's decimals
        are as computed (30000.00, where the store answers 30000)."""
        for cid in self._unconverted:
            self._open[cid] = as_stored(self._open[cid])
        self._unconverted.clear()

    def _is_closed(self, order: Order) -> bool:
        return order.client_order_id in self._closed
