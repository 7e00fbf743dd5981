"""Configuration: environment variables (and `.env`), overridden by command-line flags.

One frozen `Settings` object is built at start-up and passed down; nothing reads the environment
afterwards. Secrets are `SecretStr` so they never show up in a repr, a log line or an error.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from mexcbot.domain.listings import ListingSource
from mexcbot.domain.tokens import TokenRole
from mexcbot.notify.kinds import NotificationType, NotifyLevel

DEFAULT_EXCHANGE_URL = "https://api.mexc.com"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./mexcbot.db"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Mode(StrEnum):
    """PAPER trades on the embedded simulator; LIVE trades real money on MEXC."""

    PAPER = "paper"
    LIVE = "live"


class LogFormat(StrEnum):
    AUTO = "auto"  # JSON when stderr is not a terminal, readable text when it is
    JSON = "json"
    TEXT = "text"


class ConfigurationError(ValueError):
    """The configuration cannot work; the message says which setting and why."""


DEFAULT_TELEGRAM_URL = "https://api.telegram.org"
_WEBHOOK_NAME = r"^[A-Za-z0-9_.-]{1,40}$"


class WebhookSettings(BaseModel):
    """One webhook of ``MEXCBOT_WEBHOOKS`` (a JSON list of these objects)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    secret: SecretStr = Field(min_length=16)
    """Signs every body (HMAC-SHA256, the ``X-Signature`` header); at least 16 characters."""
    name: str | None = Field(default=None, pattern=_WEBHOOK_NAME)
    """Names the channel (``webhook:<name>``); default: its position in the list, from 1."""
    events: dict[NotificationType, NotifyLevel] | list[NotificationType] | None = None
    """The events it receives: a list (each on), a map event -> on/silent/off; unset: all."""
    timeout: float = Field(default=10.0, gt=0, le=300)
    max_attempts: int | None = Field(default=None, ge=1)
    """Deliveries tried before an entry is marked failed; unset: MEXCBOT_NOTIFY_MAX_ATTEMPTS."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            # the value is not repeated: a webhook URL may hold a credential
            raise ValueError("webhook url must start with http:// or https://")
        return value

    def level(self, kind: NotificationType) -> NotifyLevel:
        if self.events is None:
            return NotifyLevel.ON
        if isinstance(self.events, dict):
            return self.events.get(kind, NotifyLevel.OFF)
        return NotifyLevel.ON if kind in self.events else NotifyLevel.OFF


class Settings(BaseSettings):
    """Every setting, with the environment variable that sets it (prefix MEXCBOT_ unless noted)."""

    model_config = SettingsConfigDict(
        env_prefix="MEXCBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MEXC_API_KEY", "api_key")
    )
    api_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MEXC_API_SECRET", "api_secret")
    )
    mode: Mode | None = None
    """None: paper without keys; with keys the user must say `live` explicitly."""
    exchange_url: str = DEFAULT_EXCHANGE_URL
    exchange_ws_url: str | None = None
    """The exchange's websocket (account and market streams). Unset: MEXC's
    (`wss://wbs-api.mexc.com/ws`) in live mode, the embedded simulator's `/ws` in paper mode."""
    stream_symbols: list[str] = Field(default_factory=list)
    """Symbols whose prices the market stream follows from the start, besides every symbol the
    database has orders on."""
    live_market_idle: float = Field(default=60.0, gt=0, le=86400)
    """Seconds after its last read that a symbol watched on demand (its book, trades and best
    prices kept from the market stream) is unwatched, unless the price feed follows it."""
    live_market_max_symbols: int = Field(default=50, ge=0, le=1000)
    """Symbols watched on demand at most (3 channels each, 30 per connection); past it reads of
    other symbols are served by the short REST cache. 0 serves every market read over REST."""
    live_market_stale_after: float = Field(default=3.0, gt=0, le=60)
    """Seconds without any push on a connection after which its books, trades and prices no
    longer answer (the stream may be stalled) and reads fall back to REST."""
    live_market_ticker_refresh: float = Field(default=5.0, gt=0, le=300)
    """Seconds a watched symbol's REST 24 h statistics are reused under the stream's prices."""
    recv_window: int = Field(default=5000, ge=1, le=60000)
    request_timeout: float = Field(default=10.0, gt=0)
    exchange_rate_limit: bool = True
    """Throttle our own requests to MEXC's budgets. Turn off only against a simulator whose limits
    are off (benchmarks)."""
    read_wait_limit: float = Field(default=3.0, gt=0, le=60)
    """Longest a market-data or account read waits for the exchange's rate-limit budget; past it
    the API answers 503 with Retry-After at once. Orders and cancels are never bounded by it."""
    database_url: str = DEFAULT_DATABASE_URL
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    metrics_public: bool = False
    """Serve /metrics without a token (for a Prometheus scraper on a trusted network)."""
    docs_public: bool = True
    """Serve /docs, /redoc and /openapi.json (the API's description, no data) without a token;
    false turns them off."""
    cors_origins: list[str] = Field(default_factory=list)
    api_rate_limit_per_minute: int = Field(default=600, ge=1)
    api_max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Largest request body the API reads; a larger one is refused with 413 as soon as it is
    announced (Content-Length) or passed while streaming."""
    api_max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    """Largest request line plus headers; a larger head is refused with 431 before it is parsed."""
    api_body_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds a client has to send a request's whole body once its headers arrived (else 408)."""
    api_auth_failure_limit: int = Field(default=20, ge=1)
    """Requests with a missing or invalid token one client address may make per
    `api_auth_failure_window` seconds; after that it gets 429 without any token lookup."""
    api_auth_failure_window: float = Field(default=60.0, gt=0, le=86400)
    api_ws_queue_limit: int = Field(default=1000, ge=1, le=1_000_000)
    """Messages one API websocket client may have waiting to be sent; past it the client is too
    slow and is closed (code 4408) so it can never hold up the engine or grow without bound."""
    api_ws_buffer: int = Field(default=10_000, ge=0, le=1_000_000)
    """Recent API websocket updates kept so a reconnecting client can resume without a gap."""
    api_ws_heartbeat: float = Field(default=15.0, gt=0, le=3600)
    """Seconds between the server's ``{"type":"ping"}`` messages on the API websocket."""
    api_ws_auth_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds an API websocket client has to authenticate before it is closed (4401)."""
    api_ws_ticker_rate: float = Field(default=4.0, gt=0, le=100)
    """Ticker updates a second, per symbol, at most, on the API websocket (the latest wins)."""
    reconcile_interval: float = Field(default=30.0, gt=0)
    exit_check_interval: float = Field(default=2.0, gt=0)
    """Seconds between exit evaluations on REST last prices, so stops fire without the market
    stream (stream prices are evaluated as they arrive)."""
    paper_seed: int = 1
    paper_tick_interval: float = Field(default=0.25, gt=0)
    """Seconds between market moves of the embedded simulator in paper mode."""
    paper_state_file: str = "./mexcbot-paper.json"
    """Where the paper exchange keeps its state (account, balances, orders, market) between runs,
    so a paper account survives restarts like a real one; empty: start afresh every run."""
    exchange_web_url: str | None = None
    """MEXC's web host, where the listing calendar and the web symbol list live. Unset:
    https://www.mexc.com in live mode, the embedded simulator in paper mode."""
    listing_sources: list[ListingSource] = Field(
        default_factory=lambda: [
            ListingSource.CALENDAR,
            ListingSource.WEB_SYMBOLS,
            ListingSource.EXCHANGE_INFO,
            ListingSource.ANNOUNCEMENT,
            ListingSource.MARKET_STREAM,
        ]
    )
    """Which listing sources to use (calendar, web_symbols, exchange_info, announcement,
    market_stream: the first trade); empty turns listing detection off."""
    listing_poll_interval: float = Field(default=10.0, ge=0.1, le=3600)
    """Seconds between polls of the calendar, the web symbol list and the announcements."""
    listing_symbols_interval: float = Field(default=2.0, ge=0.1, le=3600)
    """Seconds between polls of defaultSymbols (weight 1), which tell when a coin opens to the
    API; exchangeInfo (weight 10) is read every 12th poll."""
    listing_quote_asset: str = "USDT"
    """The quote asset assumed for a calendar or announcement coin (they name the coin only)."""
    snipe_arm_lead: float = Field(default=10.0, ge=0.5, le=3600)
    """Seconds before a listing's open that its snipe is prepared."""
    snipe_deadline: float = Field(default=10.0, gt=0, le=600)
    """Seconds after the open that a snipe keeps retrying while the exchange answers 10007."""
    snipe_late_window: float = Field(default=120.0, ge=0, le=86400)
    """A listing first seen tradable up to this many seconds after its open is still sniped."""
    log_format: LogFormat = LogFormat.AUTO
    log_level: str = "INFO"
    telegram_bot_token: SecretStr | None = None
    """The Telegram bot's token (a secret: never logged or returned); unset: no Telegram."""
    telegram_base_url: str = DEFAULT_TELEGRAM_URL
    telegram_users: dict[int, TokenRole] = Field(default_factory=dict)
    """Telegram user id -> role (read / trade / admin, as API tokens); anyone else is ignored."""
    telegram_chat_ids: list[int] = Field(default_factory=list)
    """Chats that receive the notifications."""
    telegram_events: dict[NotificationType, NotifyLevel] = Field(default_factory=dict)
    """Level per event for the Telegram chats; an event not named is on."""
    telegram_poll_timeout: float = Field(default=25.0, ge=1, le=50)
    """Seconds one getUpdates long poll waits for a command."""
    telegram_confirm_timeout: float = Field(default=60.0, gt=0, le=3600)
    """Seconds a user has to /confirm a command that changes something."""
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    notify_retry_base: float = Field(default=1.0, gt=0, le=3600)
    """Seconds before the first retry of a failed delivery; doubled each attempt."""
    notify_retry_max: float = Field(default=300.0, gt=0, le=86400)
    notify_max_attempts: int = Field(default=50, ge=1)
    """Deliveries tried before an outbox entry is marked failed (and the channel moves on)."""
    notify_daily_summary_at: time = time(0, 0)
    """UTC time of day of the daily summary (the 24 hours before it)."""

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(_LOG_LEVELS)}; got {value!r}")
        return level

    @field_validator("exchange_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"exchange_url must start with http:// or https://; got {value!r}")
        return value.rstrip("/")

    @field_validator("exchange_web_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"exchange_web_url must start with http:// or https://; got {value!r}")
        return None if value is None else value.rstrip("/")

    @field_validator("listing_sources")
    @classmethod
    def _pollable_sources(cls, value: list[ListingSource]) -> list[ListingSource]:
        pollable = (
            ListingSource.CALENDAR,
            ListingSource.WEB_SYMBOLS,
            ListingSource.EXCHANGE_INFO,
            ListingSource.ANNOUNCEMENT,
            ListingSource.MARKET_STREAM,
        )
        for source in value:
            if source not in pollable:
                names = ", ".join(s.value for s in pollable)
                raise ValueError(f"listing_sources entries must be among {names}; got {source}")
        return list(dict.fromkeys(value))

    @field_validator("exchange_ws_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError(f"exchange_ws_url must start with ws:// or wss://; got {value!r}")
        return value

    @field_validator("stream_symbols")
    @classmethod
    def _upper_symbols(cls, value: list[str]) -> list[str]:
        return [symbol.strip().upper() for symbol in value if symbol.strip()]

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(
                    f"cors_origins entries must be '*' or start with http(s)://; got {origin!r}"
                )
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _telegram_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"telegram_base_url must start with http:// or https://; got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("webhooks")
    @classmethod
    def _unique_webhooks(cls, value: list[WebhookSettings]) -> list[WebhookSettings]:
        names = [hook.name or str(index) for index, hook in enumerate(value, start=1)]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"webhooks names must be unique; repeated: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _telegram_needs_token(self) -> Self:
        if self.telegram_bot_token is None and (self.telegram_chat_ids or self.telegram_users):
            raise ValueError(
                "MEXCBOT_TELEGRAM_CHAT_IDS/MEXCBOT_TELEGRAM_USERS are set but "
                "MEXCBOT_TELEGRAM_BOT_TOKEN is not"
            )
        return self

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> Self:
        if (self.api_key is None) != (self.api_secret is None):
            missing = "MEXC_API_SECRET" if self.api_secret is None else "MEXC_API_KEY"
            raise ValueError(f"{missing} is not set: MEXC_API_KEY and MEXC_API_SECRET go together")
        return self

    @property
    def has_exchange_keys(self) -> bool:
        return self.api_key is not None and self.api_secret is not None

    def resolved_mode(self) -> Mode:
        """The mode to run in, or a ConfigurationError saying why the bot refuses to start.

        Live trading is never implied by the presence of keys alone: a user who exported keys for
        another tool must not trade real money by accident.
        """
        if self.mode is Mode.LIVE:
            if not self.has_exchange_keys:
                raise ConfigurationError(
                    "live mode needs MEXC_API_KEY and MEXC_API_SECRET; "
                    "without them run in paper mode"
                )
            return Mode.LIVE
        if self.mode is None and self.has_exchange_keys:
            raise ConfigurationError(
                "MEXC_API_KEY/MEXC_API_SECRET are set but live mode was not asked for: "
                "pass --live (or MEXCBOT_MODE=live) to trade real money, or MEXCBOT_MODE=paper "
                "to ignore the keys and trade on the simulator"
            )
        return Mode.PAPER
