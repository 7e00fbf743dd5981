"""Private user-data pushes (orders, deals, account) as MEXC's protobuf frames (reference §5).

A fill of one command becomes, per account and in this order: a deals frame per execution, an
orders frame per order it touched (its state at the end of the command), then an account frame per
asset whose balance moved. A placement without a fill gives orders + account (ENTRUST_PLACE), a
cancel orders + account (ENTRUST_CANCEL).
"""

from __future__ import annotations

from decimal import Decimal

from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from mexcsim.decimals import ZERO, fmt
from mexcsim.market.book import BUY, Order
from mexcsim.market.matching import Trade
from mexcsim.market.symbols import SymbolSpec

ORDERS_CHANNEL = "spot@private.orders.v3.api.pb"
DEALS_CHANNEL = "spot@private.deals.v3.api.pb"
ACCOUNT_CHANNEL = "spot@private.account.v3.api.pb"
PRIVATE_CHANNELS = (ORDERS_CHANNEL, DEALS_CHANNEL, ACCOUNT_CHANNEL)

ORDER_STATUS = {
    "NEW": 1,
    "FILLED": 2,
    "PARTIALLY_FILLED": 3,
    "CANCELED": 4,
    "PARTIALLY_CANCELED": 5,
}
ORDER_TYPE = {
    "LIMIT": 1,
    "LIMIT_MAKER": 2,
    "IMMEDIATE_OR_CANCEL": 3,
    "FILL_OR_KILL": 4,
    "MARKET": 5,
}

Balances = dict[str, tuple[Decimal, Decimal]]


def _side(side: str) -> int:
    return 1 if side == BUY else 2


def order_frame(order: Order, is_maker: bool, now: int) -> bytes:
    push = PushDataV3ApiWrapper(channel=ORDERS_CHANNEL, symbol=order.symbol, sendTime=now)
    body = push.privateOrders
    body.id = order.order_id
    body.clientId = order.client_order_id or ""
    body.price = fmt(order.price) if order.price is not None else "0"
    body.quantity = fmt(order.orig_qty) if order.orig_qty is not None else "0"
    body.amount = fmt(order.orig_quote_qty) if order.orig_quote_qty is not None else "0"
    executed = order.executed_qty
    body.avgPrice = fmt(order.cum_quote / executed) if executed else "0"
    body.orderType = ORDER_TYPE.get(order.order_type, 1)
    body.tradeType = _side(order.side)
    body.isMaker = is_maker
    remaining = order.remaining_qty if order.is_open else ZERO
    body.remainQuantity = fmt(remaining if remaining is not None else ZERO)
    body.remainAmount = fmt(order.locked) if order.side == BUY else "0"
    body.cumulativeQuantity = fmt(executed)
    body.cumulativeAmount = fmt(order.cum_quote)
    body.status = ORDER_STATUS[order.status]
    body.createTime = order.time
    return push.SerializeToString()


def deal_frame(trade: Trade, order: Order, spec: SymbolSpec, now: int) -> bytes:
    """One execution as the account owning ``order`` saw it (fee in the asset it received)."""
    push = PushDataV3ApiWrapper(channel=DEALS_CHANNEL, symbol=trade.symbol, sendTime=now)
    body = push.privateDeals
    body.price, body.quantity, body.amount = (
        fmt(trade.price),
        fmt(trade.qty),
        fmt(trade.quote_qty),
    )
    body.tradeType = _side(order.side)
    body.isMaker = order is trade.maker
    body.isSelfTrade = trade.is_self_trade
    body.tradeId = str(trade.trade_id)
    body.clientOrderId = order.client_order_id or ""
    body.orderId = order.order_id
    buyer = order.side == BUY
    body.feeAmount = fmt(trade.buyer_fee if buyer else trade.seller_fee)
    body.feeCurrency = spec.base_asset if buyer else spec.quote_asset
    body.time = trade.time
    return push.SerializeToString()


def account_frames(before: Balances, after: Balances, change_type: str, now: int) -> list[bytes]:
    """One frame per asset whose free or locked amount moved between the two snapshots."""
    frames: list[bytes] = []
    for asset in sorted(after):
        free, locked = after[asset]
        old_free, old_locked = before.get(asset, (ZERO, ZERO))
        if (free, locked) == (old_free, old_locked):
            continue
        push = PushDataV3ApiWrapper(channel=ACCOUNT_CHANNEL, createTime=now, sendTime=now)
        body = push.privateAccount
        body.vcoinName = body.coinId = asset
        body.balanceAmount, body.frozenAmount = fmt(free), fmt(locked)
        body.balanceAmountChange = fmt(free - old_free)
        body.frozenAmountChange = fmt(locked - old_locked)
        body.type = change_type
        body.time = now
        frames.append(push.SerializeToString())
    return frames
