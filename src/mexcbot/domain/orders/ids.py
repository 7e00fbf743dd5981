"""Client order ids: random for a one-off order, derived from an idempotency key otherwise.

The client order id is the idempotency key of the whole system (architecture, principle 2): where a
trigger is deterministic (rule + listing, position + exit, an API Idempotency-Key) the id is derived
from it, so a repeated trigger collides on the unique id instead of trading twice.
"""

from __future__ import annotations

import hashlib
import os
import re

from mexcbot.domain.orders.vocabulary import InvalidOrder

CLIENT_ORDER_ID_PREFIX = "mxb"
CLIENT_ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ID_BODY_LENGTH = 32 - len(CLIENT_ORDER_ID_PREFIX)
_ID_BYTES = (_ID_BODY_LENGTH + 1) // 2  # two hex digits a byte


def new_client_order_id() -> str:
    """A fresh random id (116 random bits) for an order with no natural idempotency key.

    The bytes come from `os.urandom`, as `secrets.token_hex` takes them, without its wrapper
    and only as many as the id keeps (15 bytes: 30 hex digits, 29 kept): 1.10 -> 0.88 us
    (timeit, best of 7 x 100,000)."""
    return CLIENT_ORDER_ID_PREFIX + os.urandom(_ID_BYTES).hex()[:_ID_BODY_LENGTH]


def client_order_id_for(key: str) -> str:
    """The deterministic id for an idempotency key (e.g. "rule:7:listing:ABCUSDT").

    The same key always gives the same id, so a repeated trigger collides on the unique
    client_order_id instead of buying twice. Different keys collide with probability ~2^-116.
    """
    if not key:
        raise InvalidOrder("idempotency_key must not be empty", field="idempotency_key")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return CLIENT_ORDER_ID_PREFIX + digest[:_ID_BODY_LENGTH]


def validate_client_order_id(value: str) -> str:
    """Return `value` if MEXC accepts it as newClientOrderId, else raise `InvalidOrder`."""
    if not CLIENT_ORDER_ID_PATTERN.fullmatch(value):
        raise InvalidOrder(
            "client_order_id must be 1 to 32 characters of letters, digits, '_' or '-' "
            f"(pattern {CLIENT_ORDER_ID_PATTERN.pattern}); got {value!r}",
            field="client_order_id",
        )
    return value
