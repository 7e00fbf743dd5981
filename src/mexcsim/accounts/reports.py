"""MEXC's JSON reports of an account: orders, fills, balances (numbers as strings)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from mexcsim.decimals import fmt
from mexcsim.market.book import BUY, Order
from mexcsim.market.matching import MARKET, Trade
from mexcsim.market.symbols import SymbolSpec


def _price_text(order: Order) -> str:
    return "0" if order.price is None or order.order_type == MARKET else fmt(order.price)


def _qty_text(value: Decimal | None) -> str:
    return "0" if value is None else fmt(value)


def order_ack(order: Order) -> dict[str, object]:
    """POST /order answer: an acknowledgement only. A MARKET order sized by quoteOrderQty has no
    quantity, so `origQty` is "" there (clients must tolerate "" and a number).
    """
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "price": _price_text(order),
        "origQty": "" if order.orig_qty is None else fmt(order.orig_qty),
        "type": order.order_type,
        "side": order.side,
        "transactTime": order.time,
    }


def order_view(order: Order) -> dict[str, object]:
    """GET /order, openOrders, allOrders row."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": _price_text(order),
        "origQty": _qty_text(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": None,
        "type": order.order_type,
        "side": order.side,
        "stopPrice": None,
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": True,
        "origQuoteOrderQty": _qty_text(order.orig_quote_qty),
    }


def cancel_view(order: Order) -> dict[str, object]:
    """DELETE /order and DELETE /openOrders row."""
    return {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.order_id,
        "clientOrderId": order.client_order_id,
        "price": _price_text(order),
        "origQty": _qty_text(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": None,
        "type": order.order_type,
        "side": order.side,
    }


def my_trade_row(trade: Trade, owner_order: Order, spec: SymbolSpec) -> dict[str, object]:
    """GET /myTrades row, seen from the side of `owner_order`."""
    is_buyer = owner_order.side == BUY
    commission = trade.buyer_fee if is_buyer else trade.seller_fee
    return {
        "symbol": trade.symbol,
        "id": str(trade.trade_id),
        "orderId": owner_order.order_id,
        "orderListId": -1,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.quote_qty),
        "commission": fmt(commission),
        "commissionAsset": spec.base_asset if is_buyer else spec.quote_asset,
        "time": trade.time,
        "isBuyer": is_buyer,
        "isMaker": owner_order is trade.maker,
        "isBestMatch": True,
        "isSelfTrade": trade.is_self_trade,
        "clientOrderId": owner_order.client_order_id,
    }


def account_report(balances: Mapping[str, tuple[Decimal, Decimal]]) -> dict[str, object]:
    """GET /account: the assets with a non-zero balance."""
    rows = [
        {"asset": asset, "free": fmt(free), "locked": fmt(locked)}
        for asset, (free, locked) in balances.items()
        if free or locked
    ]
    return {
        "makerCommission": None,
        "takerCommission": None,
        "buyerCommission": None,
        "sellerCommission": None,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "updateTime": None,
        "accountType": "SPOT",
        "balances": rows,
        "permissions": ["SPOT"],
    }


def trade_fee_report(spec: SymbolSpec, now: int) -> dict[str, object]:
    """GET /tradeFee: commission rates as JSON numbers (MEXC sends numbers; rates are not money)."""
    return {
        "data": {
            "makerCommission": float(spec.maker_commission),
            "takerCommission": float(spec.taker_commission),
        },
        "code": 0,
        "msg": "success",
        "timestamp": now,
    }
