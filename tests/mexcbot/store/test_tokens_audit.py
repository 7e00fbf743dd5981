"""TokenRepository and AuditLog on both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mexcbot.store import DuplicateToken, TokenRole, UnitOfWork

UowFactory = Callable[[], UnitOfWork]


async def test_token_lifecycle(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        created = await uow.tokens.create("ops", TokenRole.ADMIN, "h" * 64)
        await uow.tokens.create("grafana", TokenRole.READ, "g" * 64)
        with pytest.raises(DuplicateToken, match="'ops' already exists"):
            await uow.tokens.create("ops", TokenRole.READ, "x" * 64)
        await uow.commit()
    assert created.is_active
    assert created.last_used_at is None
    async with uow_factory() as uow:
        found = await uow.tokens.get_by_hash("h" * 64)
        assert found == created
        await uow.tokens.touch(created.id)
        assert await uow.tokens.revoke("grafana") is True
        assert await uow.tokens.revoke("grafana") is False
        assert await uow.tokens.revoke("nobody") is False
        await uow.commit()
    async with uow_factory() as uow:
        tokens = {t.name: t for t in await uow.tokens.list()}
        assert tokens["ops"].last_used_at is not None
        assert tokens["ops"].role is TokenRole.ADMIN
        assert not tokens["grafana"].is_active
        assert await uow.tokens.get_by_hash("unknown") is None
        assert (await uow.tokens.get_by_name("grafana")) == tokens["grafana"]


async def test_audit_log_appends_and_reads_newest_first(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.audit.append(actor="ops", action="token.create", result="ok", target="grafana")
        await uow.audit.append(actor="bob", action="order.place", result="denied", detail="role")
        await uow.audit.append(actor="ops", action="token.revoke", result="ok", target="grafana")
        await uow.commit()
    async with uow_factory() as uow:
        entries = await uow.audit.recent()
        assert [e.action for e in entries] == ["token.revoke", "order.place", "token.create"]
        assert entries[1].detail == "role"
        assert entries[1].result == "denied"
        ops = await uow.audit.recent(actor="ops", limit=1, offset=1)
        assert [e.action for e in ops] == ["token.create"]
        assert entries[0].time.tzinfo is not None
