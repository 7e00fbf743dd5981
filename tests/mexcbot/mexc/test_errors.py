"""The code -> error class table and the write/read split for unlisted codes."""

from __future__ import annotations

import pytest

from mexcbot.mexc.errors import (
    InsufficientBalance,
    InvalidSignature,
    MexcError,
    MinNotional,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    Oversold,
    SymbolNotTradable,
    TimestampOutsideRecvWindow,
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
    ],
)
def test_known_codes_map_to_their_class(code: int, cls: type[MexcError]) -> None:
    error = error_for(code, "msg", 400, write=False)
    assert type(error) is cls
    assert (error.code, error.msg, error.http_status) == (code, "msg", 400)


def test_unlisted_code_is_order_rejected_on_write_only() -> None:
    assert type(error_for(30041, "type not allowed", 400, write=True)) is OrderRejected
    assert type(error_for(30041, "type not allowed", 400, write=False)) is MexcError


def test_business_rejections_are_order_rejections() -> None:
    for cls in (SymbolNotTradable, MinNotional, InsufficientBalance, Oversold):
        assert issubclass(cls, OrderRejected)


def test_outcome_unknown_carries_client_ids() -> None:
    error = OutcomeUnknown("timeout", client_order_ids=("a", "b"))
    assert error.client_order_id == "a"
    assert error.client_order_ids == ("a", "b")
    assert error.code is None
