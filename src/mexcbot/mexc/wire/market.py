"""Market data on MEXC's wire: server time, symbols and their trading rules, order book, trades,
candles, average price and tickers.

A symbol whose status cannot be read is OFFLINE: never trade what cannot be read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from mexcbot.domain.orders import OrderType, TimeInForce
from mexcbot.domain.symbols import SymbolRules, SymbolStatus, TradeSideType
from mexcbot.mexc.models import (
    AvgPrice,
    BookTicker,
    Kline,
    OrderBook,
    PriceLevel,
    PublicTrade,
    Ticker24h,
    TickerPrice,
)
from mexcbot.mexc.wire.values import (
    JsonObject,
    as_array,
    as_bool,
    as_decimal,
    as_int,
    as_object,
    as_str,
    one_or_many,
    opt_decimal,
    opt_int,
    opt_str,
)

_SYMBOL_STATUSES: Final = {
    "1": SymbolStatus.ONLINE,
    "ENABLED": SymbolStatus.ONLINE,
    "2": SymbolStatus.PAUSED,
    "PAUSED": SymbolStatus.PAUSED,
}


def parse_server_time(payload: object) -> int:
    return as_int(as_object(payload)["serverTime"])


def parse_default_symbols(payload: object) -> list[str]:
    """Accepts the documented ``{"code":200,"data":[...]}`` and the real ``code: 0`` variant."""
    data = payload if isinstance(payload, list) else as_object(payload)["data"]
    return [as_str(symbol) for symbol in as_array(data)]


def _symbol_status(value: object) -> SymbolStatus:
    return _SYMBOL_STATUSES.get(as_str(value).upper(), SymbolStatus.OFFLINE)


def _max_amount(value: object) -> Decimal | None:
    amount = opt_decimal(value)
    return amount if amount else None


_IMMEDIATE_TYPES: Final = {
    "IMMEDIATE_OR_CANCEL": TimeInForce.IOC,
    "FILL_OR_KILL": TimeInForce.FOK,
}


def _ms_time(ms: int | None) -> datetime | None:
    return None if not ms else datetime.fromtimestamp(ms / 1000, UTC)


def parse_symbol_rules(payload: object) -> SymbolRules:
    """One exchangeInfo symbol; an unknown status reads as OFFLINE (never trade the unreadable)."""
    data = as_object(payload)
    bid_up: Decimal | None = None
    ask_down: Decimal | None = None
    for entry in map(as_object, as_array(data.get("filters") or [])):
        if entry.get("filterType") == "PERCENT_PRICE_BY_SIDE":
            bid_up = opt_decimal(entry.get("bidMultiplierUp"))
            ask_down = opt_decimal(entry.get("askMultiplierDown"))
    known_types = {t.value: t for t in OrderType}
    order_types = frozenset(
        known_types[name]
        for name in map(as_str, as_array(data.get("orderTypes") or []))
        if name in known_types
    )
    min_notional = as_decimal(data.get("quoteAmountPrecision"))
    side_type = opt_int(data.get("tradeSideType"))
    return SymbolRules(
        symbol=as_str(data["symbol"]),
        base_asset=as_str(data["baseAsset"]),
        quote_asset=as_str(data["quoteAsset"]),
        status=_symbol_status(data.get("status", "")),
        spot_trading_allowed=as_bool(data.get("isSpotTradingAllowed", True)),
        quantity_precision=as_int(data["baseAssetPrecision"]),
        price_precision=as_int(data.get("quoteAssetPrecision", data.get("quotePrecision"))),
        min_quantity=as_decimal(data.get("baseSizePrecision")),
        min_notional=min_notional,
        max_notional=_max_amount(data.get("maxQuoteAmount")),
        min_notional_market=opt_decimal(data.get("quoteAmountPrecisionMarket")) or min_notional,
        max_notional_market=_max_amount(data.get("maxQuoteAmountMarket")),
        order_types=order_types,
        trade_side_type=TradeSideType(side_type) if side_type is not None else TradeSideType.ALL,
        bid_multiplier_up=bid_up,
        ask_multiplier_down=ask_down,
        maker_commission=as_decimal(data.get("makerCommission")),
        taker_commission=as_decimal(data.get("takerCommission")),
        immediate_types=frozenset(
            tif
            for name, tif in _IMMEDIATE_TYPES.items()
            if name in map(as_str, as_array(data.get("orderTypes") or []))
        ),
        first_open_time=_ms_time(opt_int(data.get("firstOpenTime"))),
    )


def parse_exchange_info(payload: object) -> list[SymbolRules]:
    return [parse_symbol_rules(item) for item in as_array(as_object(payload).get("symbols") or [])]


def _levels(rows: object) -> tuple[PriceLevel, ...]:
    pairs = map(as_array, as_array(rows))
    return tuple(PriceLevel(as_decimal(row[0]), as_decimal(row[1])) for row in pairs)


def parse_depth(payload: object) -> OrderBook:
    data = as_object(payload)
    return OrderBook(
        last_update_id=as_int(data["lastUpdateId"]),
        bids=_levels(data.get("bids") or []),
        asks=_levels(data.get("asks") or []),
        timestamp=opt_int(data.get("timestamp")),
    )


def parse_public_trades(payload: object) -> list[PublicTrade]:
    trades = []
    for item in map(as_object, as_array(payload)):
        trades.append(
            PublicTrade(
                price=as_decimal(item["price"]),
                qty=as_decimal(item["qty"]),
                quote_qty=as_decimal(item.get("quoteQty")),
                time=as_int(item["time"]),
                is_buyer_maker=as_bool(item.get("isBuyerMaker", False)),
                trade_id=opt_str(item.get("id")),
            )
        )
    return trades


def parse_klines(payload: object) -> list[Kline]:
    klines = []
    for row in map(as_array, as_array(payload)):
        klines.append(
            Kline(
                open_time=as_int(row[0]),
                open=as_decimal(row[1]),
                high=as_decimal(row[2]),
                low=as_decimal(row[3]),
                close=as_decimal(row[4]),
                volume=as_decimal(row[5]),
                close_time=as_int(row[6]),
                quote_volume=as_decimal(row[7]),
            )
        )
    return klines


def parse_avg_price(payload: object) -> AvgPrice:
    data = as_object(payload)
    return AvgPrice(mins=as_int(data["mins"]), price=as_decimal(data["price"]))


def _ticker_24h(data: JsonObject) -> Ticker24h:
    return Ticker24h(
        symbol=as_str(data["symbol"]),
        price_change=opt_decimal(data.get("priceChange")),
        price_change_percent=opt_decimal(data.get("priceChangePercent")),
        prev_close_price=opt_decimal(data.get("prevClosePrice")),
        last_price=opt_decimal(data.get("lastPrice")),
        bid_price=opt_decimal(data.get("bidPrice")),
        bid_qty=opt_decimal(data.get("bidQty")),
        ask_price=opt_decimal(data.get("askPrice")),
        ask_qty=opt_decimal(data.get("askQty")),
        open_price=opt_decimal(data.get("openPrice")),
        high_price=opt_decimal(data.get("highPrice")),
        low_price=opt_decimal(data.get("lowPrice")),
        volume=opt_decimal(data.get("volume")),
        quote_volume=opt_decimal(data.get("quoteVolume")),
        open_time=opt_int(data.get("openTime")),
        close_time=opt_int(data.get("closeTime")),
        count=opt_int(data.get("count")),
    )


def parse_tickers_24h(payload: object) -> list[Ticker24h]:
    """The object (one symbol) or array (all symbols) form."""
    return [_ticker_24h(as_object(item)) for item in one_or_many(payload)]


def parse_ticker_prices(payload: object) -> list[TickerPrice]:
    return [
        TickerPrice(as_str(item["symbol"]), as_decimal(item["price"]))
        for item in map(as_object, one_or_many(payload))
    ]


def parse_book_tickers(payload: object) -> list[BookTicker]:
    return [
        BookTicker(
            symbol=as_str(item["symbol"]),
            bid_price=opt_decimal(item.get("bidPrice")),
            bid_qty=opt_decimal(item.get("bidQty")),
            ask_price=opt_decimal(item.get("askPrice")),
            ask_qty=opt_decimal(item.get("askQty")),
        )
        for item in map(as_object, one_or_many(payload))
    ]
