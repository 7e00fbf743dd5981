"""Ids that must not be handed out again: the highest id of a deleted position.

SQLite gives a new row the highest id plus one, so deleting the newest position gave its id to
the next one, whose entry and exit client order ids ("position:{id}:...") were then those of the
deleted position's orders: a 409 for every new position, or the old order taken for the new
one. The table is seeded from the position ids the stored orders name.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREFIX = "position:"


def upgrade() -> None:
    op.create_table(
        "retired_ids",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
    )
    orders = sa.table("orders", sa.column("origin_ref", sa.String()))
    named = sa.cast(sa.func.substr(orders.c.origin_ref, len(_PREFIX) + 1), sa.Integer)
    found = (
        op.get_bind()
        .execute(sa.select(sa.func.max(named)).where(orders.c.origin_ref.like(f"{_PREFIX}%")))
        .scalar()
    )
    if found is not None:
        retired = sa.table("retired_ids", sa.column("name"), sa.column("last_id"))
        op.execute(retired.insert().values(name="positions", last_id=int(found)))


def downgrade() -> None:
    op.drop_table("retired_ids")
