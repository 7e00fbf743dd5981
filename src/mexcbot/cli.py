"""The ``mexcbot`` command: ``run``, ``sim``, ``db upgrade``, ``token create|list|revoke``.

Settings come from the environment (``MEXCBOT_*``, ``MEXC_API_KEY``/``MEXC_API_SECRET``, ``.env``);
flags override them. A configuration that cannot work is refused with a message naming the setting,
exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from mexcbot.config import ConfigurationError, Mode, Settings
from mexcbot.store import TokenRole, UnitOfWork, create_engine, normalize_database_url, upgrade
from mexcbot.telemetry import configure_logging

EXIT_CONFIG = 2


def _out(line: str) -> None:
    print(line, flush=True)


def _fail(message: str, status: int = EXIT_CONFIG) -> int:
    print(f"mexcbot: {message}", file=sys.stderr, flush=True)
    return status


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mexcbot", description="A self-hosted trading bot for the MEXC spot exchange."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the bot and its API (paper mode without keys)")
    run.add_argument("--live", action="store_true", help="trade real money with MEXC_API_KEY")
    run.add_argument("--paper", action="store_true", help="paper mode even if keys are set")
    run.add_argument("--host", help="interface the API binds (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="API port (default 8080; 0 picks a free one)")

    commands.add_parser("sim", help="run mexcsim alone (its own flags follow)", add_help=False)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate the database to the newest schema")

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", required=True, choices=[role.value for role in TokenRole])
    create.add_argument("--name", required=True)
    token_commands.add_parser("list", help="list tokens (never the tokens themselves)")
    revoke = token_commands.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sim"]:
        from mexcsim.http.command_line import main as sim_main

        return sim_main(args_list[1:])
    args = _parser().parse_args(args_list)
    try:
        if args.command == "run":
            if args.live and args.paper:
                return _fail("--live and --paper exclude each other")
            mode = Mode.LIVE if args.live else Mode.PAPER if args.paper else None
            settings = _settings(mode=mode, api_host=args.host, api_port=args.port)
            settings.resolved_mode()
            return _run(settings)
        settings = _settings()
        if args.command == "db":
            asyncio.run(upgrade(normalize_database_url(settings.database_url)))
            _out("database is at the newest schema")
            return 0
        return asyncio.run(_token_command(settings, args))
    except ConfigurationError as exc:
        return _fail(f"refusing to start: {exc}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        return _fail(f"invalid configuration: {problems}")


def _run(settings: Settings) -> int:
    from mexcbot.app import run_until_stopped

    configure_logging(settings.log_format, settings.log_level)

    async def main_task() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Windows event loops have no add_signal_handler (NotImplementedError there);
            # Ctrl+C still arrives as KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_until_stopped(settings, stop, _out)

    try:
        asyncio.run(main_task())
    except OSError as exc:
        return _fail(f"cannot start: {exc}", 1)
    return 0


async def _token_command(settings: Settings, args: argparse.Namespace) -> int:
    from mexcbot.domain.tokens import InvalidTokenName
    from mexcbot.engine.errors import TokenNameTaken, TokenNotFound
    from mexcbot.engine.tokens import TokenService

    url = normalize_database_url(settings.database_url)
    await upgrade(url)
    engine = create_engine(url)
    tokens = TokenService(lambda: UnitOfWork(engine))
    try:
        if args.token_command == "create":
            try:
                stored, token = await tokens.create(args.name, TokenRole(args.role), actor="cli")
            except InvalidTokenName as exc:
                return _fail(f"--{exc}", EXIT_CONFIG)
            except TokenNameTaken as exc:
                return _fail(str(exc), 1)
            _out(f"created {stored.role} token {stored.name!r}; it is shown once:")
            _out(token)
            return 0
        if args.token_command == "list":
            listed = await tokens.list()
            for item in listed:
                state = "revoked" if item.revoked_at else "active"
                used = item.last_used_at.isoformat() if item.last_used_at else "never"
                _out(
                    f"{item.name}\t{item.role}\t{state}\tcreated {item.created_at.isoformat()}"
                    f"\tlast used {used}"
                )
            if not listed:
                _out("no tokens")
            return 0
        try:
            await tokens.revoke(args.name, actor="cli")
        except (InvalidTokenName, TokenNotFound) as exc:
            return _fail(str(exc), 1)
        _out(f"revoked token {args.name!r}")
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
