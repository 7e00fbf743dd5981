"""The notification types and the levels a channel gives each: the vocabulary the configuration
validates against (a leaf module: the configuration imports it, it imports nothing)."""

from __future__ import annotations

from enum import StrEnum


class NotificationType(StrEnum):
    """What a notification is about; its value is what the configuration and webhooks name."""

    ORDER_FILLED = "order_filled"
    EXIT_FAILED = "exit_failed"
    DUST_LEFT = "dust_left"
    RISK_CHANGED = "risk_changed"
    LIMIT_HIT = "limit_hit"
    LISTING_DETECTED = "listing_detected"
    SNIPE_RESULT = "snipe_result"
    STREAM_STALE = "stream_stale"
    STREAM_RECOVERED = "stream_recovered"
    RECONCILIATION_DISCREPANCY = "reconciliation_discrepancy"
    STARTUP = "startup"
    SHUTDOWN = "shutdown"
    UNCLEAN_STOP = "unclean_stop"  # told at a start: the previous run never said it stopped
    DAILY_SUMMARY = "daily_summary"
    TEST = "test"


class NotifyLevel(StrEnum):
    """on: deliver; silent: deliver without a sound (Telegram's disable_notification, a webhook's
    ``"silent": true``); off: never queued for the channel."""

    ON = "on"
    SILENT = "silent"
    OFF = "off"
