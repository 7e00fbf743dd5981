"""The schema: SQLAlchemy Core tables, the single description repositories and Alembic agree on.

Core tables with hand-written mapping in the repositories (rather than ORM classes) keep the domain
objects free of SQLAlchemy: an `Order` is a plain dataclass that tests build without a database,
and the repository decides exactly which columns an update writes. Tables are created only by the
Alembic migrations; a test checks the migrations produce exactly this metadata.

Enumerations are stored as short strings (no database ENUM types) so adding a value never needs a
type migration; the domain validates them.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from mexcbot.store.types import ExactDecimal, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # what the bot asked
    Column("client_order_id", String(32), nullable=False, unique=True),
    Column("symbol", String(30), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(16), nullable=False),
    Column("time_in_force", String(3), nullable=False),
    Column("quantity", ExactDecimal(), nullable=True),
    Column("quote_amount", ExactDecimal(), nullable=True),
    Column("price", ExactDecimal(), nullable=True),
    Column("origin", String(16), nullable=False),
    Column("origin_ref", String(200), nullable=True),
    Column("is_external", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # what the exchange reported
    Column("exchange_order_id", String(64), nullable=True),
    Column("status", String(20), nullable=False),
    Column("executed_qty", ExactDecimal(), nullable=False),
    Column("cumulative_quote_qty", ExactDecimal(), nullable=False),
    Column("fees", Text, nullable=False),  # JSON object asset -> decimal string
    Column("exchange_created_at", UtcDateTime(), nullable=True),
    Column("exchange_updated_at", UtcDateTime(), nullable=True),
    Column("reject_code", Integer, nullable=True),
    Column("reject_message", Text, nullable=True),
    Column("unknown_reason", Text, nullable=True),
    # bookkeeping: optimistic concurrency and last local change
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_orders_symbol_status", "symbol", "status"),
    Index("ix_orders_created_at", "created_at"),
    # partial: an order has no exchange id until its ack (migration 0007 says why)
    Index(
        "ix_orders_exchange_order_id",
        "exchange_order_id",
        sqlite_where=text("exchange_order_id IS NOT NULL"),
        postgresql_where=text("exchange_order_id IS NOT NULL"),
    ),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(30), nullable=False),
    Column("exchange_trade_id", String(64), nullable=False),
    Column(
        "client_order_id",
        String(32),
        ForeignKey("orders.client_order_id"),
        nullable=False,
    ),
    Column("price", ExactDecimal(), nullable=False),
    Column("qty", ExactDecimal(), nullable=False),
    Column("quote_qty", ExactDecimal(), nullable=False),
    Column("commission", ExactDecimal(), nullable=False),
    Column("commission_asset", String(20), nullable=False),
    Column("is_maker", Boolean, nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    UniqueConstraint("symbol", "exchange_trade_id"),
    Index("ix_fills_client_order_id", "client_order_id"),
)

positions = Table(
    "positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(30), nullable=False),
    Column("base_asset", String(20), nullable=False),
    Column("quote_asset", String(20), nullable=False),
    Column("side", String(8), nullable=False),  # LONG (spot)
    Column("status", String(8), nullable=False),  # OPEN / CLOSED
    Column("type", String(16), nullable=False),  # MANUAL / AUTOMATIC / NEWCOIN
    # the book: derived from the fills, kept so a list needs no replay
    Column("quantity", ExactDecimal(), nullable=False),
    Column("entered_quantity", ExactDecimal(), nullable=False),
    Column("cost", ExactDecimal(), nullable=False),
    Column("spent_quote", ExactDecimal(), nullable=False),
    Column("proceeds_quote", ExactDecimal(), nullable=False),
    Column("realized_pnl", ExactDecimal(), nullable=False),
    Column("fees_quote", ExactDecimal(), nullable=False),
    Column("peak_price", ExactDecimal(), nullable=True),
    Column("trough_price", ExactDecimal(), nullable=True),
    Column("dust_quantity", ExactDecimal(), nullable=False),
    # the exits: the rules as asked (JSON, decimals as strings) and their persisted state
    Column("exits", Text, nullable=False),
    Column("stop_price", ExactDecimal(), nullable=True),
    Column("stop_trigger", String(16), nullable=True),
    Column("trailing_peak", ExactDecimal(), nullable=True),
    Column("take_profits_done", Integer, nullable=False),
    Column("exit_seq", Integer, nullable=False),
    Column("exit_order_id", String(32), nullable=True),
    Column("exit_trigger", String(16), nullable=True),
    Column("exit_level", Integer, nullable=True),
    Column("exit_failures", Integer, nullable=False),
    Column("exit_failed_reason", Text, nullable=True),
    Column("notes", Text, nullable=True),
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_positions_symbol_status", "symbol", "status"),
    Index("ix_positions_opened_at", "opened_at"),
)

position_fills = Table(
    "position_fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position_id", Integer, ForeignKey("positions.id", ondelete="CASCADE"), nullable=False),
    Column("client_order_id", String(32), nullable=False),
    Column("exchange_trade_id", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", ExactDecimal(), nullable=False),
    Column("quantity", ExactDecimal(), nullable=False),
    Column("commission", ExactDecimal(), nullable=False),
    Column("commission_asset", String(20), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    UniqueConstraint("position_id", "client_order_id", "exchange_trade_id"),
)

retired_ids = Table(
    "retired_ids",
    metadata,
    # The highest id a deleted row of the table `name` had. SQLite (no AUTOINCREMENT) hands the
    # highest id out again once that row is deleted; an id outlives its row in the client order
    # ids and notification keys derived from it, so a position's id must never come back.
    Column("name", String(100), primary_key=True),
    Column("last_id", Integer, nullable=False),
)

trading_state = Table(
    "trading_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # one row, id 1
    Column("state", String(10), nullable=False),  # ACTIVE / REDUCING / HALTED
    Column("reason", Text, nullable=True),
    Column("limits", Text, nullable=False),  # JSON object, decimals as strings
    Column("changed_by", String(100), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    # The start-of-day equity a percent daily-loss limit is measured against, and when.
    Column("start_equity", ExactDecimal(), nullable=True),
    Column("start_equity_at", UtcDateTime(), nullable=True),
)

autobuy_rules = Table(
    "autobuy_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("symbol", String(30), nullable=False),  # a symbol, or * for any new listing
    Column("quote_asset", String(20), nullable=True),
    Column("name_filter", String(200), nullable=True),
    Column("trigger_type", String(20), nullable=False),
    Column("trigger_value", ExactDecimal(), nullable=True),
    Column("window_seconds", Integer, nullable=True),
    Column("buy_amount_quote", ExactDecimal(), nullable=False),
    Column("max_buy_price", ExactDecimal(), nullable=True),
    Column("max_slippage_percent", ExactDecimal(), nullable=False),
    Column("min_volume_24h", ExactDecimal(), nullable=True),
    Column("allow_pre_trading", Boolean, nullable=False),
    Column("cooldown_seconds", Integer, nullable=False),
    Column("max_executions", Integer, nullable=True),
    Column("order_type", String(16), nullable=False),
    Column("risk_check", Boolean, nullable=False),
    Column("exits", Text, nullable=True),  # the ExitPlan as positions store it (JSON)
    # the guards' inputs, changed in the same transaction as an execution begins
    Column("executions", Integer, nullable=False),
    Column("last_executed_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_autobuy_rules_symbol", "symbol"),
)

autobuy_executions = Table(
    "autobuy_executions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("autobuy_rules.id", ondelete="CASCADE"), nullable=False),
    Column("symbol", String(30), nullable=False),
    Column("trigger_type", String(20), nullable=False),
    Column("key", String(200), nullable=False),  # the cause: a listing, a trigger moment
    Column("reason", Text, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("client_order_id", String(32), nullable=True),
    Column("position_id", Integer, nullable=True),
    Column("listing_id", Integer, nullable=True),
    Column("detail", Text, nullable=True),
    Column("quantity", ExactDecimal(), nullable=True),
    Column("quote_spent", ExactDecimal(), nullable=True),
    Column("average_price", ExactDecimal(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    UniqueConstraint("rule_id", "key"),
    Index("ix_autobuy_executions_rule_id_created_at", "rule_id", "created_at"),
)

listings = Table(
    "listings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(30), nullable=False),
    Column("base_asset", String(20), nullable=False),
    Column("quote_asset", String(20), nullable=False),
    Column("full_name", String(200), nullable=True),
    Column("status", String(10), nullable=False),  # ANNOUNCED / OPEN / TRADING
    Column("open_time", UtcDateTime(), nullable=True),
    Column("source", String(20), nullable=False),  # the first source that saw it
    Column("sources", String(200), nullable=False),  # every source, comma-separated
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("opened_at", UtcDateTime(), nullable=True),
    Column("opened_source", String(20), nullable=True),
    Column("trading_at", UtcDateTime(), nullable=True),
    Column("trading_source", String(20), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("symbol", "open_time"),
    Index("ix_listings_first_seen_at", "first_seen_at"),
)

snipes = Table(
    "snipes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("listing_id", Integer, ForeignKey("listings.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", Integer, nullable=False),
    Column("rule_name", String(100), nullable=False),
    Column("execution_id", Integer, nullable=True),
    Column("outcome", String(20), nullable=False),
    Column("client_order_id", String(32), nullable=True),
    Column("position_id", Integer, nullable=True),
    # milliseconds relative to the listing's open time (negative: before it)
    Column("armed_ms", Float, nullable=True),
    Column("fired_ms", Float, nullable=True),
    Column("accepted_ms", Float, nullable=True),
    Column("filled_ms", Float, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("listing_id", "rule_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(8), nullable=False),  # read / trade / admin
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UtcDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(200), nullable=True),
    Column("result", String(20), nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_audit_log_time", "time"),
)

notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the delivery order
    Column("event_id", String(200), nullable=False),  # deterministic: a repeat is a no-op
    Column("channel", String(100), nullable=False),  # telegram:<chat id>, webhook:<name>
    Column("type", String(40), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("text", Text, nullable=False),
    Column("data", Text, nullable=False),  # JSON object, decimals as strings
    Column("silent", Boolean, nullable=False),
    Column("status", String(10), nullable=False),  # queued / delivered / failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),  # never a token or a secret
    UniqueConstraint("event_id", "channel"),
    Index("ix_notification_outbox_channel_status", "channel", "status"),
)

notification_state = Table(
    "notification_state",
    metadata,
    Column("name", String(100), primary_key=True),  # e.g. telegram_update_offset
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
