"""Telegram: the Bot API client, the notification channel per chat and the command poller."""
