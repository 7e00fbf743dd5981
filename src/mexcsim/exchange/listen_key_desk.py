"""User data stream keys (reference §5): create, keep alive, close, list, and who owns one.

A part of `SimExchange` kept in its own module, like `mexcsim.exchange.market_view`. Creating,
keeping alive and closing a key are commands (journaled, replayed at their time), because a key's
expiry is state a restart must keep.
"""

from __future__ import annotations

from typing import Protocol

from mexcsim.accounts.listen_keys import ListenKeys
from mexcsim.accounts.user_orders import UserAccount
from mexcsim.exchange.commands import CommandClock


class _Exchange(Protocol):
    """What these methods need of the facade."""

    _commands: CommandClock
    _listen_keys: ListenKeys
    _revision: int

    def _now(self) -> int: ...

    def _user(self, api_key: str) -> UserAccount: ...


class ListenKeyDesk:
    def create_listen_key(self: _Exchange, api_key: str) -> dict[str, object]:
        with self._commands.command("create_listen_key", {"api_key": api_key}) as now:
            self._user(api_key)
            self._revision += 1
            return {"listenKey": self._listen_keys.create(api_key, now)}

    def keepalive_listen_key(self: _Exchange, api_key: str, listen_key: str) -> dict[str, object]:
        args = {"api_key": api_key, "listen_key": listen_key}
        with self._commands.command("keepalive_listen_key", args) as now:
            self._user(api_key)
            self._revision += 1
            self._listen_keys.keepalive(api_key, listen_key, now)
            return {"listenKey": listen_key}

    def close_listen_key(self: _Exchange, api_key: str, listen_key: str) -> dict[str, object]:
        args = {"api_key": api_key, "listen_key": listen_key}
        with self._commands.command("close_listen_key", args) as now:
            self._user(api_key)
            self._revision += 1
            self._listen_keys.close(api_key, listen_key, now)
            return {"listenKey": listen_key}

    def listen_keys(self: _Exchange, api_key: str) -> dict[str, object]:
        self._user(api_key)
        return {"listenKey": self._listen_keys.valid_keys(api_key, self._now())}

    def listen_key_owner(self: _Exchange, listen_key: str) -> str | None:
        """The api key a valid listen key belongs to, for the user-data websocket."""
        return self._listen_keys.owner_of(listen_key, self._now())
