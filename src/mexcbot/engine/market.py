"""MarketData: what the bot's users read about the market and the account.

The API calls this service, never the exchange client: every symbol is checked against the
`SymbolCatalog` first (an unknown one is `UnknownSymbol` and costs the exchange nothing), prices
seen on the way feed the `PriceBook`. The streams issue will answer these from live state.
"""

from __future__ import annotations

from decimal import Decimal

from mexcbot.domain.market import Balance, Kline, OrderBook, Ticker24h
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.ports import Exchange
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.symbols import SymbolCatalog


class MarketData:
    def __init__(self, exchange: Exchange, catalog: SymbolCatalog, prices: PriceBook) -> None:
        self._exchange = exchange
        self._catalog = catalog
        self._prices = prices

    async def symbols(self) -> list[SymbolRules]:
        return await self._catalog.all()

    async def symbol(self, symbol: str) -> SymbolRules:
        return await self._catalog.get(symbol)

    async def tickers(self) -> list[Ticker24h]:
        tickers = await self._exchange.tickers()
        for ticker in tickers:
            self._remember(ticker)
        return tickers

    async def ticker(self, symbol: str) -> Ticker24h:
        await self._catalog.get(symbol)
        ticker = await self._exchange.ticker(symbol)
        self._remember(ticker)
        return ticker

    async def order_book(self, symbol: str, limit: int) -> OrderBook:
        await self._catalog.get(symbol)
        return await self._exchange.order_book(symbol, limit)

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Kline]:
        await self._catalog.get(symbol)
        return await self._exchange.candles(symbol, interval, limit)

    async def balances(self) -> list[Balance]:
        return await self._exchange.balances()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price seen for `symbol` (REST or stream), without asking the exchange; None
        when none is recent. For snapshots that must not cost an exchange call per client."""
        return self._prices.last(symbol)

    def _remember(self, ticker: Ticker24h) -> None:
        if ticker.last_price is not None:
            self._prices.update(ticker.symbol, ticker.last_price)
