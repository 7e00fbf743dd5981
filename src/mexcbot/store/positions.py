"""PositionRepository: positions, their fills and their exit state in the database.

Mapped by hand like orders (see tables.py for why). Positions the repository adds or loads are
tracked: `UnitOfWork.commit()` writes every tracked position that changed, plus its new fills,
under an optimistic version check (`ConcurrentPositionUpdate`), so the exit monitor and an API
request changing the same position can never overwrite each other silently.

The exit rules are stored as one JSON document (decimals as strings): they are read and written
whole, never queried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from mexcbot.domain.exits import (
    ExitPlan,
    ExitTrigger,
    StopLoss,
    TakeProfitLevel,
    TrailingStop,
    TriggerPrice,
)
from mexcbot.domain.orders import OrderSide
from mexcbot.domain.positions import (
    Position,
    PositionFill,
    PositionSide,
    PositionStatus,
    PositionType,
)
from mexcbot.store import tables

MAX_PAGE_SIZE = 500

#: `PositionRepository.list` shadows the builtin inside the class body.
_Positions = list[Position]


class ConcurrentPositionUpdate(Exception):
    def __init__(self, position_id: int) -> None:
        super().__init__(f"position {position_id} was changed concurrently; reload and retry")
        self.position_id = position_id


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def exits_to_json(plan: ExitPlan) -> str:
    doc: dict[str, Any] = {
        "trigger_price": plan.trigger_price.value,
        "max_slippage_percent": str(plan.max_slippage_percent),
        "stop_confirm_ticks": plan.stop_confirm_ticks,
        "break_even_after_take_profit": plan.break_even_after_take_profit,
        "take_profits": [
            {"fraction": str(t.fraction), "price": _text(t.price), "percent": _text(t.percent)}
            for t in plan.take_profits
        ],
    }
    if plan.stop_loss is not None:
        stop = plan.stop_loss
        doc["stop_loss"] = {"price": _text(stop.price), "percent": _text(stop.percent)}
    if plan.trailing is not None:
        trail = plan.trailing
        doc["trailing"] = {
            "callback_percent": str(trail.callback_percent),
            "activation_price": _text(trail.activation_price),
            "activation_percent": _text(trail.activation_percent),
        }
    return json.dumps(doc, sort_keys=True)


def exits_from_json(text: str) -> ExitPlan:
    doc = json.loads(text)
    stop = doc.get("stop_loss")
    trail = doc.get("trailing")
    return ExitPlan(
        stop_loss=(
            StopLoss(price=_dec(stop["price"]), percent=_dec(stop["percent"])) if stop else None
        ),
        trailing=(
            TrailingStop(
                callback_percent=Decimal(trail["callback_percent"]),
                activation_price=_dec(trail["activation_price"]),
                activation_percent=_dec(trail["activation_percent"]),
            )
            if trail
            else None
        ),
        take_profits=tuple(
            TakeProfitLevel(
                fraction=Decimal(t["fraction"]), price=_dec(t["price"]), percent=_dec(t["percent"])
            )
            for t in doc["take_profits"]
        ),
        break_even_after_take_profit=doc["break_even_after_take_profit"],
        trigger_price=TriggerPrice(doc["trigger_price"]),
        max_slippage_percent=Decimal(doc["max_slippage_percent"]),
        stop_confirm_ticks=doc.get("stop_confirm_ticks", 1),
    )


def _columns(p: Position) -> dict[str, Any]:
    """Every column but the id, the version and updated_at."""
    return {
        "symbol": p.symbol,
        "base_asset": p.base_asset,
        "quote_asset": p.quote_asset,
        "side": p.side.value,
        "status": p.status.value,
        "type": p.type.value,
        "quantity": p.quantity,
        "entered_quantity": p.entered_quantity,
        "cost": p.cost,
        "spent_quote": p.spent_quote,
        "proceeds_quote": p.proceeds_quote,
        "realized_pnl": p.realised_pnl,
        "fees_quote": p.fees_quote,
        "peak_price": p.peak_price,
        "trough_price": p.trough_price,
        "dust_quantity": p.dust_quantity,
        "exits": exits_to_json(p.exits),
        "stop_price": p.stop_price,
        "stop_trigger": p.stop_trigger.value if p.stop_trigger else None,
        "trailing_peak": p.trailing_peak,
        "take_profits_done": p.take_profits_done,
        "exit_seq": p.exit_seq,
        "exit_order_id": p.exit_order_id,
        "exit_trigger": p.exit_trigger.value if p.exit_trigger else None,
        "exit_level": p.exit_level,
        "exit_failures": p.exit_failures,
        "exit_failed_reason": p.exit_failed_reason,
        "notes": p.notes,
        "opened_at": p.opened_at,
        "closed_at": p.closed_at,
    }


def _position_from_row(row: RowMapping, fills: list[PositionFill]) -> Position:
    return Position(
        id=row["id"],
        symbol=row["symbol"],
        base_asset=row["base_asset"],
        quote_asset=row["quote_asset"],
        side=PositionSide(row["side"]),
        status=PositionStatus(row["status"]),
        type=PositionType(row["type"]),
        quantity=row["quantity"],
        entered_quantity=row["entered_quantity"],
        cost=row["cost"],
        spent_quote=row["spent_quote"],
        proceeds_quote=row["proceeds_quote"],
        realised_pnl=row["realized_pnl"],
        fees_quote=row["fees_quote"],
        peak_price=row["peak_price"],
        trough_price=row["trough_price"],
        dust_quantity=row["dust_quantity"],
        exits=exits_from_json(row["exits"]),
        stop_price=row["stop_price"],
        stop_trigger=ExitTrigger(row["stop_trigger"]) if row["stop_trigger"] else None,
        trailing_peak=row["trailing_peak"],
        take_profits_done=row["take_profits_done"],
        exit_seq=row["exit_seq"],
        exit_order_id=row["exit_order_id"],
        exit_trigger=ExitTrigger(row["exit_trigger"]) if row["exit_trigger"] else None,
        exit_level=row["exit_level"],
        exit_failures=row["exit_failures"],
        exit_failed_reason=row["exit_failed_reason"],
        notes=row["notes"],
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        fills=fills,
        version=row["version"],
    )


def _fill_from_row(row: RowMapping) -> PositionFill:
    return PositionFill(
        client_order_id=row["client_order_id"],
        exchange_trade_id=row["exchange_trade_id"],
        side=OrderSide(row["side"]),
        price=row["price"],
        quantity=row["quantity"],
        commission=row["commission"],
        commission_asset=row["commission_asset"],
        time=row["time"],
    )


@dataclass(slots=True)
class _Tracked:
    position: Position
    written: dict[str, Any]
    fills_stored: int


@dataclass(frozen=True, slots=True)
class PositionPage:
    positions: list[Position]
    total: int


_RETIRED_NAME = "positions"
"""The `retired_ids` row of the positions table."""


class PositionRepository:
    """Positions of one unit of work (`uow.positions`); do not construct it yourself."""

    def __init__(self, connection: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._connection = connection
        self._clock = clock
        self._tracked: dict[int, _Tracked] = {}

    async def add(self, position: Position) -> int:
        """Insert a new position (and any fills it already has); sets and returns its id."""
        columns = _columns(position)
        values: dict[str, Any] = {**columns, "version": 1, "updated_at": self._clock()}
        reused = await self._reused_id()
        if reused is not None:
            values["id"] = reused
        result = await self._connection.execute(
            insert(tables.positions).values(**values).returning(tables.positions.c.id)
        )
        position.id = int(result.scalar_one())
        position.version = 1
        self._tracked[position.id] = _Tracked(position, columns, 0)
        await self._store_fills(self._tracked[position.id])
        return position.id

    def save(self, position: Position, *, fills_stored: int) -> None:
        """Write `position` (held outside this unit of work, e.g. the engine's in-memory book)
        at commit, if the row is still at `position.version`; its fills from index
        `fills_stored` on are new."""
        assert position.id is not None
        self._tracked[position.id] = _Tracked(position, {}, fills_stored)

    async def get(self, position_id: int, *, for_update: bool = False) -> Position | None:
        query = select(tables.positions).where(tables.positions.c.id == position_id)
        if for_update:
            query = query.with_for_update()
        found = await self._load(query)
        return found[0] if found else None

    async def list_open(self) -> _Positions:
        query = select(tables.positions).where(
            tables.positions.c.status == PositionStatus.OPEN.value
        )
        return await self._load(query.order_by(tables.positions.c.id))

    async def list(
        self,
        *,
        status: PositionStatus | None = None,
        symbol: str | None = None,
        type: PositionType | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> PositionPage:
        """Positions matching every given filter, newest first; `since` is on opened_at."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}; got {limit}")
        c = tables.positions.c
        conditions = []
        if status is not None:
            conditions.append(c.status == status.value)
        if symbol is not None:
            conditions.append(c.symbol == symbol)
        if type is not None:
            conditions.append(c.type == type.value)
        if since is not None:
            conditions.append(c.opened_at >= since)
        count = select(func.count()).select_from(tables.positions).where(*conditions)
        total = int((await self._connection.execute(count)).scalar_one())
        query = (
            select(tables.positions)
            .where(*conditions)
            .order_by(c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return PositionPage(await self._load(query), total)

    async def list_sold_since(self, since: datetime) -> _Positions:
        """Every position (open or closed) with an exit fill at or after `since`: what the
        daily-loss ledger replays at startup."""
        f = tables.position_fills.c
        sold = select(f.position_id).where(f.side == "SELL").where(f.time >= since)
        query = (
            select(tables.positions)
            .where(tables.positions.c.id.in_(sold))
            .order_by(tables.positions.c.id)
        )
        return await self._load(query)

    async def _reused_id(self) -> int | None:
        """The id to give a new position instead of the one SQLite would pick, when that one is
        a deleted position's (SQLite picks the highest id plus one; PostgreSQL's sequence never
        goes back, so it needs nothing)."""
        if self._connection.dialect.name != "sqlite":
            return None
        retired_ids, positions = tables.retired_ids, tables.positions
        last_retired = (
            select(retired_ids.c.last_id)
            .where(retired_ids.c.name == _RETIRED_NAME)
            .scalar_subquery()
        )
        highest_id = select(func.max(positions.c.id)).scalar_subquery()
        row = (await self._connection.execute(select(last_retired, highest_id))).one()
        retired, highest = row[0], row[1]  # one read: the entry of a snipe waits for it
        if retired is None:
            return None
        return retired + 1 if highest is None or highest < retired else None

    async def _retire(self, position_id: int) -> None:
        """Remember that `position_id` was used, so no later position gets it."""
        retired = tables.retired_ids
        updated = await self._connection.execute(
            update(retired)
            .where(retired.c.name == _RETIRED_NAME, retired.c.last_id < position_id)
            .values(last_id=position_id)
        )
        if updated.rowcount == 0:
            known = await self._connection.execute(
                select(retired.c.last_id).where(retired.c.name == _RETIRED_NAME)
            )
            if known.scalar() is None:
                await self._connection.execute(
                    insert(retired).values(name=_RETIRED_NAME, last_id=position_id)
                )

    async def delete(self, position_id: int) -> None:
        await self._retire(position_id)
        await self._connection.execute(
            delete(tables.position_fills).where(tables.position_fills.c.position_id == position_id)
        )
        await self._connection.execute(
            delete(tables.positions).where(tables.positions.c.id == position_id)
        )
        self._tracked.pop(position_id, None)

    async def flush(self) -> None:
        """Write every tracked position that changed and its new fills (`commit` calls it)."""
        for tracked in self._tracked.values():
            position = tracked.position
            assert position.id is not None
            await self._store_fills(tracked)
            columns = _columns(position)
            if columns == tracked.written:
                continue
            result = await self._connection.execute(
                update(tables.positions)
                .where(tables.positions.c.id == position.id)
                .where(tables.positions.c.version == position.version)
                .values(**columns, version=position.version + 1, updated_at=self._clock())
            )
            if result.rowcount != 1:
                raise ConcurrentPositionUpdate(position.id)
            position.version += 1
            tracked.written = columns

    def forget(self) -> None:
        self._tracked.clear()

    async def _store_fills(self, tracked: _Tracked) -> None:
        new = tracked.position.fills[tracked.fills_stored :]
        if not new:
            return
        await self._connection.execute(
            insert(tables.position_fills),
            [
                {
                    "position_id": tracked.position.id,
                    "client_order_id": f.client_order_id,
                    "exchange_trade_id": f.exchange_trade_id,
                    "side": f.side.value,
                    "price": f.price,
                    "quantity": f.quantity,
                    "commission": f.commission,
                    "commission_asset": f.commission_asset,
                    "time": f.time,
                }
                for f in new
            ],
        )
        tracked.fills_stored = len(tracked.position.fills)

    async def _load(self, query: Select[Any]) -> _Positions:
        rows = (await self._connection.execute(query)).mappings().all()
        missing = [row["id"] for row in rows if row["id"] not in self._tracked]
        fills: dict[int, list[PositionFill]] = {pid: [] for pid in missing}
        if missing:
            fill_rows = await self._connection.execute(
                select(tables.position_fills)
                .where(tables.position_fills.c.position_id.in_(missing))
                .order_by(tables.position_fills.c.id)
            )
            for fill_row in fill_rows.mappings():
                fills[fill_row["position_id"]].append(_fill_from_row(fill_row))
        out: _Positions = []
        for row in rows:
            known = self._tracked.get(row["id"])
            if known is None:
                position = _position_from_row(row, fills[row["id"]])
                known = _Tracked(position, _columns(position), len(position.fills))
                self._tracked[row["id"]] = known
            out.append(known.position)
        return out
