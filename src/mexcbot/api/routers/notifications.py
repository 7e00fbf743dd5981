"""Notification routes under ``/api/v1/notifications``: the channels' delivery state, and a test
notification to check them.

Reading needs a read token; the test is an admin's (audited like every mutating request). No
answer ever holds the Telegram token, a webhook's secret or URL: a channel is named
``telegram:<chat id>`` or ``webhook:<name>``, and stored errors are written without them.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from mexcbot.api.context import AdminAccess, Ctx, ReadAccess, audit_target
from mexcbot.api.errors import ApiProblem, problem_responses
from mexcbot.notify.center import ChannelStatus

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
_COMMON = problem_responses(401, 403, 429)


class ChannelOut(BaseModel):
    name: str = Field(description="telegram:<chat id> or webhook:<name>")
    kind: str = Field(description="telegram or webhook")
    queued: int
    delivered: int
    failed: int = Field(description="entries given up on after their attempts")
    last_error: str | None = Field(description="the latest delivery error, without secrets")
    last_delivered_at: datetime | None

    @classmethod
    def of(cls, status: ChannelStatus) -> ChannelOut:
        return cls(
            name=status.name,
            kind=status.kind,
            queued=status.queued,
            delivered=status.delivered,
            failed=status.failed,
            last_error=status.last_error,
            last_delivered_at=status.last_delivered_at,
        )


class NotificationsOut(BaseModel):
    channels: list[ChannelOut]
    telegram_commands: bool = Field(description="Telegram commands are polled for")
    telegram_users: int = Field(description="users allowed to send commands")


class TestQueuedOut(BaseModel):
    event_id: str
    channels: list[str] = Field(description="the channels the test was queued for")


@router.get(
    "",
    response_model=NotificationsOut,
    responses=_COMMON,
    summary="Notification channels and their delivery counts",
)
async def notifications(ctx: Ctx, caller: ReadAccess) -> NotificationsOut:
    status = await ctx.notifications.status()
    return NotificationsOut(
        channels=[ChannelOut.of(channel) for channel in status.channels],
        telegram_commands=status.telegram_commands,
        telegram_users=status.telegram_users,
    )


@router.post(
    "/test",
    status_code=202,
    response_model=TestQueuedOut,
    responses={**_COMMON, **problem_responses(409)},
    summary="Queue a test notification for every channel (admin)",
)
async def send_test(request: Request, ctx: Ctx, caller: AdminAccess) -> TestQueuedOut:
    event_id, channels = await ctx.notifications.send_test(caller.name)
    if not channels:
        raise ApiProblem(
            409,
            "no_channels",
            "no notification channel is configured (MEXCBOT_TELEGRAM_CHAT_IDS, MEXCBOT_WEBHOOKS)",
        )
    audit_target(request, event_id)
    return TestQueuedOut(event_id=event_id, channels=channels)
