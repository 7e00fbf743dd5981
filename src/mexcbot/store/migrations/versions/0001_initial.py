"""Initial schema: orders, fills, positions, rules, listings, API tokens and the audit log.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 15:00:16.657154
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mexcbot.store.types import ExactDecimal, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["time"], unique=False)
    op.create_table(
        "auto_buy_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("quote_amount", ExactDecimal(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_buy_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_auto_buy_rules_name")),
    )
    op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("open_time", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("discovered_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint("symbol", name=op.f("uq_listings_symbol")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=3), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=True),
        sa.Column("quote_amount", ExactDecimal(), nullable=True),
        sa.Column("price", ExactDecimal(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("origin_ref", sa.String(length=200), nullable=True),
        sa.Column("is_external", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("executed_qty", ExactDecimal(), nullable=False),
        sa.Column("cumulative_quote_qty", ExactDecimal(), nullable=False),
        sa.Column("fees", sa.Text(), nullable=False),
        sa.Column("exchange_created_at", UtcDateTime(), nullable=True),
        sa.Column("exchange_updated_at", UtcDateTime(), nullable=True),
        sa.Column("reject_code", sa.Integer(), nullable=True),
        sa.Column("reject_message", sa.Text(), nullable=True),
        sa.Column("unknown_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    op.create_index("ix_orders_created_at", "orders", ["created_at"], unique=False)
    op.create_index("ix_orders_exchange_order_id", "orders", ["exchange_order_id"], unique=False)
    op.create_index("ix_orders_symbol_status", "orders", ["symbol", "status"], unique=False)
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("entry_price", ExactDecimal(), nullable=False),
        sa.Column("stop_loss_price", ExactDecimal(), nullable=True),
        sa.Column("take_profit_price", ExactDecimal(), nullable=True),
        sa.Column("trailing_stop_percent", ExactDecimal(), nullable=True),
        sa.Column("trailing_peak_price", ExactDecimal(), nullable=True),
        sa.Column("realized_pnl", ExactDecimal(), nullable=False),
        sa.Column("fees_quote", ExactDecimal(), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index("ix_positions_symbol_status", "positions", ["symbol", "status"], unique=False)
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("exchange_trade_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("qty", ExactDecimal(), nullable=False),
        sa.Column("quote_qty", ExactDecimal(), nullable=False),
        sa.Column("commission", ExactDecimal(), nullable=False),
        sa.Column("commission_asset", sa.String(length=20), nullable=False),
        sa.Column("is_maker", sa.Boolean(), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name=op.f("fk_fills_client_order_id_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint(
            "symbol", "exchange_trade_id", name=op.f("uq_fills_symbol_exchange_trade_id")
        ),
    )
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"], unique=False)
    op.create_table(
        "rule_executions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("trigger_key", sa.String(length=200), nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("executed_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["auto_buy_rules.id"],
            name=op.f("fk_rule_executions_rule_id_auto_buy_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_executions")),
        sa.UniqueConstraint(
            "rule_id", "trigger_key", name=op.f("uq_rule_executions_rule_id_trigger_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("rule_executions")
    op.drop_index("ix_fills_client_order_id", table_name="fills")
    op.drop_table("fills")
    op.drop_index("ix_positions_symbol_status", table_name="positions")
    op.drop_table("positions")
    op.drop_index("ix_orders_symbol_status", table_name="orders")
    op.drop_index("ix_orders_exchange_order_id", table_name="orders")
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.drop_table("orders")
    op.drop_table("listings")
    op.drop_table("auto_buy_rules")
    op.drop_index("ix_audit_log_time", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
