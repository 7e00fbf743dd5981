"""NotificationCenter: the notification channels, the outbox writer and the Telegram poller of
one bot, built from the settings; what the composition root wires and the API reads.

Nothing here is awaited at startup: `attach` subscribes to the bus (subscribers only queue),
`tasks` are the background loops the root starts; a channel that is down only makes its own loop
wait. `announce_shutdown` stores the shutdown event and gives the channels a moment to send it
(best effort: whatever is left is sent after the next start).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from mexcbot.config import Settings
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import (
    Event,
    ListingChanged,
    OrderUpdated,
    PositionChanged,
    ReconciliationFinished,
    SnipeFinished,
    StreamStatusChanged,
    TradingStateChanged,
)
from mexcbot.notify import events as notes
from mexcbot.notify.daily import run_daily_summary
from mexcbot.notify.delivery import Backoff, Channel, ChannelDelivery
from mexcbot.notify.events import Notification, NotificationMapper
from mexcbot.notify.kinds import NotificationType, NotifyLevel
from mexcbot.notify.outbox import Outbox, OutboxWriter, Route
from mexcbot.notify.telegram.channel import TelegramChannel
from mexcbot.notify.telegram.client import TelegramClient
from mexcbot.notify.telegram.commands import ControlServices, RemoteControl
from mexcbot.notify.telegram.poller import CommandPoller
from mexcbot.notify.webhooks import WebhookChannel
from mexcbot.telemetry import Metrics

log = logging.getLogger(__name__)

#: Seconds the shutdown waits for the channels to send what is queued (the shutdown event).
SHUTDOWN_GRACE_S = 2.0
Task = tuple[Coroutine[Any, Any, None], str]


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    name: str
    kind: str  # telegram / webhook
    queued: int
    delivered: int
    failed: int
    last_error: str | None
    last_delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationStatus:
    channels: list[ChannelStatus]
    telegram_commands: bool
    telegram_users: int


class NotificationCenter:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        metrics: Metrics,
        services: ControlServices,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._services = services
        self.outbox = Outbox(engine)
        self._session: aiohttp.ClientSession | None = None
        self._backoff = Backoff(
            settings.notify_retry_base, settings.notify_retry_max, settings.notify_max_attempts
        )
        self._mapper = NotificationMapper(clock)
        self._boot_id = clock().isoformat()
        self._levels: dict[str, Callable[[NotificationType], NotifyLevel]] = {}
        channels: list[Channel] = []
        self.telegram: TelegramClient | None = None
        self.poller: CommandPoller | None = None
        token = settings.telegram_bot_token
        if token is not None:
            self.telegram = TelegramClient(settings.telegram_base_url, token, self._http)
            for chat_id in settings.telegram_chat_ids:
                channel = TelegramChannel(self.telegram, chat_id)
                channels.append(channel)
                self._levels[channel.name] = self._telegram_level
            if settings.telegram_users:
                control = RemoteControl(services, confirm_timeout=settings.telegram_confirm_timeout)
                self.poller = CommandPoller(
                    self.telegram,
                    control,
                    settings.telegram_users,
                    self.outbox,
                    poll_timeout=settings.telegram_poll_timeout,
                    backoff=self._backoff,
                    clock=clock,
                )
        for position, hook in enumerate(settings.webhooks, start=1):
            webhook = WebhookChannel(hook, position, self._http)
            channels.append(webhook)
            self._levels[webhook.name] = hook.level
        self.deliveries = {
            channel.name: ChannelDelivery(channel, self.outbox, self._backoff, metrics, clock)
            for channel in channels
        }
        self._writer = OutboxWriter(self.outbox, self.routes, self._queued)

    # --- wiring ------------------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def attach(self, events: EventBus) -> None:
        """Subscribe to the engine events that become notifications (only with a channel)."""
        if not self.deliveries:
            return
        events.subscribe(OrderUpdated, self._on_event)
        events.subscribe(PositionChanged, self._on_event)
        events.subscribe(TradingStateChanged, self._on_event)
        events.subscribe(StreamStatusChanged, self._on_event)
        events.subscribe(ReconciliationFinished, self._on_event)
        events.subscribe(ListingChanged, self._on_event)
        events.subscribe(SnipeFinished, self._on_event)

    def tasks(self) -> list[Task]:
        """The background loops to run until the bot stops."""
        found: list[Task] = []
        if self.deliveries:
            found.append((self._writer.run(), "mexcbot-notify-outbox"))
            for name, delivery in self.deliveries.items():
                found.append((delivery.run(), f"mexcbot-notify-{name}"))
            summary = run_daily_summary(
                self._services.positions,
                self.submit,
                self._settings.notify_daily_summary_at,
                self._clock,
            )
            found.append((summary, "mexcbot-notify-daily"))
            found.append((self._check_previous_run(), "mexcbot-notify-previous-run"))
        if self.poller is not None:
            found.append((self.poller.run(), "mexcbot-telegram-commands"))
        return found

    # --- notifications -----------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        notification = self._mapper.map(event)
        if notification is not None:
            self._writer.submit(notification)

    def _telegram_level(self, kind: NotificationType) -> NotifyLevel:
        return self._settings.telegram_events.get(kind, NotifyLevel.ON)

    def routes(self, notification: Notification) -> list[Route]:
        """The channels `notification` goes to, by each channel's level for its type (a test
        goes everywhere, with a sound)."""
        found: list[Route] = []
        for name, level_of in self._levels.items():
            level = NotifyLevel.ON if notification.type is NotificationType.TEST else None
            level = level or level_of(notification.type)
            if level is not NotifyLevel.OFF:
                found.append(Route(name, silent=level is NotifyLevel.SILENT))
        return found

    def submit(self, notification: Notification) -> None:
        self._writer.submit(notification)

    def _queued(self, channel: str) -> None:
        delivery = self.deliveries.get(channel)
        if delivery is not None:
            delivery.wake()

    def announce_startup(self, mode: str, version: str) -> None:
        self.submit(notes.startup(self._boot_id, mode, version, self._clock()))

    async def _check_previous_run(self) -> None:
        """Tell when the previous run's last word was its startup (no shutdown: a crash)."""
        this_start = f"startup:{self._boot_id}"
        lifecycle = [NotificationType.STARTUP, NotificationType.SHUTDOWN]
        try:
            latest = await self.outbox.latest_event(lifecycle, other_than=this_start)
        except Exception as exc:
            log.warning("previous run not checked (%s)", type(exc).__name__)
            return
        if latest is not None and latest.startswith("startup:"):
            self.submit(notes.unclean_stop(latest.removeprefix("startup:"), self._clock()))

    async def announce_shutdown(self) -> None:
        """Store the shutdown event and let the channels send it for a moment (best effort)."""
        if not self.deliveries:
            return
        self.submit(notes.shutdown(self._boot_id, self._clock()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE_S
        if not await self._writer.drain(within=SHUTDOWN_GRACE_S):
            log.warning("shutdown: notifications still unstored; they are lost")
            return
        for delivery in self.deliveries.values():
            delivery.wake()
        settled = asyncio.gather(*(d.idle.wait() for d in self.deliveries.values()))
        try:
            await asyncio.wait_for(settled, max(0.0, deadline - loop.time()))
        except TimeoutError:
            log.info("shutdown: some notifications are sent after the next start")

    async def send_test(self, actor: str) -> tuple[str, list[str]]:
        """Queue a test notification for every channel; its event id and the channels."""
        notification = notes.test_message(actor, self._clock())
        routes = self.routes(notification)
        self.submit(notification)
        return notification.event_id, [route.channel for route in routes]

    async def status(self) -> NotificationStatus:
        counts = await self.outbox.counts()
        channels = []
        for name in self.deliveries:
            found = counts.get(name)
            channels.append(
                ChannelStatus(
                    name=name,
                    kind=name.split(":", 1)[0],
                    queued=found.queued if found else 0,
                    delivered=found.delivered if found else 0,
                    failed=found.failed if found else 0,
                    last_error=found.last_error if found else None,
                    last_delivered_at=found.last_delivered_at if found else None,
                )
            )
        return NotificationStatus(
            channels=channels,
            telegram_commands=self.poller is not None,
            telegram_users=len(self._settings.telegram_users),
        )
