"""TradingStateRepository: the one row holding the trading state and the risk limits.

A missing row reads as ACTIVE with no limits, so a fresh database trades out of the box; the
first change inserts it. Writes check the version, so two admins cannot overwrite each other.
The start-of-day equity is the engine's own note, not an admin's change: it is written without
the version check (and without bumping it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.domain.risk import LossWindow, RiskLimits, StartEquity, TradingState
from mexcbot.store import tables

_ROW_ID = 1


class ConcurrentStateUpdate(Exception):
    def __init__(self) -> None:
        super().__init__("the trading state was changed concurrently; reload and retry")


@dataclass(frozen=True, slots=True)
class StoredTradingState:
    state: TradingState
    reason: str | None
    limits: RiskLimits
    changed_by: str
    changed_at: datetime | None
    version: int
    start_equity: StartEquity | None = None


def limits_to_json(limits: RiskLimits) -> str:
    doc: dict[str, Any] = {
        "max_position_quote": limits.max_position_quote,
        "max_total_exposure_quote": limits.max_total_exposure_quote,
        "max_open_positions": limits.max_open_positions,
        "daily_loss_limit": limits.daily_loss_limit,
        "daily_loss_window": limits.daily_loss_window.value,
        "max_symbol_share": limits.max_symbol_share,
        "max_orders_per_second": limits.max_orders_per_second,
        "stop_loss_streak": limits.stop_loss_streak,
        "stop_loss_cooldown_minutes": limits.stop_loss_cooldown_minutes,
        "min_volume_24h_quote": limits.min_volume_24h_quote,
        "daily_loss_limit_percent": limits.daily_loss_limit_percent,
    }
    return json.dumps(
        {k: (str(v) if isinstance(v, Decimal) else v) for k, v in doc.items()}, sort_keys=True
    )


def limits_from_json(text: str) -> RiskLimits:
    doc = json.loads(text)

    def dec(name: str) -> Decimal | None:
        value = doc.get(name)
        return None if value is None else Decimal(value)

    return RiskLimits(
        max_position_quote=dec("max_position_quote"),
        max_total_exposure_quote=dec("max_total_exposure_quote"),
        max_open_positions=doc.get("max_open_positions"),
        daily_loss_limit=dec("daily_loss_limit"),
        daily_loss_window=LossWindow(doc.get("daily_loss_window", LossWindow.UTC_DAY.value)),
        max_symbol_share=dec("max_symbol_share"),
        max_orders_per_second=doc.get("max_orders_per_second"),
        stop_loss_streak=doc.get("stop_loss_streak"),
        stop_loss_cooldown_minutes=doc.get("stop_loss_cooldown_minutes", 60),
        min_volume_24h_quote=dec("min_volume_24h_quote"),
        daily_loss_limit_percent=dec("daily_loss_limit_percent"),
    )


class TradingStateRepository:
    """`uow.trading_state`; do not construct it yourself."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock

    async def get(self) -> StoredTradingState:
        row = (
            (
                await self._connection.execute(
                    select(tables.trading_state).where(tables.trading_state.c.id == _ROW_ID)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return StoredTradingState(TradingState.ACTIVE, None, RiskLimits(), "system", None, 0)
        return StoredTradingState(
            TradingState(row["state"]),
            row["reason"],
            limits_from_json(row["limits"]),
            row["changed_by"],
            row["changed_at"],
            row["version"],
            (
                StartEquity(row["start_equity"], row["start_equity_at"])
                if row["start_equity"] is not None and row["start_equity_at"] is not None
                else None
            ),
        )

    async def record_start_equity(self, equity: StartEquity, *, current: StoredTradingState) -> int:
        """Note the start-of-day equity; returns the row's version (1 when this inserted the
        row, from `current`: a fresh database has none yet)."""
        table = tables.trading_state
        result = await self._connection.execute(
            update(table)
            .where(table.c.id == _ROW_ID)
            .values(start_equity=equity.amount, start_equity_at=equity.at)
        )
        if result.rowcount == 1:
            return current.version
        await self._connection.execute(
            insert(table).values(
                id=_ROW_ID,
                state=current.state.value,
                reason=current.reason,
                limits=limits_to_json(current.limits),
                changed_by=current.changed_by,
                changed_at=self._clock(),
                version=1,
                start_equity=equity.amount,
                start_equity_at=equity.at,
            )
        )
        return 1

    async def save(
        self,
        *,
        state: TradingState,
        reason: str | None,
        limits: RiskLimits,
        changed_by: str,
        version: int,
    ) -> StoredTradingState:
        """Write the state if it is still at `version` (0: never stored)."""
        now = self._clock()
        values = {
            "state": state.value,
            "reason": reason,
            "limits": limits_to_json(limits),
            "changed_by": changed_by,
            "changed_at": now,
            "version": version + 1,
        }
        if version == 0:
            await self._connection.execute(
                insert(tables.trading_state).values(id=_ROW_ID, **values)
            )
        else:
            result = await self._connection.execute(
                update(tables.trading_state)
                .where(tables.trading_state.c.id == _ROW_ID)
                .where(tables.trading_state.c.version == version)
                .values(**values)
            )
            if result.rowcount != 1:
                raise ConcurrentStateUpdate()
        return StoredTradingState(state, reason, limits, changed_by, now, version + 1)
