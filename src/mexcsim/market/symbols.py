"""Trading rules of the simulated markets, in MEXC's exchangeInfo vocabulary.

`SymbolSpec` mirrors one exchangeInfo symbol entry so the simulator validates orders exactly as MEXC
documents them: `base_asset_precision` is the number of decimals a quantity may carry,
`quote_asset_precision` the decimals of a price, `base_size_precision` the minimum quantity,
`quote_amount_precision` the minimum notional (and `..._market` for MARKET orders).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mexcsim.decimals import fmt

ALL_ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")

TRADE_SIDE_ALL = 1
TRADE_SIDE_BUY_ONLY = 2
TRADE_SIDE_SELL_ONLY = 3
TRADE_SIDE_CLOSED = 4


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One market's rules; `initial_price` is where the simulated market starts trading."""

    symbol: str
    base_asset: str
    quote_asset: str
    base_asset_precision: int
    quote_asset_precision: int
    base_size_precision: Decimal
    quote_amount_precision: Decimal
    quote_amount_precision_market: Decimal
    max_quote_amount: Decimal
    max_quote_amount_market: Decimal
    maker_commission: Decimal
    taker_commission: Decimal
    initial_price: Decimal
    full_name: str = ""
    order_types: tuple[str, ...] = ("LIMIT", "MARKET", "LIMIT_MAKER")
    trade_side_type: int = TRADE_SIDE_ALL
    status: str = "1"
    bid_multiplier_up: Decimal = Decimal(5)
    ask_multiplier_down: Decimal = Decimal("0.2")
    base_commission_precision: int | None = None
    quote_commission_precision: int | None = None
    is_spot_trading_allowed: bool = True
    api_enabled: bool = True

    @property
    def base_fee_decimals(self) -> int:
        """Decimals of a fee charged in the base asset (defaults to the quantity precision)."""
        if self.base_commission_precision is None:
            return self.base_asset_precision
        return self.base_commission_precision

    @property
    def quote_fee_decimals(self) -> int:
        """Decimals of a fee charged in the quote asset (defaults to the price precision)."""
        if self.quote_commission_precision is None:
            return self.quote_asset_precision
        return self.quote_commission_precision

    @property
    def tradable(self) -> bool:
        """Online, spot-enabled and open to API orders (else orders get 10007)."""
        return self.status == "1" and self.is_spot_trading_allowed and self.api_enabled

    def exchange_info_entry(self, status: str | None = None) -> dict[str, object]:
        """The exchangeInfo JSON object; `status` overrides the spec (used for pending listings)."""
        return {
            "symbol": self.symbol,
            "status": status if status is not None else self.status,
            "baseAsset": self.base_asset,
            "baseAssetPrecision": self.base_asset_precision,
            "quoteAsset": self.quote_asset,
            "quotePrecision": self.quote_asset_precision,
            "quoteAssetPrecision": self.quote_asset_precision,
            "baseCommissionPrecision": self.base_fee_decimals,
            "quoteCommissionPrecision": self.quote_fee_decimals,
            "orderTypes": list(self.order_types),
            "isSpotTradingAllowed": self.is_spot_trading_allowed,
            "isMarginTradingAllowed": False,
            "quoteAmountPrecision": fmt(self.quote_amount_precision),
            "baseSizePrecision": fmt(self.base_size_precision),
            "permissions": ["SPOT"],
            "filters": [
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": fmt(self.bid_multiplier_up),
                    "askMultiplierDown": fmt(self.ask_multiplier_down),
                }
            ],
            "maxQuoteAmount": fmt(self.max_quote_amount),
            "makerCommission": fmt(self.maker_commission),
            "takerCommission": fmt(self.taker_commission),
            "quoteAmountPrecisionMarket": fmt(self.quote_amount_precision_market),
            "maxQuoteAmountMarket": fmt(self.max_quote_amount_market),
            "fullName": self.full_name,
            "tradeSideType": self.trade_side_type,
            "contractAddress": "",
            "st": False,
        }


def _usdt_market(
    base: str,
    full_name: str,
    *,
    price_decimals: int,
    qty_decimals: int,
    min_qty: str,
    price: str,
    min_notional: str = "1",
    maker: str = "0",
    taker: str = "0.0005",
    order_types: tuple[str, ...] = ALL_ORDER_TYPES,
) -> SymbolSpec:
    return SymbolSpec(
        symbol=f"{base}USDT",
        base_asset=base,
        quote_asset="USDT",
        base_asset_precision=qty_decimals,
        quote_asset_precision=price_decimals,
        base_size_precision=Decimal(min_qty),
        quote_amount_precision=Decimal(min_notional),
        quote_amount_precision_market=Decimal(min_notional),
        max_quote_amount=Decimal(2_000_000),
        max_quote_amount_market=Decimal(100_000),
        maker_commission=Decimal(maker),
        taker_commission=Decimal(taker),
        initial_price=Decimal(price),
        full_name=full_name,
        order_types=order_types,
    )


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    _usdt_market(
        "BTC", "Bitcoin", price_decimals=2, qty_decimals=6, min_qty="0.000001", price="65000"
    ),
    _usdt_market(
        "ETH", "Ethereum", price_decimals=2, qty_decimals=5, min_qty="0.00001", price="3200"
    ),
    _usdt_market(
        "MX", "MX Token", price_decimals=4, qty_decimals=2, min_qty="0.01", price="2.85", taker="0"
    ),
    _usdt_market("KAS", "Kaspa", price_decimals=6, qty_decimals=2, min_qty="0.01", price="0.1234"),
    _usdt_market(
        "PEPE", "Pepe", price_decimals=10, qty_decimals=2, min_qty="1", price="0.00001234"
    ),
    _usdt_market(
        "METAL",
        "Metal Blockchain",
        price_decimals=5,
        qty_decimals=2,
        min_qty="0.1",
        price="0.8512",
        order_types=("LIMIT", "MARKET", "LIMIT_MAKER"),
        taker="0.001",
        maker="0.001",
    ),
)

DEFAULT_FUNDING: dict[str, Decimal] = {
    "USDT": Decimal(100_000),
    "BTC": Decimal(1),
    "ETH": Decimal(10),
    "MX": Decimal(1_000),
    "KAS": Decimal(10_000),
    "PEPE": Decimal(100_000_000),
    "METAL": Decimal(1_000),
}


# --- the exact JSON form of a SymbolSpec (state files and journaled listings) ---------------------
def _decimal(value: object) -> Decimal:
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal string, got {value!r}")
    return Decimal(value)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _items(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


_SPEC_TYPES = typing.get_type_hints(SymbolSpec)


def encode_spec(spec: SymbolSpec) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in dataclasses.fields(spec):
        value = getattr(spec, item.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[item.name] = value
    return out


def decode_spec(data: object) -> SymbolSpec:
    if not isinstance(data, dict):
        raise TypeError(f"a symbol must be an object, got {type(data).__name__}")
    raw: dict[str, Any] = data
    values: dict[str, Any] = {}
    for name, value in raw.items():
        hint = _SPEC_TYPES.get(name)
        if hint is None:
            raise KeyError(f"unknown symbol field {name!r}")
        if hint is Decimal:
            values[name] = _decimal(value)
        elif hint == tuple[str, ...]:
            values[name] = tuple(_text(v) for v in _items(value))
        elif hint is bool:
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected true/false")
            values[name] = value
        elif hint is int:
            values[name] = _integer(value)
        elif hint == int | None:
            values[name] = None if value is None else _integer(value)
        else:
            values[name] = _text(value)
    return SymbolSpec(**values)
