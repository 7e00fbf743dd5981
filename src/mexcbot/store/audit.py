"""AuditLog: an append-only record of who did what through the API, and how it ended.

Entries are written in the same unit of work as the change they describe, so an audited action and
its audit entry commit together or not at all. Never put secrets (tokens, keys) in `detail`.
The API's per-request entries (every mutating request) are written by `AuditWriter`
(store/audit_writer.py): the same row, one single-statement transaction each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.store import tables


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    time: datetime
    actor: str
    action: str
    target: str | None
    result: str
    detail: str | None


class AuditLog:
    """The audit log of one unit of work (`uow.audit`)."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def append(
        self,
        *,
        actor: str,
        action: str,
        result: str,
        target: str | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record one action. `actor` is the token name (or "system"), `result` e.g. ok/denied."""
        await self._connection.execute(
            insert(tables.audit_log).values(
                time=at or self._clock(),
                actor=actor,
                action=action,
                target=target,
                result=result,
                detail=detail,
            )
        )

    async def recent(
        self, *, limit: int = 100, offset: int = 0, actor: str | None = None
    ) -> list[AuditEntry]:
        """Entries newest first, optionally of one actor."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be between 1 and 1000; got {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative; got {offset}")
        query = select(tables.audit_log)
        if actor is not None:
            query = query.where(tables.audit_log.c.actor == actor)
        query = query.order_by(tables.audit_log.c.id.desc()).limit(limit).offset(offset)
        rows = (await self._connection.execute(query)).mappings().all()
        return [
            AuditEntry(
                id=row["id"],
                time=row["time"],
                actor=row["actor"],
                action=row["action"],
                target=row["target"],
                result=row["result"],
                detail=row["detail"],
            )
            for row in rows
        ]
