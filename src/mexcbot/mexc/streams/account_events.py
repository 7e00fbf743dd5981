"""The account's own pushes (user data stream): order changes, fills and balance changes.

Same contract as ``mexcbot.mexc.streams.events``: immutable, converted on each read. These feed
the engine's one idempotent order-sync path, so every figure is exact (Decimal) and every value
this bot does not know reads as ``None`` rather than a guess.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from mexcbot.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from mexcbot.mexc.streams.events import PushEvent, amount, optional_figure, side_of

#: privateOrders.orderType -> (type, time in force); 100+ (stop-limit, OCO) have no domain type.
_ORDER_TYPES: Final = {
    1: (OrderType.LIMIT, TimeInForce.GTC),
    2: (OrderType.LIMIT_MAKER, TimeInForce.GTC),
    3: (OrderType.LIMIT, TimeInForce.IOC),
    4: (OrderType.LIMIT, TimeInForce.FOK),
    5: (OrderType.MARKET, TimeInForce.GTC),
}
_STATUSES: Final = {
    1: OrderStatus.NEW,
    2: OrderStatus.FILLED,
    3: OrderStatus.PARTIALLY_FILLED,
    4: OrderStatus.CANCELED,
    5: OrderStatus.PARTIALLY_CANCELED,
}


class OrderUpdate(PushEvent):
    """A change of one of the account's orders (private.orders).

    ``status``, ``order_type`` and ``time_in_force`` are ``None`` for values this bot does not
    know (stop-limit and OCO orders, status 0): such an update must not move an order's state.
    """

    __slots__ = ()

    @property
    def order_id(self) -> str:
        return self._push.privateOrders.id

    @property
    def client_order_id(self) -> str | None:
        return self._push.privateOrders.clientId or None

    @property
    def side(self) -> OrderSide | None:
        return side_of(self._push.privateOrders.tradeType)

    @property
    def order_type(self) -> OrderType | None:
        pair = _ORDER_TYPES.get(self._push.privateOrders.orderType)
        return pair[0] if pair else None

    @property
    def time_in_force(self) -> TimeInForce | None:
        pair = _ORDER_TYPES.get(self._push.privateOrders.orderType)
        return pair[1] if pair else None

    @property
    def status(self) -> OrderStatus | None:
        return _STATUSES.get(self._push.privateOrders.status)

    @property
    def price(self) -> Decimal | None:
        """The limit (or market protection) price; ``None`` when MEXC sends none."""
        return optional_figure(self._push.privateOrders.price)

    @property
    def quantity(self) -> Decimal | None:
        """The ordered base quantity; ``None`` for an order sized by quote amount."""
        return optional_figure(self._push.privateOrders.quantity)

    @property
    def quote_amount(self) -> Decimal | None:
        """The ordered quote amount; ``None`` (MEXC: "0" or absent) when sized by quantity."""
        amount = optional_figure(self._push.privateOrders.amount)
        return amount if amount else None

    @property
    def avg_price(self) -> Decimal | None:
        amount = optional_figure(self._push.privateOrders.avgPrice)
        return amount if amount else None

    @property
    def executed_qty(self) -> Decimal:
        return amount(self._push.privateOrders.cumulativeQuantity)

    @property
    def cumulative_quote_qty(self) -> Decimal:
        return amount(self._push.privateOrders.cumulativeAmount)

    @property
    def remaining_qty(self) -> Decimal:
        return amount(self._push.privateOrders.remainQuantity)

    @property
    def remaining_quote_qty(self) -> Decimal:
        return amount(self._push.privateOrders.remainAmount)

    @property
    def last_fill_qty(self) -> Decimal | None:
        body = self._push.privateOrders
        return optional_figure(body.lastDealQuantity) if body.HasField("lastDealQuantity") else None

    @property
    def is_maker(self) -> bool:
        return self._push.privateOrders.isMaker

    @property
    def created_at(self) -> int:
        return self._push.privateOrders.createTime


class FillUpdate(PushEvent):
    """One execution of one of the account's orders (private.deals): unique per ``trade_id``.

    ``fee_asset`` may differ from both assets of the symbol (MEXC takes fees in MX when asked).
    """

    __slots__ = ()

    @property
    def trade_id(self) -> str:
        return self._push.privateDeals.tradeId

    @property
    def order_id(self) -> str:
        return self._push.privateDeals.orderId

    @property
    def client_order_id(self) -> str | None:
        return self._push.privateDeals.clientOrderId or None

    @property
    def side(self) -> OrderSide | None:
        return side_of(self._push.privateDeals.tradeType)

    @property
    def price(self) -> Decimal:
        return amount(self._push.privateDeals.price)

    @property
    def qty(self) -> Decimal:
        return amount(self._push.privateDeals.quantity)

    @property
    def quote_qty(self) -> Decimal:
        return amount(self._push.privateDeals.amount)

    @property
    def fee(self) -> Decimal:
        return amount(self._push.privateDeals.feeAmount)

    @property
    def fee_asset(self) -> str:
        return self._push.privateDeals.feeCurrency

    @property
    def is_maker(self) -> bool:
        return self._push.privateDeals.isMaker

    @property
    def is_self_trade(self) -> bool:
        return self._push.privateDeals.isSelfTrade

    @property
    def time(self) -> int:
        return self._push.privateDeals.time


class BalanceUpdate(PushEvent):
    """One asset's balance after one change (private.account): MEXC pushes one frame per change.

    ``free``/``locked`` are the balances after the change, the ``*_change`` figures its deltas;
    ``reason`` is MEXC's type (ENTRUST_PLACE, ENTRUST, TRADE_FEE, DEPOSIT, ...).
    """

    __slots__ = ()

    @property
    def asset(self) -> str:
        return self._push.privateAccount.vcoinName

    @property
    def free(self) -> Decimal:
        return amount(self._push.privateAccount.balanceAmount)

    @property
    def free_change(self) -> Decimal:
        return amount(self._push.privateAccount.balanceAmountChange)

    @property
    def locked(self) -> Decimal:
        return amount(self._push.privateAccount.frozenAmount)

    @property
    def locked_change(self) -> Decimal:
        return amount(self._push.privateAccount.frozenAmountChange)

    @property
    def reason(self) -> str:
        return self._push.privateAccount.type

    @property
    def time(self) -> int:
        return self._push.privateAccount.time
