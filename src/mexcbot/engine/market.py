"""MarketData: what the bot's users read about the market and the account.

The API calls this service, never the exchange client: every symbol is checked against the
`SymbolCatalog` first (an unknown one is `UnknownSymbol` and costs the exchange nothing), prices
seen on the way feed the `PriceBook`. However many users ask at once, each kind of read costs the
exchange at most one call per lifetime (`mexcbot.engine.reads`), and every answer is `Fresh`: it
carries the time it describes, so the API can tell a reader how old it is. Balances come from the
`BalanceBook` while the user stream keeps it live.

Books, recent trades and a symbol's ticker come from the live market (`LiveMarket`: stream state
kept by the adapter) when it can vouch for them; otherwise from the shared REST read, and the read
asks `MarketInterest` to watch the symbol, so the next reads are served from the stream. A live
ticker is the REST 24 h statistics (refreshed at most every ``ticker_stats_s``) with last, bid and
ask overlaid from the stream: its ``as_of`` is the statistics' time, ``prices_as_of`` the prices'.

Measured with benchmarks/many_clients.py (50 readers polling balances, a ticker, a book and open
orders twice a second for 20 s, 2 runs each, the shared 2-core box at load 3-4), live reads against
the same code with MEXCBOT_LIVE_MARKET_MAX_SYMBOLS=0 (REST only): exchange depth calls 51-54 -> 2
per run (the book's snapshot and the first read), ticker/24hr 18-19 -> 5; the bot's CPU per API
answer 783-867 us against 749-834 us (the stream's book upkeep costs about what the REST cache
refills did; within the box's noise); read p99 132-325 ms against 218-284 ms (noise-dominated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

from mexcbot.domain.market import Balance, Kline, OrderBook, PublicTrade, Ticker24h
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import BalanceChanged, FillRecorded, StreamStatusChanged
from mexcbot.engine.market_interest import MarketInterest
from mexcbot.engine.ports import Exchange, LiveMarket, LiveMarketStatus, PriceQuote
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.reads import BalanceBook, Fresh, ReadLifetimes, SharedRead
from mexcbot.engine.symbols import SymbolCatalog

V = TypeVar("V")


class MarketData:
    def __init__(
        self,
        exchange: Exchange,
        catalog: SymbolCatalog,
        prices: PriceBook,
        *,
        lifetimes: ReadLifetimes | None = None,
        balance_book: BalanceBook | None = None,
        interest: MarketInterest | None = None,
        ticker_stats_s: float = 5.0,
    ) -> None:
        life = lifetimes or ReadLifetimes()
        self._exchange = exchange
        self._catalog = catalog
        self._prices = prices
        self._book = balance_book or BalanceBook()
        self._tickers: SharedRead[None, list[Ticker24h]] = SharedRead(life.tickers_s)
        self._ticker: SharedRead[str, Ticker24h] = SharedRead(life.tickers_s)
        self._depth: SharedRead[tuple[str, int], OrderBook] = SharedRead(life.depth_s)
        self._candles: SharedRead[tuple[str, str, int], list[Kline]] = SharedRead(life.candles_s)
        self._trades: SharedRead[tuple[str, int], list[PublicTrade]] = SharedRead(life.depth_s)
        self._balances: SharedRead[None, list[Balance]] = SharedRead(life.balances_s)
        self._interest = interest
        self._ticker_stats: SharedRead[str, Ticker24h] = SharedRead(ticker_stats_s)
        self._overlaid: dict[str, tuple[Fresh[Ticker24h], PriceQuote, Fresh[Ticker24h]]] = {}
        self.live_answers = 0
        """Book, trades and ticker reads answered from the live market (no REST flight)."""

    def follow(self, events: EventBus) -> None:
        """Keep the balances current from what the engine and the streams publish: a fill
        or a balance change makes the cached snapshot stale at once."""
        events.subscribe(FillRecorded, lambda _: self._balances.invalidate())
        events.subscribe(BalanceChanged, self._on_balance)
        events.subscribe(StreamStatusChanged, self._book.on_stream)

    def _on_balance(self, event: BalanceChanged) -> None:
        self._book.apply(event)
        self._balances.invalidate()

    async def symbols(self) -> list[SymbolRules]:
        return await self._catalog.all()

    async def symbol(self, symbol: str) -> SymbolRules:
        return await self._catalog.get(symbol)

    async def tickers(self) -> Fresh[list[Ticker24h]]:
        fresh = await self._tickers.get(None, self._exchange.tickers)
        for ticker in fresh.value:
            self._remember(ticker)
        return fresh

    async def ticker(self, symbol: str) -> Fresh[Ticker24h]:
        await self._catalog.get(symbol)
        interest = self._interest
        if interest is not None:
            interest.read(symbol)
            quote = interest.live.quote(symbol)
            if quote is not None:
                stats = await self._ticker_stats.get(symbol, lambda: self._exchange.ticker(symbol))
                return self._overlay(symbol, stats, quote)
        fresh = await self._ticker.get(symbol, lambda: self._exchange.ticker(symbol))
        self._remember(fresh.value)
        return fresh

    def _overlay(
        self, symbol: str, stats: Fresh[Ticker24h], quote: Fresh[PriceQuote]
    ) -> Fresh[Ticker24h]:
        """The statistics with the stream's prices when those are newer; the same object while
        neither changed, so the API's shared body is encoded once per state."""
        if quote.as_of < stats.as_of:
            return stats  # the snapshot is the newer picture, prices included
        self.live_answers += 1
        known = self._overlaid.get(symbol)
        if known is not None and known[0] is stats and known[1] == quote.value:
            return known[2]
        prices = quote.value
        ticker = replace(
            stats.value,
            last_price=prices.last if prices.last is not None else stats.value.last_price,
            bid_price=prices.bid,
            ask_price=prices.ask,
            prices_as_of=quote.as_of,
        )
        fresh = Fresh(ticker, stats.as_of)
        self._overlaid[symbol] = (stats, prices, fresh)
        self._remember(ticker)
        return fresh

    async def order_book(self, symbol: str, limit: int) -> Fresh[OrderBook]:
        await self._catalog.get(symbol)
        live = self._from_stream(symbol, lambda market: market.book(symbol, limit))
        if live is not None:
            return live
        return await self._depth.get(
            (symbol, limit), lambda: self._exchange.order_book(symbol, limit)
        )

    async def candles(self, symbol: str, interval: str, limit: int) -> Fresh[list[Kline]]:
        await self._catalog.get(symbol)
        return await self._candles.get(
            (symbol, interval, limit), lambda: self._exchange.candles(symbol, interval, limit)
        )

    async def recent_trades(self, symbol: str, limit: int) -> Fresh[list[PublicTrade]]:
        await self._catalog.get(symbol)
        live_trades = self._from_stream(symbol, lambda market: market.trades(symbol, limit))
        if live_trades is not None:
            return live_trades
        return await self._trades.get(
            (symbol, limit), lambda: self._exchange.recent_trades(symbol, limit)
        )

    def _from_stream(
        self, symbol: str, answer: Callable[[LiveMarket], Fresh[V] | None]
    ) -> Fresh[V] | None:
        """A read of `symbol` (it is watched from now on, within the bound) answered from the
        live market, or None when that has no trustworthy answer: ask the exchange."""
        interest = self._interest
        if interest is None:
            return None
        interest.read(symbol)
        live = answer(interest.live)
        if live is not None:
            self.live_answers += 1
        return live

    async def balances(self) -> Fresh[list[Balance]]:
        live = self._book.current()
        if live is not None:
            return live
        fresh = await self._balances.get(None, self._exchange.balances)
        self._book.replace(fresh)
        return fresh

    async def balance_of(self, asset: str) -> Balance:
        """The account's balance of `asset` (zero when it holds none)."""
        for balance in (await self.balances()).value:
            if balance.asset == asset:
                return balance
        return Balance(asset, Decimal(0), Decimal(0))

    async def free_balance(self, asset: str) -> Decimal:
        """The account's free balance of `asset` (0 when it holds none)."""
        return (await self.balance_of(asset)).free

    def live_status(self) -> LiveMarketStatus | None:
        """What the live market keeps (None when reads are REST only)."""
        return None if self._interest is None else self._interest.live.status()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price seen for `symbol` (REST or stream), without asking the exchange; None
        when none is recent. For snapshots that must not cost an exchange call per client."""
        return self._prices.last(symbol)

    def _remember(self, ticker: Ticker24h) -> None:
        if ticker.last_price is not None:
            self._prices.update(ticker.symbol, ticker.last_price)
