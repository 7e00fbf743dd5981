"""Telegram commands: what an allowed user may ask, with the API's roles and a confirmation.

Commands act through the engine's services, like the API's routes, with the same role rules
(read < trade < admin): `/forceexit` is a trader's (as ``PUT /api/v1/positions/{id}/close``),
`/pause`, `/resume` and `/kill` are an admin's (as ``PUT /api/v1/risk``). A command that changes
something runs only after ``/confirm <code>`` from the same user within the confirmation time;
each is audited (actor ``telegram:<user id>``). `/rules` and `/listings` answer from optional
callables (the auto-buy and listings services) and say "not available" without them.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mexcbot.domain.positions import Position, PositionError
from mexcbot.domain.risk import TradingState
from mexcbot.domain.tokens import TokenRole, role_allows
from mexcbot.engine.errors import ExecutionError
from mexcbot.engine.market import MarketData
from mexcbot.engine.orders.service import ExecutionService
from mexcbot.engine.positions.trading import PositionService
from mexcbot.engine.risk import RiskLimitsPolicy
from mexcbot.notify.daily import closed_between
from mexcbot.store.audit_writer import AuditWriter

log = logging.getLogger(__name__)

SummaryLines = Callable[[], Awaitable[list[str]]]
"""Lines describing a service's state (the auto-buy rules, the listings)."""
_LIST_LIMIT = 30


@dataclass(frozen=True)
class ControlServices:
    execution: ExecutionService
    positions: PositionService
    risk: RiskLimitsPolicy
    market: MarketData
    audit: AuditWriter
    mode: str
    rules: SummaryLines | None = None
    listings: SummaryLines | None = None


@dataclass(frozen=True, slots=True)
class _Command:
    role: TokenRole
    mutating: bool
    usage: str
    help: str


COMMANDS: dict[str, _Command] = {
    "status": _Command(TokenRole.READ, False, "/status", "mode, trading state, counts"),
    "positions": _Command(TokenRole.READ, False, "/positions", "open positions with PnL"),
    "profit": _Command(TokenRole.READ, False, "/profit", "realised PnL, today and 7 days"),
    "balance": _Command(TokenRole.READ, False, "/balance", "account balances"),
    "orders": _Command(TokenRole.READ, False, "/orders", "open orders"),
    "rules": _Command(TokenRole.READ, False, "/rules", "auto-buy rules"),
    "listings": _Command(TokenRole.READ, False, "/listings", "new listings"),
    "forceexit": _Command(TokenRole.TRADE, True, "/forceexit <id|all>", "sell at market"),
    "pause": _Command(TokenRole.ADMIN, True, "/pause", "REDUCING: no new entries"),
    "resume": _Command(TokenRole.ADMIN, True, "/resume", "ACTIVE: trade again"),
    "kill": _Command(TokenRole.ADMIN, True, "/kill", "HALTED: send nothing, exits included"),
    "help": _Command(TokenRole.READ, False, "/help", "this list"),
}
_STATES = {
    "pause": TradingState.REDUCING,
    "resume": TradingState.ACTIVE,
    "kill": TradingState.HALTED,
}


@dataclass(frozen=True, slots=True)
class _Pending:
    code: str
    command: str
    argument: str
    expires: float


def _lines(title: str, lines: list[str]) -> str:
    if not lines:
        return f"{title}: none"
    shown = lines[:_LIST_LIMIT]
    more = f"\n… and {len(lines) - len(shown)} more" if len(lines) > len(shown) else ""
    return f"{title}:\n" + "\n".join(shown) + more


class RemoteControl:
    """Answers one user's command text (the poller checked the user is allowed)."""

    def __init__(
        self,
        services: ControlServices,
        *,
        confirm_timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._services = services
        self._confirm_timeout = confirm_timeout
        self._monotonic = monotonic
        self._clock = clock
        self._pending: dict[int, _Pending] = {}

    async def handle(self, user: int, role: TokenRole, text: str) -> str | None:
        """The reply to `text` from `user` holding `role`; None for what is not a command."""
        words = text.strip().split()
        if not words or not words[0].startswith("/"):
            return None
        name = words[0][1:].split("@", 1)[0].lower()
        argument = " ".join(words[1:])
        if name == "confirm":
            return await self._confirm(user, role, argument)
        if name == "start":
            name = "help"
        command = COMMANDS.get(name)
        if command is None:
            return f"unknown command /{name}; /help lists them"
        if not role_allows(role, command.role):
            if command.mutating:
                await self._audit(user, name, "denied", argument, f"needs {command.role}")
            return f"/{name} needs the {command.role} role; yours is {role}"
        if command.mutating:
            problem = self._check(name, argument)
            if problem:
                return problem
            code = f"{secrets.randbelow(9000) + 1000}"
            expires = self._monotonic() + self._confirm_timeout
            self._pending[user] = _Pending(code, name, argument, expires)
            what = f"/{name} {argument}".strip()
            return f"{what}: reply /confirm {code} within {self._confirm_timeout:.0f} s"
        return await self._read(name, role)

    def _check(self, name: str, argument: str) -> str | None:
        if name != "forceexit":
            return None if not argument else f"/{name} takes no argument"
        if argument == "all":
            open_count = len(self._services.positions.open_positions())
            return None if open_count else "no open position to exit"
        if not argument.isdigit():
            return "usage: /forceexit <position id|all>"
        return None

    async def _confirm(self, user: int, role: TokenRole, code: str) -> str:
        pending = self._pending.get(user)
        if pending is None or pending.code != code.strip():
            return "nothing to confirm with that code"
        del self._pending[user]
        if self._monotonic() > pending.expires:
            return f"the confirmation of /{pending.command} expired; send it again"
        if not role_allows(role, COMMANDS[pending.command].role):  # the role changed meanwhile
            return f"/{pending.command} needs the {COMMANDS[pending.command].role} role"
        try:
            reply = await self._mutate(user, pending.command, pending.argument)
        except (PositionError, ExecutionError, ValueError) as exc:
            await self._audit(user, pending.command, "error", pending.argument, str(exc))
            return f"/{pending.command} failed: {exc}"
        await self._audit(user, pending.command, "ok", pending.argument, None)
        return reply

    async def _mutate(self, user: int, name: str, argument: str) -> str:
        actor = f"telegram:{user}"
        if name in _STATES:
            state = _STATES[name]
            await self._services.risk.change(actor=actor, state=state, reason=f"telegram /{name}")
            return f"trading state is now {self._services.risk.state}"
        positions = self._services.positions
        ids = (
            [p.id for p in positions.open_positions() if p.id is not None]
            if argument == "all"
            else [int(argument)]
        )
        done: list[str] = []
        for position_id in ids:
            try:
                position, order = await positions.close(position_id)
                sold = f"sell {order.client_order_id} {order.status}" if order else "nothing sold"
                done.append(f"#{position_id} {position.symbol}: {sold}")
            except (PositionError, ExecutionError) as exc:
                if len(ids) == 1:
                    raise
                done.append(f"#{position_id}: failed: {exc}")
        return _lines("force exit", done)

    async def _audit(
        self, user: int, name: str, result: str, target: str, detail: str | None
    ) -> None:
        try:
            await self._services.audit.append(
                actor=f"telegram:{user}",
                action=f"telegram /{name}",
                result=result,
                target=target or None,
                detail=detail,
            )
        except Exception:
            log.exception("audit entry of telegram /%s not written", name)

    async def _read(self, name: str, role: TokenRole) -> str:
        services = self._services
        match name:
            case "status":
                return self._status()
            case "positions":
                return _lines("open positions", [self._position(p) for p in _open(services)])
            case "profit":
                return await self._profit()
            case "balance":
                fresh = await services.market.balances()
                return _lines(
                    "balances",
                    [
                        f"{b.asset}: free {b.free}, locked {b.locked}"
                        for b in fresh.value
                        if b.free or b.locked
                    ],
                )
            case "orders":
                orders = await services.execution.open_orders()
                return _lines(
                    "open orders",
                    [
                        f"{o.request.symbol} {o.request.side} {o.request.type} "
                        f"{o.request.quantity or o.request.quote_amount} @ {o.request.price} "
                        f"{o.status} ({o.client_order_id})"
                        for o in orders
                    ],
                )
            case "rules" | "listings":
                source = services.rules if name == "rules" else services.listings
                if source is None:
                    return f"/{name} is not available in this bot"
                return _lines(name, await source())
        return self._help(role)

    def _status(self) -> str:
        services = self._services
        risk = services.risk
        exposure = risk.exposure()
        reason = f" ({risk.reason})" if risk.reason else ""
        engine = "ready" if services.execution.ready else "starting"
        return (
            f"mode {services.mode.upper()}, engine {engine}\n"
            f"trading {risk.state}{reason}\n"
            f"open positions {exposure.open_positions}, exposure {exposure.total_quote}, "
            f"PnL today {exposure.pnl_today}"
        )

    def _position(self, position: Position) -> str:
        mark = self._services.positions.mark(position.symbol)
        pnl = position.pnl(mark)
        return (
            f"#{position.id} {position.symbol} qty {position.quantity} "
            f"entry {position.average_entry} mark {mark} PnL {pnl}"
        )

    async def _profit(self) -> str:
        now = self._clock()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        positions = self._services.positions
        day = await closed_between(positions, today, now)
        week = await closed_between(positions, now - timedelta(days=7), now)

        def line(title: str, pnl: Decimal, closed: int, win_rate: Decimal | None) -> str:
            rate = "n/a" if win_rate is None else f"{win_rate * 100:.0f}%"
            return f"{title}: realised PnL {pnl}, {closed} closed, win rate {rate}"

        return "\n".join(
            [
                line("today", day.realised_pnl, day.closed, day.win_rate),
                line("7 days", week.realised_pnl, week.closed, week.win_rate),
            ]
        )

    def _help(self, role: TokenRole) -> str:
        lines = [
            f"{c.usage}: {c.help}" + (" (asks to /confirm)" if c.mutating else "")
            for c in COMMANDS.values()
            if role_allows(role, c.role)
        ]
        return _lines(f"commands for your role ({role})", lines)


def _open(services: ControlServices) -> list[Position]:
    return list(services.positions.open_positions())
