"""Persistence: SQLAlchemy tables, repositories, the UnitOfWork and Alembic migrations.

Typical wiring (done once, in the composition root):

    engine = create_engine(url)           # url from database_url_from_env()
    await upgrade(url)                    # tables exist only through migrations
    uow_factory = lambda: UnitOfWork(engine)
    journal = OrderJournal(engine)        # the placement hot path; await journal.close() at exit
"""

from mexcbot.domain.tokens import ApiToken, TokenRole
from mexcbot.store.audit import AuditEntry, AuditLog
from mexcbot.store.database import (
    DEFAULT_DATABASE_URL,
    UnsupportedDatabaseUrl,
    create_engine,
    database_url_from_env,
    normalize_database_url,
)
from mexcbot.store.journal import OrderJournal
from mexcbot.store.migrate import current_revision, head_revision, upgrade
from mexcbot.store.order_writer import UnitOfWorkOrderWriter
from mexcbot.store.orders import (
    ConcurrentOrderUpdate,
    DuplicateClientOrderId,
    FillRepository,
    OrderPage,
    OrderRepository,
)
from mexcbot.store.positions import ConcurrentPositionUpdate, PositionPage, PositionRepository
from mexcbot.store.tokens import DuplicateToken, TokenRepository
from mexcbot.store.types import DecimalOutOfRange
from mexcbot.store.uow import UnitOfWork

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ApiToken",
    "AuditEntry",
    "AuditLog",
    "ConcurrentOrderUpdate",
    "ConcurrentPositionUpdate",
    "DecimalOutOfRange",
    "DuplicateClientOrderId",
    "DuplicateToken",
    "FillRepository",
    "OrderJournal",
    "OrderPage",
    "OrderRepository",
    "PositionPage",
    "PositionRepository",
    "TokenRepository",
    "TokenRole",
    "UnitOfWork",
    "UnitOfWorkOrderWriter",
    "UnsupportedDatabaseUrl",
    "create_engine",
    "current_revision",
    "database_url_from_env",
    "head_revision",
    "normalize_database_url",
    "upgrade",
]
