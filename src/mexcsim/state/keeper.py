"""Keeping a simulator's state in a file across restarts (``SimConfig.state_file``).

A paper trader's account must survive a restart of the bot: the bot's database remembers its
orders, so the exchange has to remember them too, or reconciliation finds them missing. The
`StateKeeper` loads the file when the server starts and writes it while the server runs, at most
every ``save_interval`` seconds and only when the exchange's `revision` moved, plus once at stop.

Writes are atomic: the JSON goes to a temporary file in the same directory, is fsynced, renamed
over the old file and the directory is fsynced, so a crash leaves either the old or the new state,
never a torn one. The snapshot is taken on the event loop (a consistent view); encoding and the
disk write run in a worker thread. Measured (median of 7, development machine, 2 shared cores) with
1000 open user orders, six ticking markets and their persisted tape: snapshot 27 ms on the loop,
JSON encoding + write + fsync + rename 25 ms in the thread, 0.9 MB of JSON (3 ms + 6 ms, 0.5 MB
while the tape is still short); loading and restoring it takes ~70 ms at start.

A file that exists but cannot be read or restored is a startup error naming the file
(`StateFileError`); it is never silently replaced by a fresh exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol

from mexcsim.state.document import StateError, decode_world, encode_world
from mexcsim.world import SimWorld


class SaveableExchange(Protocol):
    """What the keeper needs of an exchange (the facade satisfies it; no import of it here)."""

    @property
    def revision(self) -> int: ...

    def snapshot(self) -> SimWorld: ...

    def restore(self, world: SimWorld) -> None: ...


log = logging.getLogger(__name__)


class StateFileError(RuntimeError):
    """The state file cannot be read, restored or written; the message names the file."""


def read_state_file(path: Path) -> object | None:
    """The decoded JSON document, or None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"cannot read the state file {path}: {exc}") from exc
    try:
        document: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(f"the state file {path} is not valid JSON: {exc}") from exc
    return document


def write_state_file(path: Path, document: object) -> None:
    """Encode and write `document` atomically (temp file + fsync + rename + directory fsync)."""
    text = json.dumps(document, separators=(",", ":"))
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class StateKeeper:
    """Loads and saves one exchange's state to one file on behalf of a running server."""

    def __init__(
        self, exchange: SaveableExchange, path: str | os.PathLike[str], save_interval: float
    ):
        if save_interval < 0:
            raise ValueError("state_save_interval must be >= 0 seconds")
        self.exchange = exchange
        self.path = Path(path)
        self.save_interval = save_interval
        self.saved_revision: int | None = None
        self._last_save = float("-inf")
        self._writing: asyncio.Future[None] | None = None

    def load(self) -> bool:
        """Restore the exchange from the file if it exists; True when it did."""
        document = read_state_file(self.path)
        if document is None:
            return False
        try:
            self.exchange.restore(decode_world(document))
        except (StateError, ValueError) as exc:
            raise StateFileError(f"the state file {self.path} cannot be restored: {exc}") from exc
        self.saved_revision = self.exchange.revision
        return True

    def check_writable(self) -> None:
        """Fail at start, not at the first save, when the file's directory is missing."""
        if not self.path.parent.is_dir():
            raise StateFileError(
                f"cannot keep the state file {self.path}: directory {self.path.parent} is missing"
            )

    async def save_if_due(self) -> None:
        """Save when the state changed and the last save is at least `save_interval` old."""
        if self.exchange.revision == self.saved_revision:
            return
        if time.monotonic() - self._last_save < self.save_interval:
            return
        await self.save()

    async def save(self) -> None:
        """Snapshot now and write it; waits for a write still in flight first (order kept)."""
        await self.wait_written()
        revision = self.exchange.revision
        document = encode_world(self.exchange.snapshot())
        self._last_save = time.monotonic()
        loop = asyncio.get_running_loop()
        self._writing = loop.run_in_executor(None, write_state_file, self.path, document)
        try:
            # shielded: cancelling the caller (the server stopping) must not orphan the write
            await asyncio.shield(self._writing)
        except OSError as exc:
            self._writing = None
            raise StateFileError(f"cannot write the state file {self.path}: {exc}") from exc
        self._writing = None
        self.saved_revision = revision

    async def save_at_stop(self) -> None:
        """The last save of a stopping server (skipped when nothing changed since the last)."""
        await self.wait_written()
        if self.exchange.revision != self.saved_revision:
            await self.save()

    async def wait_written(self) -> None:
        """Let a write that is in flight finish (e.g. one the stopping tick loop left behind)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            try:
                await writing
            except OSError:
                log.exception("writing the state file %s failed", self.path)
