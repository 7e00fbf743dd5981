"""The start-of-day equity a percent daily-loss limit is measured against, kept with the
trading state so a restart measures against the same equity.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mexcbot.store.types import ExactDecimal, UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trading_state") as batch:
        batch.add_column(sa.Column("start_equity", ExactDecimal(), nullable=True))
        batch.add_column(sa.Column("start_equity_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trading_state") as batch:
        batch.drop_column("start_equity_at")
        batch.drop_column("start_equity")
