"""Listings as the detector keeps them, and the snipes fired at them with their latency.

The listings table of 0001 was never written to; it is replaced by one that keeps each step of a
listing (announced, open, trading) with its time and source, unique per symbol and open time.
A snipe is one NEW_LISTING rule fired at one listing: its timings (milliseconds relative to the
open), attempts and outcome; the rule's execution row holds what it bought.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mexcbot.store.types import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("listings")
    op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=30), nullable=False),
        sa.Column("base_asset", sa.String(length=20), nullable=False),
        sa.Column("quote_asset", sa.String(length=20), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("open_time", UtcDateTime(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("sources", sa.String(length=200), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=True),
        sa.Column("opened_source", sa.String(length=20), nullable=True),
        sa.Column("trading_at", UtcDateTime(), nullable=True),
        sa.Column("trading_source", sa.String(length=20), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint("symbol", "open_time", name=op.f("uq_listings_symbol_open_time")),
    )
    op.create_index("ix_listings_first_seen_at", "listings", ["first_seen_at"], unique=False)
    op.create_table(
        "snipes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_name", sa.String(length=100), nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("client_order_id", sa.String(length=32), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("armed_ms", sa.Float(), nullable=True),
        sa.Column("fired_ms", sa.Float(), nullable=True),
        sa.Column("accepted_ms", sa.Float(), nullable=True),
        sa.Column("filled_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_snipes_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snipes")),
        sa.UniqueConstraint("listing_id", "rule_id", name=op.f("uq_snipes_listing_id_rule_id")),
    )


def downgrade() -> None:
    op.drop_table("snipes")
    op.drop_index("ix_listings_first_seen_at", table_name="listings")
    op.drop_table("listings")
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
