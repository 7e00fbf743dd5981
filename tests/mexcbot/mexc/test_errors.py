"""The code -> error class table and the write/read split for unlisted codes."""

from __future__ import annotations

import pytest

from mexcbot.mexc.errors import (
    AccessDenied,
    InsufficientBalance,
    InvalidOrderParameter,
    InvalidSignature,
    LimitMakerWouldTake,
    MexcError,
    MinNotional,
    OrderNotFound,
    OrderRejected,
    OrderTypeNotAllowed,
    OutcomeUnknown,
    Oversold,
    PriceOutOfBand,
    SymbolNotTradable,
    TimestampOutsideRecvWindow,
    TooManyOpenOrders,
    error_for,
)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10007, SymbolNotTradable),
        (30002, MinNotional),
        (10101, InsufficientBalance),
        (30004, InsufficientBalance),
        (30005, Oversold),
        (602, InvalidSignature),
        (700002, InvalidSignature),
        (700003, TimestampOutsideRecvWindow),
        (-2011, OrderNotFound),
        (-2013, OrderNotFound),
        (-2010, LimitMakerWouldTake),
        (30010, PriceOutOfBand),
        (30029, TooManyOpenOrders),
        (30041, OrderTypeNotAllowed),
        (30019, OrderTypeNotAllowed),
        (30051, OrderTypeNotAllowed),
        (400, AccessDenied),
    ],
)
def test_known_codes_map_to_their_class(code: int, cls: type[MexcError]) -> None:
    error = error_for(code, "msg", 400, write=False)
    assert type(error) is cls
    assert (error.code, error.msg, error.http_status) == (code, "msg", 400)


def test_unlisted_code_is_order_rejected_on_write_only() -> None:
    assert type(error_for(30016, "trading disabled", 400, write=True)) is OrderRejected
    assert type(error_for(30016, "trading disabled", 400, write=False)) is MexcError


@pytest.mark.parametrize(
    ("code", "msg", "field"),
    [
        # MEXC's recorded answers (code 400, leading space)
        (400, " amount scale is invalid", "quoteOrderQty"),
        (400, " quantity scale is invalid", "quantity"),
        (400, "price scale is invalid", "price"),
        # the simulator's older answers
        (-1111, "price 60000.001 has too many decimals: at most 2 allowed", "price"),
        (-1111, "quantity 0.0000001 has too many decimals: at most 6 allowed", "quantity"),
        (-1111, "quoteOrderQty 1.001 has too many decimals: at most 2 allowed", "quoteOrderQty"),
        (-1111, "Precision is over the maximum defined for this asset.", None),
        (-1013, "quantity 0.05 is below the minimum quantity 0.1 of METALUSDT", "quantity"),
    ],
)
def test_parameter_errors_name_the_field(code: int, msg: str, field: str | None) -> None:
    error = error_for(code, msg, 400, write=True)
    assert type(error) is InvalidOrderParameter
    assert (error.code, error.msg, error.field) == (code, msg, field)


def test_business_rejections_are_order_rejections() -> None:
    for cls in (
        SymbolNotTradable,
        MinNotional,
        InsufficientBalance,
        Oversold,
        InvalidOrderParameter,
        LimitMakerWouldTake,
        OrderTypeNotAllowed,
        TooManyOpenOrders,
        PriceOutOfBand,
    ):
        assert issubclass(cls, OrderRejected)


def test_outcome_unknown_carries_client_ids() -> None:
    error = OutcomeUnknown("timeout", client_order_ids=("a", "b"))
    assert error.client_order_id == "a"
    assert error.client_order_ids == ("a", "b")
    assert error.code is None
