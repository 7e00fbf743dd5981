"""The stream hub: hears the exchange (as an `ExchangeListener`) and pushes frames to ``/ws``.

Public channels are batched the way MEXC names them: a flush task per interval (100 ms, 10 ms)
sends each symbol's merged depth change, its trades and its best bid/ask once per interval; limit
depth and bookTicker batch go out with the 100 ms flush, klines once a second. Private frames are
sent at the end of the command that caused them, to the connections of the account whose listen
key they hold. Only symbols someone subscribed to are diffed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from mexcsim.accounts import user_pushes
from mexcsim.accounts.user_pushes import PRIVATE_CHANNELS, Balances
from mexcsim.exchange.events import MarketView
from mexcsim.http.faults import FaultInjector
from mexcsim.http.websocket import StreamConnection
from mexcsim.market import pushes
from mexcsim.market.book import Order
from mexcsim.market.matching import Trade
from mexcsim.market.pushes import BookDiffs, DepthChange

INTERVALS = {"100ms": 0.1, "10ms": 0.01}
_PUBLIC = re.compile(
    r"spot@public\.(?:"
    r"(?P<aggre>aggre\.(?:deals|depth|bookTicker))\.v3\.api\.pb@(?P<iv>100ms|10ms)@(?P<s1>[A-Z0-9]+)"
    r"|limit\.depth\.v3\.api\.pb@(?P<s2>[A-Z0-9]+)@(?P<levels>5|10|20)"
    r"|bookTicker\.batch\.v3\.api\.pb@(?P<s3>[A-Z0-9]+)"
    r"|kline\.v3\.api\.pb@(?P<s4>[A-Z0-9]+)@(?P<kline>Min1|Min5|Min15|Min30|Min60|Hour4|Hour8"
    r"|Day1|Week1|Month1))$"
)


def _symbol_of(match: re.Match[str]) -> str:
    return next(s for s in match.group("s1", "s2", "s3", "s4") if s is not None)


@dataclass
class _Pending:
    """What one interval's next flush will send, per symbol."""

    depth: dict[str, DepthChange] = field(default_factory=dict)
    deals: dict[str, list[Trade]] = field(default_factory=dict)
    tickers: set[str] = field(default_factory=set)


@dataclass
class _AccountChanges:
    orders: dict[str, Order] = field(default_factory=dict)
    deals: list[tuple[Trade, Order]] = field(default_factory=list)


class StreamMarket(MarketView, Protocol):
    """The exchange as the hub sees it: the listener's view, and opening due listings (so that a
    subscription right after a listing's open is not refused because no tick has opened it)."""

    def open_due_listings(self) -> int: ...


class StreamHub:
    def __init__(self, market: StreamMarket, faults: FaultInjector, kline_interval: float) -> None:
        self._market = market
        self._faults = faults
        self._kline_interval = kline_interval
        self._connections: set[StreamConnection] = set()
        self._diffs = BookDiffs()
        self._watched: set[str] = set()
        self._pending = {name: _Pending() for name in INTERVALS}
        self._limit_versions: dict[str, int] = {}
        self._accounts: dict[str, _AccountChanges] = {}
        self._balances: dict[str, Balances] = {}
        self._tasks: list[asyncio.Task[None]] = []
        faults.on_drop_streams.append(self.drop_all)

    # --- connections ------------------------------------------------------------------------------
    def connect(self, conn: StreamConnection) -> None:
        self._connections.add(conn)
        if conn.owner is not None and conn.owner not in self._balances:
            self._balances[conn.owner] = self._market.balances_of(conn.owner)

    def disconnect(self, conn: StreamConnection) -> None:
        self._connections.discard(conn)

    @property
    def connections(self) -> int:
        return len(self._connections)

    def subscribers(self, channel: str) -> int:
        """How many connections hold ``channel`` (lets a test wait for a client's subscription)."""
        return sum(channel in conn.channels for conn in self._connections)

    def drop_all(self) -> None:
        """Close every connection now (the ``ws_drop_connections`` fault)."""
        for conn in list(self._connections):
            conn.close_soon()

    def serves(self, conn: StreamConnection, channel: str) -> bool:
        """Whether ``channel`` is one the simulator pushes, for this connection: a public channel
        needs an open market ("Blocked" for a listing whose API has not opened yet)."""
        if channel in PRIVATE_CHANNELS:
            return conn.owner is not None
        match = _PUBLIC.match(channel)
        if match is None:
            return False
        self._market.open_due_listings()
        return self._market.open_market(_symbol_of(match)) is not None

    def subscribed(self, conn: StreamConnection, channel: str) -> None:
        match = _PUBLIC.match(channel)
        if match is None:
            return
        symbol = _symbol_of(match)
        pair = self._market.open_market(symbol)
        if pair is not None and symbol not in self._watched:
            self._watched.add(symbol)
            self._diffs.watch(pair)

    def _send(self, channel: str, frame: bytes, owner: str | None = None) -> None:
        hold = self._faults.push_hold_s()
        for conn in self._connections:
            if channel in conn.channels and (owner is None or conn.owner == owner):
                conn.push(frame, hold)

    # --- the exchange's events (ExchangeListener) -------------------------------------------------
    def order_changed(self, order: Order) -> None:
        if order.owner in self._balances:
            self._accounts.setdefault(order.owner, _AccountChanges()).orders[order.order_id] = order

    def trade_executed(self, trade: Trade) -> None:
        if trade.symbol in self._watched:
            for pending in self._pending.values():
                pending.deals.setdefault(trade.symbol, []).append(trade)
        for order in (trade.maker, trade.taker):
            if order.owner in self._balances:
                changes = self._accounts.setdefault(order.owner, _AccountChanges())
                changes.deals.append((trade, order))
                changes.orders[order.order_id] = order

    def command_finished(self, market: MarketView) -> None:
        for symbol in self._watched:
            pair = market.open_market(symbol)
            change = self._diffs.changes(pair) if pair is not None else None
            for pending in self._pending.values():
                if change is not None:
                    known = pending.depth.get(symbol)
                    if known is None:
                        pending.depth[symbol] = DepthChange(
                            change.from_version,
                            change.to_version,
                            dict(change.bids),
                            dict(change.asks),
                        )
                    else:
                        known.merge(change)
                    pending.tickers.add(symbol)
        self._publish_accounts(market)

    def _publish_accounts(self, market: MarketView) -> None:
        now = market.now_ms()
        accounts, self._accounts = self._accounts, {}
        for owner, before in list(self._balances.items()):
            if not any(c.owner == owner for c in self._connections):
                del self._balances[owner]
                continue
            changes = accounts.get(owner, _AccountChanges())
            for trade, order in changes.deals:
                pair = market.open_market(trade.symbol)
                if pair is not None:
                    frame = user_pushes.deal_frame(trade, order, pair.spec, now)
                    self._send(user_pushes.DEALS_CHANNEL, frame, owner)
            makers = {o.order_id for t, o in changes.deals if o is t.maker}
            for order in changes.orders.values():
                frame = user_pushes.order_frame(order, order.order_id in makers, now)
                self._send(user_pushes.ORDERS_CHANNEL, frame, owner)
            after = market.balances_of(owner)
            kind = _account_change_type(changes)
            for frame in user_pushes.account_frames(before, after, kind, now):
                self._send(user_pushes.ACCOUNT_CHANNEL, frame, owner)
            self._balances[owner] = after

    # --- flushing ---------------------------------------------------------------------------------
    def start(self) -> None:
        for name, seconds in INTERVALS.items():
            self._tasks.append(asyncio.create_task(self._flush_every(name, seconds)))
        self._tasks.append(asyncio.create_task(self._klines_every(self._kline_interval)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for conn in list(self._connections):
            await conn.ws.close()

    async def _flush_every(self, name: str, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.flush(name)

    async def _klines_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self._push_klines()

    def flush(self, name: str) -> None:
        """Send what interval ``name`` gathered since its last flush."""
        pending, self._pending[name] = self._pending[name], _Pending()
        now = self._market.now_ms()
        for symbol, change in pending.depth.items():
            if self._faults.take_depth_skip():
                change.from_version += 1
            channel = f"spot@public.aggre.depth.v3.api.pb@{name}@{symbol}"
            self._send(channel, pushes.aggre_depth_frame(channel, symbol, change, now))
        for symbol, trades in pending.deals.items():
            channel = f"spot@public.aggre.deals.v3.api.pb@{name}@{symbol}"
            self._send(channel, pushes.aggre_deals_frame(channel, symbol, trades, now))
        for symbol in pending.tickers:
            pair = self._market.open_market(symbol)
            if pair is not None:
                channel = f"spot@public.aggre.bookTicker.v3.api.pb@{name}@{symbol}"
                self._send(channel, pushes.book_ticker_frame(channel, pair, now))
        if name == "100ms":
            self._push_snapshots(now)

    def _push_snapshots(self, now: int) -> None:
        """Limit depth and bookTicker batch: full pictures, sent when the book moved."""
        for symbol in self._watched:
            pair = self._market.open_market(symbol)
            if pair is None or self._limit_versions.get(symbol) == pair.engine.book.version:
                continue
            self._limit_versions[symbol] = pair.engine.book.version
            for levels in pushes.LIMIT_DEPTHS:
                channel = f"spot@public.limit.depth.v3.api.pb@{symbol}@{levels}"
                self._send(channel, pushes.limit_depth_frame(channel, pair, levels, now))
            channel = f"spot@public.bookTicker.batch.v3.api.pb@{symbol}"
            self._send(channel, pushes.book_ticker_batch_frame(channel, pair, now))

    def _push_klines(self) -> None:
        now = self._market.now_ms()
        wanted = {c for conn in self._connections for c in conn.channels if ".kline." in c}
        for channel in wanted:
            match = _PUBLIC.match(channel)
            pair = self._market.open_market(_symbol_of(match)) if match else None
            if match is not None and pair is not None:
                frame = pushes.kline_frame(channel, pair, match.group("kline"), now)
                self._send(channel, frame)


def _account_change_type(changes: _AccountChanges) -> str:
    """The MEXC account change type that best names what the command did."""
    if changes.deals:
        return "ENTRUST"
    if any(not o.is_open for o in changes.orders.values()):
        return "ENTRUST_CANCEL"
    if changes.orders:
        return "ENTRUST_PLACE"
    return "DEPOSIT"


__all__ = ["StreamHub"]
