"""Request and response bodies of the REST API (pydantic v2), and their mapping from the domain.

Every price, quantity and amount is a Decimal serialised as a JSON string ("0.1", never 0.1), the
way MEXC sends them: a float would round money. Input amounts are plain decimal strings or JSON
integers (``PlainDecimal``, api/numbers.py), parsed exactly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic_core import PydanticKnownError

from mexcbot.api.numbers import PlainDecimal, decimal_json
from mexcbot.domain.orders import (
    SYMBOL_PATTERN,
    Order,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    TimeInForce,
    check_amounts,
)
from mexcbot.domain.symbols import SymbolRules
from mexcbot.domain.tokens import TOKEN_NAME_PATTERN, ApiToken, TokenRole

MAX_DECIMAL = Decimal("1e15")
MAX_DECIMAL_PLACES = 18
_LT_CONTEXT = {"lt": repr(MAX_DECIMAL)}  # what pydantic's `lt` check names: "Decimal('1E+15')"


def _positive_amount(value: Decimal) -> Decimal:
    """``Field(gt=0, lt=MAX_DECIMAL, allow_inf_nan=False, decimal_places=18)`` in one step.

    On an annotated type with its own validator (`PlainDecimal`) pydantic cannot hand these
    constraints to its core: it chains four Python validators instead, one per constraint, each
    a call from the core into Python. This is the same checks in the same order with the same
    errors (type, message, context: tests/mexcbot/api/test_numbers.py compares them with the
    Field form), in one call. ``PlaceOrderBody`` validation, hot loop, median of 3x5 runs of
    3,000: 10.7 -> 5.4 us (two amounts).
    """
    if not value > 0:
        raise PydanticKnownError("greater_than", {"gt": 0})
    if not value < MAX_DECIMAL:
        raise PydanticKnownError("less_than", _LT_CONTEXT)
    if not value.is_finite():
        raise PydanticKnownError("finite_number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        # pydantic's rule: too many places as written AND without the trailing zeros
        digits = value.as_tuple().digits
        trailing = len(digits) - len(bytes(digits).rstrip(b"\0"))
        if trailing < len(digits) and -(exponent + trailing) > MAX_DECIMAL_PLACES:
            raise PydanticKnownError("decimal_max_places", {"decimal_places": MAX_DECIMAL_PLACES})
    return value


#: A Decimal that travels as a JSON string.
Money = Annotated[Decimal, PlainSerializer(decimal_json, return_type=str, when_used="json")]
#: A positive amount a user sends: a plain decimal, > 0, below 1e15, at most 18 decimals.
PositiveAmount = Annotated[PlainDecimal, AfterValidator(_positive_amount)]
Symbol = Annotated[
    str,
    Field(
        pattern=SYMBOL_PATTERN,
        description="Upper-case market symbol, like BTCUSDT",
        examples=["BTCUSDT"],
    ),
]
#: A symbol in a route's path (the same rule).
SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, examples=["BTCUSDT"])]
#: A token name in a route's path (the domain's rule).
TokenNamePath = Annotated[str, Path(pattern=TOKEN_NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- problems ------------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str
    message: str
    rule: str


class Problem(BaseModel):
    """An RFC 9457 problem document, with a stable ``code`` and the ``field`` at fault."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    mexc_code: int | None = None
    mexc_message: str | None = None


# --- orders --------------------------------------------------------------------------------------


class PlaceOrderBody(_Strict):
    """What to trade. LIMIT and LIMIT_MAKER need quantity and price; MARKET needs exactly one of
    quantity or quote_amount (spend this much quote currency) and no price."""

    symbol: Symbol
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce = TimeInForce.GTC
    quantity: PositiveAmount | None = None
    quote_amount: PositiveAmount | None = None
    price: PositiveAmount | None = None

    @model_validator(mode="after")
    def _amounts_fit_the_type(self) -> Self:
        # The domain's rules, so the API cannot drift from what the engine accepts. Their
        # InvalidOrder is a ValueError: pydantic reports it, and the problem names its field.
        check_amounts(
            self.type,
            self.time_in_force,
            quantity=self.quantity,
            quote_amount=self.quote_amount,
            price=self.price,
        )
        return self

    def command(self, *, origin_ref: str, idempotency_key: str | None) -> PlaceOrder:
        return PlaceOrder(
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            time_in_force=self.time_in_force,
            quantity=self.quantity,
            quote_amount=self.quote_amount,
            price=self.price,
            origin=OrderOrigin.USER,
            origin_ref=origin_ref,
            idempotency_key=idempotency_key,
        )


class OrderOut(BaseModel):
    """An order: what was asked, and what the exchange reported."""

    client_order_id: str = Field(description="Our id for the order (also MEXC's clientOrderId)")
    exchange_order_id: str | None
    symbol: str
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    status: OrderStatus
    quantity: Money | None
    quote_amount: Money | None
    price: Money | None
    executed_qty: Money
    cumulative_quote_qty: Money
    avg_price: Money | None
    fees: dict[str, Money]
    origin: OrderOrigin
    is_external: bool
    created_at: datetime
    exchange_updated_at: datetime | None
    reject_code: int | None
    reject_message: str | None

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        request = order.request
        return cls(
            client_order_id=order.client_order_id,
            exchange_order_id=order.exchange_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            status=order.status,
            quantity=request.quantity,
            quote_amount=request.quote_amount,
            price=request.price,
            executed_qty=order.executed_qty,
            cumulative_quote_qty=order.cumulative_quote_qty,
            avg_price=order.avg_price,
            fees=dict(order.fees),
            origin=request.origin,
            is_external=order.is_external,
            created_at=order.created_at,
            exchange_updated_at=order.exchange_updated_at,
            reject_code=order.reject_code,
            reject_message=order.reject_message,
        )


class OrderPageOut(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page")


class QuantityQuote(BaseModel):
    symbol: str
    side: OrderSide
    quote_amount: Money
    quantity: Money = Field(description="What the quote amount buys/sells, after rounding")


# --- market and account --------------------------------------------------------------------------


class TickerOut(BaseModel):
    symbol: str
    last_price: Money | None
    bid_price: Money | None
    ask_price: Money | None
    high_price: Money | None
    low_price: Money | None
    volume: Money | None
    quote_volume: Money | None
    price_change_percent: Money | None
    as_of: datetime | None = Field(
        default=None, description="When the exchange reported this (the snapshot's time)"
    )
    prices_as_of: datetime | None = Field(
        default=None,
        description="When last/bid/ask were true, if they come from the market stream (newer "
        "than the 24 h statistics of as_of); null when all figures are from one snapshot",
    )


class PriceLevelOut(BaseModel):
    price: Money
    quantity: Money


class OrderBookOut(BaseModel):
    symbol: str
    last_update_id: int
    bids: list[PriceLevelOut]
    asks: list[PriceLevelOut]
    as_of: datetime | None = Field(
        default=None, description="When the exchange reported this (the snapshot's time)"
    )


class PublicTradeOut(BaseModel):
    """A trade on the market (anyone's), as the exchange reports it."""

    price: Money
    quantity: Money
    quote_quantity: Money
    time: int = Field(description="Milliseconds since the epoch")
    is_buyer_maker: bool = Field(description="True: the seller took the bid (a sell)")
    trade_id: str | None


class KlineOut(BaseModel):
    open_time: int
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money
    close_time: int
    quote_volume: Money


class SymbolOut(BaseModel):
    symbol: str
    base_asset: str
    quote_asset: str
    status: str
    tradable: bool
    quantity_precision: int
    price_precision: int
    min_quantity: Money
    min_notional: Money
    max_notional: Money | None
    min_notional_market: Money
    max_notional_market: Money | None
    order_types: list[OrderType]
    maker_commission: Money
    taker_commission: Money

    @classmethod
    def of(cls, rules: SymbolRules) -> SymbolOut:
        return cls(
            symbol=rules.symbol,
            base_asset=rules.base_asset,
            quote_asset=rules.quote_asset,
            status=rules.status.value,
            tradable=rules.is_tradable,
            quantity_precision=rules.quantity_precision,
            price_precision=rules.price_precision,
            min_quantity=rules.min_quantity,
            min_notional=rules.min_notional,
            max_notional=rules.max_notional,
            min_notional_market=rules.min_notional_market,
            max_notional_market=rules.max_notional_market,
            order_types=sorted(rules.order_types),
            maker_commission=rules.maker_commission,
            taker_commission=rules.taker_commission,
        )


class BalanceOut(BaseModel):
    asset: str
    free: Money
    locked: Money
    as_of: datetime | None = Field(
        default=None, description="When the exchange reported this (the snapshot's time)"
    )


# --- system --------------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class AccountScanOut(BaseModel):
    at: datetime = Field(description="When the account was last scanned for open orders")
    symbols_scanned: int = Field(description="Symbols asked for open orders in that scan")
    candidates: int = Field(
        description="Symbols the locked balances pointed at, beyond those the bot trades; more "
        "than symbols_scanned when the per-pass bound cut the list (the rest rotate in later)"
    )
    locked_assets: list[str] = Field(description="Assets with a locked balance")


class ExternalOrdersOut(BaseModel):
    open: int = Field(
        description="Open orders placed outside the bot (adopted, never cancelled "
        "or changed by the bot unless a user asks)"
    )
    last_account_scan: AccountScanOut | None = Field(
        description="The last successful account scan; null before the first"
    )


class StreamStatusOut(BaseModel):
    connected: bool
    last_message_age_s: float | None = Field(
        description="Seconds since the last push on this stream; null before the first"
    )
    reconnects: int = Field(description="Connects after the first one")
    gaps: int = Field(
        description="Disconnects: times pushes may have been missed (each closed by reconciliation)"
    )


class LiveConnectionOut(BaseModel):
    connection: int
    connected: bool
    subscriptions: int = Field(description="Channels on this connection (MEXC allows 30)")
    last_push_age_s: float | None = Field(
        description="Seconds since its last push; null before the first"
    )


class LiveMarketOut(BaseModel):
    """Market data kept from the stream for the symbols being read (books, trades, prices)."""

    watched: list[str] = Field(description="Symbols watched now (on demand or followed)")
    connections: list[LiveConnectionOut]
    books_synced: int = Field(description="Watched order books synced by version right now")
    book_resyncs: int = Field(description="Resyncs from REST (version gaps, reconnects)")
    book_snapshots: int = Field(description="REST depth snapshots taken for the books")
    stale_after_s: float = Field(
        description="A connection without a push for this long stops answering reads (REST then)"
    )


class StatusOut(BaseModel):
    mode: str
    version: str
    ready: bool
    exchange_url: str
    exchange_reachable: bool
    clock_offset_ms: int
    rate_limit_wait_seconds: float = Field(description="Total time spent waiting for budget")
    rate_limit_headroom: dict[str, float] | None = Field(
        description="Per exchange endpoint used so far, the free share of its tightest budget "
        "(1.0 idle, 0.0 exhausted); null when client-side throttling is off"
    )
    read_wait_limit_seconds: float | None = Field(
        default=None,
        description="Longest a market-data or account read waits for exchange budget before "
        "answering 503 with Retry-After; null when unbounded",
    )
    queued_reads: int = Field(
        default=0, description="Reads waiting for exchange rate-limit budget right now"
    )
    reconciliation: dict[str, Any]
    lost_orders: int = Field(
        description="Orders the exchange acknowledged and later no longer knew (status LOST)"
    )
    external_orders: ExternalOrdersOut
    streams: dict[str, StreamStatusOut] = Field(
        default_factory=dict,
        description="The exchange streams: user (orders, fills, balances) and market (prices)",
    )
    live_market: LiveMarketOut | None = Field(
        default=None,
        description="The live market state reads are served from; null when it is off",
    )


# --- tokens --------------------------------------------------------------------------------------


class CreateToken(_Strict):
    name: str = Field(pattern=TOKEN_NAME_PATTERN)
    role: TokenRole


class TokenOut(BaseModel):
    name: str
    role: TokenRole
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            name=token.name,
            role=token.role,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class AuditEntryOut(BaseModel):
    """Who (token name, or system/cli) did what to what, and how it ended."""

    time: datetime
    actor: str
    action: str
    target: str | None
    result: str


class WhoAmIOut(BaseModel):
    """The caller's token: its name and role (what a client may offer its user to do)."""

    name: str
    role: TokenRole


class CreatedToken(TokenOut):
    token: str = Field(description="The bearer token. Shown once: only its hash is stored")
