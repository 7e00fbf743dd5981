"""Auto-buy rules and their executions.

The auto_buy_rules / rule_executions tables of 0001 were never written to; they are replaced by
autobuy_rules (every field of `mexcbot.domain.autobuy.AutoBuyRule` as a column, the exits as
the positions' JSON, and the guards' counters) and autobuy_executions, unique per (rule, key):
the exactly-once guard of a rule firing for one cause.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mexcbot.store.types import ExactDecimal, UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, ExactDecimal(), nullable=nullable)


def upgrade() -> None:
    op.drop_table("rule_executions")
    op.drop_table("auto_buy_rules")
    op.create_table(
        "autobuy_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("quote_asset", sa.String(length=20), nullable=True),
        sa.Column("name_filter", sa.String(length=200), nullable=True),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        _decimal("trigger_value", nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        _decimal("buy_amount_quote"),
        _decimal("max_buy_price", nullable=True),
        _decimal("max_slippage_percent"),
        _decimal("min_volume_24h", nullable=True),
        sa.Column("allow_pre_trading", sa.Boolean(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("max_executions", sa.Integer(), nullable=True),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("risk_check", sa.Boolean(), nullable=False),
        sa.Column("exits", sa.Text(), nullable=True),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("last_executed_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autobuy_rules")),
    )
    op.create_index("ix_autobuy_rules_symbol", "autobuy_rules", ["symbol"], unique=False)
    op.create_table(
        "autobuy_executions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _decimal("quantity", nullable=True),
        _decimal("quote_spent", nullable=True),
        _decimal("average_price", nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["autobuy_rules.id"],
            name=op.f("fk_autobuy_executions_rule_id_autobuy_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autobuy_executions")),
        sa.UniqueConstraint("rule_id", "key", name=op.f("uq_autobuy_executions_rule_id_key")),
    )
    op.create_index(
        "ix_autobuy_executions_rule_id_created_at",
        "autobuy_executions",
        ["rule_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_autobuy_executions_rule_id_created_at", table_name="autobuy_executions")
    op.drop_table("autobuy_executions")
    op.drop_index("ix_autobuy_rules_symbol", table_name="autobuy_rules")
    op.drop_table("autobuy_rules")
    op.create_table(
        "auto_buy_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        _decimal("quote_amount"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_buy_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_auto_buy_rules_name")),
    )
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
