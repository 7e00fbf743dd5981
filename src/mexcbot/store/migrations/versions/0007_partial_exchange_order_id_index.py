"""The index of orders by exchange order id holds only orders that have one.

An order's intent is stored before the exchange has seen it, so every new row carried a NULL
into this index and its acknowledgement moved it out again: one index page more to write in
each of the two hot-path transactions. Lookups by exchange order id (``= :id``) imply
``IS NOT NULL``, so SQLite and PostgreSQL use the partial index for them as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_ID = sa.text("exchange_order_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_orders_exchange_order_id", table_name="orders")
    op.create_index(
        "ix_orders_exchange_order_id",
        "orders",
        ["exchange_order_id"],
        unique=False,
        sqlite_where=_HAS_ID,
        postgresql_where=_HAS_ID,
    )


def downgrade() -> None:
    op.drop_index("ix_orders_exchange_order_id", table_name="orders")
    op.create_index("ix_orders_exchange_order_id", "orders", ["exchange_order_id"], unique=False)
