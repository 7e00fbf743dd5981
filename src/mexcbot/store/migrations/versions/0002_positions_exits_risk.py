"""Positions with their fills and exit state, and the trading state with its risk limits.

The positions table of 0001 was never written to; it is replaced by one that keeps the average
cost book and the persisted exit state (stop, trailing peak, ladder progress, the exit order in
flight), so a restart re-arms every exit exactly where it was.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mexcbot.store.types import ExactDecimal, UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, ExactDecimal(), nullable=nullable)


def upgrade() -> None:
    op.drop_index("ix_positions_symbol_status", table_name="positions")
    op.drop_table("positions")
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("base_asset", sa.String(length=20), nullable=False),
        sa.Column("quote_asset", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        _decimal("quantity"),
        _decimal("entered_quantity"),
        _decimal("cost"),
        _decimal("spent_quote"),
        _decimal("proceeds_quote"),
        _decimal("realized_pnl"),
        _decimal("fees_quote"),
        _decimal("peak_price", nullable=True),
        _decimal("trough_price", nullable=True),
        _decimal("dust_quantity"),
        sa.Column("exits", sa.Text(), nullable=False),
        _decimal("stop_price", nullable=True),
        sa.Column("stop_trigger", sa.String(length=16), nullable=True),
        _decimal("trailing_peak", nullable=True),
        sa.Column("take_profits_done", sa.Integer(), nullable=False),
        sa.Column("exit_seq", sa.Integer(), nullable=False),
        sa.Column("exit_order_id", sa.String(length=32), nullable=True),
        sa.Column("exit_trigger", sa.String(length=16), nullable=True),
        sa.Column("exit_level", sa.Integer(), nullable=True),
        sa.Column("exit_failures", sa.Integer(), nullable=False),
        sa.Column("exit_failed_reason", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index("ix_positions_symbol_status", "positions", ["symbol", "status"], unique=False)
    op.create_index("ix_positions_opened_at", "positions", ["opened_at"], unique=False)
    op.create_table(
        "position_fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=False),
        sa.Column("exchange_trade_id", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        _decimal("price"),
        _decimal("quantity"),
        _decimal("commission"),
        sa.Column("commission_asset", sa.String(length=20), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_position_fills_position_id_positions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_fills")),
        sa.UniqueConstraint(
            "position_id",
            "client_order_id",
            "exchange_trade_id",
            name=op.f("uq_position_fills_position_id_client_order_id_exchange_trade_id"),
        ),
    )
    op.create_table(
        "trading_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_state")),
    )


def downgrade() -> None:
    op.drop_table("trading_state")
    op.drop_table("position_fills")
    op.drop_index("ix_positions_opened_at", table_name="positions")
    op.drop_index("ix_positions_symbol_status", table_name="positions")
    op.drop_table("positions")
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        _decimal("quantity"),
        _decimal("entry_price"),
        _decimal("stop_loss_price", nullable=True),
        _decimal("take_profit_price", nullable=True),
        _decimal("trailing_stop_percent", nullable=True),
        _decimal("trailing_peak_price", nullable=True),
        _decimal("realized_pnl"),
        _decimal("fees_quote"),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index("ix_positions_symbol_status", "positions", ["symbol", "status"], unique=False)
