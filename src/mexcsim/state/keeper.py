"""Keeping a simulator's state across restarts and crashes (``SimConfig.state_file``).

A paper trader's account must survive the bot being killed at any instant: the bot's database
remembers its orders, so the exchange has to remember them too, or reconciliation finds them
missing. Two files do it: the state file holds a snapshot (`mexcsim.state.document`) and
``<state_file>.journal`` every command since (`mexcsim.state.journal`), appended before the
command's answer leaves. Starting loads the snapshot and replays the journal; a fresh start (no
state file) writes the first snapshot at once, so the journal always has a base to replay on.

Compaction: at most every ``save_interval`` seconds, when the state changed, the keeper takes a
snapshot on the event loop (a consistent view), encodes and writes it atomically in a worker thread
(temp file + fsync + rename + directory fsync: a crash leaves the old or the new file, never a torn
one), then drops the journal's commands the snapshot includes. Commands that arrive during the
write stay in the journal; the snapshot's ``command_seq`` tells the replay which to skip, so a crash
between the two steps is harmless. A clean stop compacts once more and removes the empty journal.

Snapshot cost, measured (median of 7, 2 shared cores) with 1000 open user orders, six ticking
markets and their persisted tape: 27 ms on the loop, 25 ms in the thread, 0.9 MB of JSON; loading
it ~70 ms. A file that exists but cannot be read or restored is a startup error naming the file
(`StateFileError`); it is never silently replaced by a fresh exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from mexcsim.state.document import StateError, decode_world, encode_world
from mexcsim.state.journal import CommandJournal, JournalError, journal_path, read_journal
from mexcsim.world import Command, SimWorld


class SaveableExchange(Protocol):
    """What the keeper needs of an exchange (the facade satisfies it; no import of it here)."""

    @property
    def revision(self) -> int: ...

    def snapshot(self) -> SimWorld: ...

    def restore(self, world: SimWorld) -> None: ...

    @property
    def command_seq(self) -> int: ...

    def replay(self, command: Command) -> None: ...

    def record_commands(self, sink: Callable[[Command], None] | None) -> None: ...


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
    """Loads, journals and compacts one exchange's state in one file on behalf of a server."""

    def __init__(
        self,
        exchange: SaveableExchange,
        path: str | os.PathLike[str],
        save_interval: float,
        *,
        fsync: bool = False,
    ) -> None:
        if save_interval < 0:
            raise ValueError("state_save_interval must be >= 0 seconds")
        self.exchange = exchange
        self.path = Path(path)
        self.journal_path = journal_path(self.path)
        self.save_interval = save_interval
        self.fsync = fsync
        self.saved_revision: int | None = None
        self._last_save = float("-inf")
        self._writing: asyncio.Future[None] | None = None
        self._journal: CommandJournal | None = None

    def load(self) -> bool:
        """Restore the exchange from the snapshot and the journal; True when a snapshot existed."""
        document = read_state_file(self.path)
        try:
            commands = read_journal(self.journal_path)
        except JournalError as exc:
            raise StateFileError(str(exc)) from exc
        if document is None:
            if commands:
                raise StateFileError(
                    f"the journal {self.journal_path} exists but its state file {self.path} "
                    "does not; refusing to guess the state it applies to"
                )
            return False
        try:
            self.exchange.restore(decode_world(document))
            for command in commands:
                if command.seq > self.exchange.command_seq:
                    self.exchange.replay(command)
        except (StateError, ValueError) as exc:
            raise StateFileError(f"the state file {self.path} cannot be restored: {exc}") from exc
        self.saved_revision = self.exchange.revision
        return True

    def begin_journal(self, loaded: bool) -> None:
        """From now on every command is journaled before its call returns. A fresh exchange gets
        its first snapshot written first (the base the journal is replayed on)."""
        if not loaded:
            write_state_file(self.path, encode_world(self.exchange.snapshot()))
            self.saved_revision = self.exchange.revision
        try:
            self._journal = CommandJournal(self.journal_path, fsync=self.fsync)
        except OSError as exc:
            raise StateFileError(f"cannot open the journal {self.journal_path}: {exc}") from exc
        self.exchange.record_commands(self._journal.append)

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
        world = self.exchange.snapshot()
        document = encode_world(world)
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
        if self._journal is not None:
            try:
                self._journal.keep_after(world.command_seq)
            except OSError as exc:
                raise StateFileError(f"cannot compact {self.journal_path}: {exc}") from exc

    async def save_at_stop(self) -> None:
        """The last save of a stopping server (skipped when nothing changed since the last)."""
        await self.wait_written()
        if self.exchange.revision != self.saved_revision:
            await self.save()
        journal, self._journal = self._journal, None
        if journal is not None:
            self.exchange.record_commands(None)
            journal.close(remove_if_empty=True)

    async def wait_written(self) -> None:
        """Let a write that is in flight finish (e.g. one the stopping tick loop left behind)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            try:
                await writing
            except OSError:
                log.exception("writing the state file %s failed", self.path)
