"""MEXC's JSON wire format <-> typed values: the only code that knows MEXC's field names.

Split by concern: ``values`` (the Decimal-exact decoder and tolerant field readers), ``market``
(market-data answers) and ``trading`` (order parameters; order, trade and account answers). Callers
use this package's names (``wire.decode``, ``wire.parse_order`` ...), never the submodules. Parse
functions raise ``KeyError``/``TypeError``/``ValueError`` on a malformed payload; the client turns
those into ``UnexpectedResponse``.
"""

from mexcbot.mexc.wire.market import (
    parse_avg_price,
    parse_book_tickers,
    parse_default_symbols,
    parse_depth,
    parse_exchange_info,
    parse_klines,
    parse_public_trades,
    parse_server_time,
    parse_symbol_rules,
    parse_ticker_prices,
    parse_tickers_24h,
)
from mexcbot.mexc.wire.trading import (
    batch_orders_json,
    order_params,
    parse_account,
    parse_batch_results,
    parse_listen_key,
    parse_listen_keys,
    parse_order,
    parse_order_ack,
    parse_orders,
    parse_trade_fee,
    parse_trades,
    wire_order_type,
)
from mexcbot.mexc.wire.values import JsonObject, decode, error_in

__all__ = [
    "JsonObject",
    "batch_orders_json",
    "decode",
    "error_in",
    "order_params",
    "parse_account",
    "parse_avg_price",
    "parse_batch_results",
    "parse_book_tickers",
    "parse_default_symbols",
    "parse_depth",
    "parse_exchange_info",
    "parse_klines",
    "parse_listen_key",
    "parse_listen_keys",
    "parse_order",
    "parse_order_ack",
    "parse_orders",
    "parse_public_trades",
    "parse_server_time",
    "parse_symbol_rules",
    "parse_ticker_prices",
    "parse_tickers_24h",
    "parse_trade_fee",
    "parse_trades",
    "wire_order_type",
]
