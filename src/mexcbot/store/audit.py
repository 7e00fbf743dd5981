"""AuditLog: an append-only record of who did what through the API, and how it ended.

Entries are written in the same unit of work as the change they describe, so an audited action and
its audit entry commit together or not at all. Never put secrets (tokens, keys) in `detail`.
Text fields pass through `printable` on the way in: a control character, a line break or a
bidirectional override in an entry could rewrite what a terminal or a log viewer shows.
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

#: Longest value of each length-limited text column (longer ones are cut, with a marker).
COLUMN_LENGTHS = {"actor": 100, "action": 100, "target": 200, "result": 20}


def printable(value: str | None, limit: int | None = None) -> str | None:
    """``value`` with every non-printable character (controls, line and paragraph separators,
    bidirectional and other format characters) replaced by ``?``, cut to ``limit`` characters."""
    if value is None:
        return None
    if not value.isprintable():
        value = "".join(ch if ch.isprintable() else "?" for ch in value)
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def audit_values(
    actor: str, action: str, result: str, target: str | None, detail: str | None
) -> dict[str, str | None]:
    """The text columns of an entry, made safe to show (see `printable`)."""
    return {
        "actor": printable(actor, COLUMN_LENGTHS["actor"]),
        "action": printable(action, COLUMN_LENGTHS["action"]),
        "target": printable(target, COLUMN_LENGTHS["target"]),
        "result": printable(result, COLUMN_LENGTHS["result"]),
        "detail": printable(detail),
    }


@dataclass(slots=True)
class PlacementAudit:
    """The audit entry of the request that places an order (the API's): `actor` did `action`
    on the order, result ``ok``. The order writer commits it in the acknowledgement's own
    transaction, the way every audited change and its entry commit together
    (see above), and sets `recorded`; when it is not recorded (the order was not
    acknowledged on the hot path) the API writes the entry itself. One transaction less per
    placement: the entry's own commit was ~60-95 us of loop time before the response in
    `mexcbot run` (benchmarks/api_orders.py)."""

    actor: str
    action: str
    recorded: bool = False


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
                **audit_values(actor, action, result, target, detail),
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
