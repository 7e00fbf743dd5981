"""``python -m mexcsim`` / ``mexcbot sim``: the command line and its run-until-signalled loop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from mexcsim.config import SimConfig
from mexcsim.http.server import SimServer
from mexcsim.state.keeper import StateFileError

DEFAULT_CLI_PORT = 18080
API_SECRET_ENV = "MEXCSIM_API_SECRET"
ADMIN_TOKEN_ENV = "MEXCSIM_ADMIN_TOKEN"


def _secret(flag: str | None, file: str | None, env_name: str) -> str | None:
    """A secret from the flag, else the file (first line), else the environment, else None.
    Why not only a flag: command lines are visible to every user of the machine (``ps``)."""
    if flag:
        return flag
    if file:
        with open(file, encoding="utf-8") as source:
            return source.readline().strip() or None
    return os.environ.get(env_name) or None


async def serve(config: SimConfig, *, out: Callable[[str], None] = print) -> None:
    """Run a simulator until SIGINT/SIGTERM, announcing where it listens (never the secret)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows event loops have no add_signal_handler (it raises NotImplementedError there);
        # Ctrl+C still arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(config) as server:
        out(f"mexcsim listening on {server.url}")
        out(f"mexcsim admin API at {server.admin_url}")
        if config.api_key is not None:
            out(f"mexcsim api key: {config.api_key}")
        if config.state_file is not None:
            out(f"mexcsim state file: {config.state_file}")
        if config.clock_skew_ms:
            out(f"mexcsim clock skew: {config.clock_skew_ms} ms")
        await stop.wait()


def parse_args(argv: Sequence[str] | None) -> SimConfig:
    parser = argparse.ArgumentParser(
        prog="mexcsim", description="A MEXC-compatible spot exchange simulator (REST v3)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_CLI_PORT,
        help="port (default 18080; 0 picks a free one)",
    )
    parser.add_argument("--api-key", help="create an account with this API key (default funding)")
    parser.add_argument(
        "--api-secret",
        help=f"the secret for --api-key (visible in ps; prefer ${API_SECRET_ENV} or a file)",
    )
    parser.add_argument(
        "--api-secret-file", metavar="PATH", help="read the --api-key secret from PATH"
    )
    parser.add_argument(
        "--admin-token-file",
        metavar="PATH",
        help=f"require 'Authorization: Bearer <token>' on /_sim/ (or set ${ADMIN_TOKEN_ENV})",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the market (default 1)")
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=0.25,
        help="seconds between market ticks (default 0.25)",
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="turn MEXC's rate limits off (benchmarks)"
    )
    parser.add_argument(
        "--state-file",
        metavar="PATH",
        help="keep accounts, orders and the market in this JSON file across restarts",
    )
    parser.add_argument(
        "--state-save-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="compact the state file at most every this many seconds (default 30; every change "
        "is journaled before its answer anyway)",
    )
    parser.add_argument(
        "--state-fsync",
        action="store_true",
        help="fsync the journal after every change (survives power loss; slower)",
    )
    parser.add_argument(
        "--clock-skew-ms",
        type=int,
        default=0,
        metavar="MS",
        help="run the simulator's clock this many ms ahead of real time (negative: behind); "
        "serverTime, signature windows and listing opens all follow it (default 0)",
    )
    parser.add_argument(
        "--listing-book-ramp-s",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds a new listing's thin opening book takes to fill in (default 10)",
    )
    args = parser.parse_args(argv)
    try:
        api_secret = _secret(args.api_secret, args.api_secret_file, API_SECRET_ENV)
        admin_token = _secret(None, args.admin_token_file, ADMIN_TOKEN_ENV)
    except OSError as exc:
        parser.error(f"cannot read a secret file: {exc}")
    if admin_token is not None and len(admin_token) < 16:
        parser.error("the admin token must be at least 16 characters")
    args.api_secret = api_secret
    if (args.api_key is None) != (args.api_secret is None):
        parser.error("--api-key and --api-secret must be given together")
    if args.tick_interval <= 0:
        parser.error("--tick-interval must be > 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.state_save_interval < 0:
        parser.error("--state-save-interval must be >= 0")
    if args.listing_book_ramp_s < 0:
        parser.error("--listing-book-ramp-s must be >= 0")
    return SimConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        api_key=args.api_key,
        api_secret=args.api_secret,
        admin_token=admin_token,
        tick_interval=args.tick_interval,
        rate_limits=not args.no_rate_limits,
        state_file=args.state_file,
        state_save_interval=args.state_save_interval,
        state_fsync=args.state_fsync,
        clock_skew_ms=args.clock_skew_ms,
        listing_book_ramp_s=args.listing_book_ramp_s,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The ``python -m mexcsim`` entry point; returns the process exit status."""
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        asyncio.run(serve(config, out=announce))
    except StateFileError as exc:
        print(f"mexcsim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mexcsim: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
