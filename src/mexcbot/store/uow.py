"""UnitOfWork: one database transaction and the repositories that work inside it.

    async with UnitOfWork(engine) as uow:
        order = await uow.orders.get_by_client_id(cid, for_update=True)
        order.apply_exchange_update(...)
        if await uow.fills.add_if_new(fill):
            order.record_fill(fill)
        await uow.audit.append(actor="system", action="order.fill", result="ok", target=cid)
        await uow.commit()

Nothing is written until `commit()`; leaving the block without committing, or with an exception,
rolls everything back. So an order transition and its side effects (fills, audit entries) land
together or not at all. After a commit the same unit of work may go on: the next statement starts a
new transaction. Services take a UnitOfWork and never commit piecemeal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mexcbot.store.audit import AuditLog
from mexcbot.store.autobuy import AutoBuyExecutionRepository, AutoBuyRuleRepository
from mexcbot.store.listings import ListingRepository, SnipeRepository
from mexcbot.store.orders import FillRepository, OrderRepository
from mexcbot.store.positions import PositionRepository
from mexcbot.store.tokens import TokenRepository
from mexcbot.store.trading_state import TradingStateRepository


def utc_now() -> datetime:
    return datetime.now(UTC)


class UnitOfWork:
    """One transaction on `engine`. Not reusable across `async with` blocks; make a new one."""

    orders: OrderRepository
    fills: FillRepository
    positions: PositionRepository
    trading_state: TradingStateRepository
    tokens: TokenRepository
    audit: AuditLog
    autobuy_rules: AutoBuyRuleRepository
    autobuy_executions: AutoBuyExecutionRepository

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._connection: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for queries no repository offers yet (read-only use)."""
        if self._connection is None:
            raise RuntimeError("use the UnitOfWork inside `async with`")
        return self._connection

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this UnitOfWork is already in use; create a new one")
        self._connection = await self._engine.connect()
        await self._connection.begin()
        self.orders = OrderRepository(self._connection, self._clock)
        self.fills = FillRepository(self._connection)
        self.positions = PositionRepository(self._connection, self._clock)
        self.trading_state = TradingStateRepository(self._connection, self._clock)
        self.tokens = TokenRepository(self._connection, self._clock)
        self.audit = AuditLog(self._connection, self._clock)
        self.listings = ListingRepository(self._connection, self._clock)
        self.snipes = SnipeRepository(self._connection, self._clock)
        self.autobuy_rules = AutoBuyRuleRepository(self._connection, self._clock)
        self.autobuy_executions = AutoBuyExecutionRepository(self._connection, self._clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self.connection
        try:
            if connection.in_transaction():
                await self.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        """Write tracked order and position changes and commit; on failure roll everything back."""
        connection = self.connection
        try:
            await self.orders.flush()
            await self.positions.flush()
            await connection.commit()
        except BaseException:
            await self.rollback()
            raise

    async def rollback(self) -> None:
        """Discard everything since the last commit; loaded orders are no longer tracked."""
        self.orders.forget()
        self.positions.forget()
        await self.connection.rollback()
