"""MarketData: what the bot's users read about the market and the account.

The API calls this service, never the exchange client: every symbol is checked against the
`SymbolCatalog` first (an unknown one is `UnknownSymbol` and costs the exchange nothing), prices
seen on the way feed the `PriceBook`. However many users ask at once, each kind of read costs the
exchange at most one call per lifetime (`mexcbot.engine.reads`), and every answer is `Fresh`: it
carries the time it describes, so the API can tell a reader how old it is. Balances come from the
`BalanceBook` while the user stream keeps it live.
"""

from __future__ import annotations

from decimal import Decimal

from mexcbot.domain.market import Balance, Kline, OrderBook, PublicTrade, Ticker24h
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import BalanceChanged, FillRecorded, StreamStatusChanged
from mexcbot.engine.ports import Exchange
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.reads import BalanceBook, Fresh, ReadLifetimes, SharedRead
from mexcbot.engine.symbols import SymbolCatalog


class MarketData:
    def __init__(
        self,
        exchange: Exchange,
        catalog: SymbolCatalog,
        prices: PriceBook,
        *,
        lifetimes: ReadLifetimes | None = None,
        balance_book: BalanceBook | None = None,
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
        fresh = await self._ticker.get(symbol, lambda: self._exchange.ticker(symbol))
        self._remember(fresh.value)
        return fresh

    async def order_book(self, symbol: str, limit: int) -> Fresh[OrderBook]:
        await self._catalog.get(symbol)
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
        return await self._trades.get(
            (symbol, limit), lambda: self._exchange.recent_trades(symbol, limit)
        )

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

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price seen for `symbol` (REST or stream), without asking the exchange; None
        when none is recent. For snapshots that must not cost an exchange call per client."""
        return self._prices.last(symbol)

    def _remember(self, ticker: Ticker24h) -> None:
        if ticker.last_price is not None:
            self._prices.update(ticker.symbol, ticker.last_price)
