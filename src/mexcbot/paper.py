"""Paper mode: the embedded paper exchange (mexcsim) and the credentials of its paper account.

The paper account outlives a run (its secret is generated on the first run and kept in the state
file); the admin API's token is new on every run and written beside it, owner-only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from mexcbot.config import Settings
from mexcbot.telemetry import redactor
from mexcsim import SimConfig, SimServer

PAPER_API_KEY = "mexcbot-paper"
#: Beside the paper state file: the paper exchange's admin token of the current run.
ADMIN_TOKEN_SUFFIX = ".admin-token"


async def start_paper_exchange(settings: Settings, stack: contextlib.AsyncExitStack) -> SimServer:
    """The embedded paper exchange. Its admin API (`/_sim/`: funding, faults) needs a token that
    is new on every run and written, owner-only, beside the state file: a web page in the
    user's browser cannot use the loopback admin API, the user can."""
    admin_token = secrets.token_urlsafe(32)
    redactor.add(admin_token)
    if settings.paper_state_file:
        write_private(Path(settings.paper_state_file + ADMIN_TOKEN_SUFFIX), admin_token + "\n")
    sim = SimServer(
        SimConfig(
            port=0,
            seed=settings.paper_seed,
            tick_interval=settings.paper_tick_interval,
            state_file=settings.paper_state_file or None,
            admin_token=admin_token,
        )
    )
    await sim.start()
    stack.push_async_callback(sim.stop)
    return sim


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (also when it existed)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)


def exchange_credentials(settings: Settings, paper: SimServer | None) -> tuple[str, str, str]:
    """Paper: the embedded exchange's persistent paper account (its secret generated on the
    first run, kept in the state file). Live: the user's keys (`resolved_mode` checked them)."""
    if paper is None:
        if settings.api_key is None or settings.api_secret is None:  # pragma: no cover
            raise RuntimeError("live mode without keys: Settings.resolved_mode() refuses this")
        return (
            settings.exchange_url,
            settings.api_key.get_secret_value(),
            settings.api_secret.get_secret_value(),
        )
    secret = paper.exchange.secret_for(PAPER_API_KEY)
    if secret is None:
        secret = secrets.token_hex(32)
        paper.exchange.create_account(PAPER_API_KEY, secret)
    return paper.url, PAPER_API_KEY, secret
