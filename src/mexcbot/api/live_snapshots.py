"""What a live API client gets first for a topic it subscribes to: the current state.

Snapshots read what the bot already knows (the database, the feed's last prices and stream
status, the reconciliation state); only ``balances`` asks the exchange, once, and an unreachable
exchange makes it a snapshot that says so rather than a failed subscription. ``fills`` has no
snapshot: past fills are the REST API's (``/api/v1/trades/...``); the topic streams new ones.
"""

from __future__ import annotations

import logging
from typing import Any

from mexcbot.api.context import ApiContext
from mexcbot.api.live_topics import (
    AUTOBUY,
    BALANCES,
    ORDERS,
    POSITIONS,
    RECONCILIATION,
    RISK,
    STREAMS,
    TICKERS,
    balance_data,
    execution_data,
    family,
    money,
    order_data,
    position_data,
    price_data,
    stream_data,
    ticker_symbol,
    timestamp,
)
from mexcbot.api.position_schemas import RiskOut
from mexcbot.engine.ports import ExchangePortError

log = logging.getLogger(__name__)


async def snapshot_data(ctx: ApiContext, topic: str) -> dict[str, Any] | None:
    """The snapshot's data for ``topic``; None for a topic that has none (fills)."""
    if topic == ORDERS:
        return {"orders": [order_data(order) for order in await ctx.execution.open_orders()]}
    if topic == BALANCES:
        return await _balances(ctx)
    if topic == POSITIONS:
        return {"positions": [position_data(p) for p in ctx.positions.open_positions()]}
    if topic == RISK:
        return RiskOut.now(ctx.risk).model_dump(mode="json")
    if topic == AUTOBUY:
        page = await ctx.autobuy.executions.list(limit=20)
        return {"executions": [execution_data(e) for e in page.executions], "total": page.total}
    if family(topic) == TICKERS:
        symbol = ticker_symbol(topic)
        if symbol is not None:
            return _ticker(ctx, symbol)
        return {"tickers": [price_data(event) for event in ctx.live.prices.values()]}
    if topic == STREAMS:
        return {"streams": [stream_data(event) for event in ctx.live.streams.values()]}
    if topic == RECONCILIATION:
        state = ctx.reconciliation
        return {
            "runs": state.runs,
            "last_finished_at": timestamp(state.last_finished_at),
            "last_report": state.last_report,
            "lost_on_exchange": state.lost_on_exchange,
        }
    return None


async def _balances(ctx: ApiContext) -> dict[str, Any]:
    try:
        balances = await ctx.market.balances()
    except ExchangePortError as exc:
        log.info("balances snapshot without balances: %s: %s", type(exc).__name__, exc)
        return {
            "balances": None,
            "error": "The exchange did not answer; balance updates follow as they arrive",
        }
    return {
        "balances": [balance_data(balance) for balance in balances.value],
        "as_of": balances.as_of.isoformat(),
    }


def _ticker(ctx: ApiContext, symbol: str) -> dict[str, Any]:
    seen = ctx.live.prices.get(symbol)
    if seen is not None:
        data = price_data(seen)
        if data["last_price"] is None:  # only best prices streamed so far: the REST last price
            data["last_price"] = money(ctx.market.last_price(symbol))
        return data
    return {
        "symbol": symbol,
        "last_price": money(ctx.market.last_price(symbol)),
        "bid_price": None,
        "ask_price": None,
        "at": None,
    }
