"""User accounts on the exchange: creating and funding them, balances, account and fee reports.

A part of `SimExchange` kept in its own module, like `mexcsim.exchange.market_view`. Creating and
funding an account are commands (journaled, replayed at their time).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from mexcsim import errors
from mexcsim.accounts.ledger import Ledger
from mexcsim.accounts.reports import account_report, trade_fee_report
from mexcsim.accounts.user_orders import UserAccount, UserOrders
from mexcsim.errors import SimError
from mexcsim.exchange.commands import CommandClock
from mexcsim.market.symbols import DEFAULT_FUNDING
from mexcsim.market.trading_pair import TradingPair
from mexcsim.request_fields import required_str


class _Exchange(Protocol):
    """What these methods need of the facade."""

    _commands: CommandClock
    _ledger: Ledger
    _user_orders: UserOrders
    _revision: int

    def _now(self) -> int: ...

    def _user(self, api_key: str) -> UserAccount: ...

    def _pair(self, symbol: str) -> TradingPair: ...

    def _create_account(
        self, api_key: str, api_secret: str, balances: Mapping[str, Decimal] | None
    ) -> None: ...

    def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]: ...


class AccountDesk:
    def create_account(
        self: _Exchange,
        api_key: str,
        api_secret: str,
        balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        """Register an api key pair; `balances=None` gives 100,000 USDT and some of each base."""
        funding = None if balances is None else {a: str(v) for a, v in balances.items()}
        args = {"api_key": api_key, "api_secret": api_secret, "balances": funding}
        with self._commands.command("create_account", args):
            self._create_account(api_key, api_secret, balances)

    def _create_account(
        self: _Exchange, api_key: str, api_secret: str, balances: Mapping[str, Decimal] | None
    ) -> None:
        if not api_key or api_key in self._user_orders.users:
            raise SimError(errors.ILLEGAL_PARAM, f"api key {api_key!r} is empty or already exists")
        self._ledger.open_account(api_key, DEFAULT_FUNDING if balances is None else balances)
        self._user_orders.users[api_key] = UserAccount(api_key, api_secret)
        self._revision += 1

    def secret_for(self: _Exchange, api_key: str) -> str | None:
        user = self._user_orders.users.get(api_key)
        return None if user is None else user.api_secret

    def fund(self: _Exchange, api_key: str, asset: str, amount: Decimal) -> None:
        """Add to (or with a negative amount take from, down to zero) the free balance."""
        with self._commands.command(
            "fund", {"api_key": api_key, "asset": asset, "amount": str(amount)}
        ):
            self._user(api_key)
            self._revision += 1
            try:
                self._ledger.deposit(api_key, asset.upper(), amount)
            except ValueError as exc:
                raise SimError(errors.ILLEGAL_PARAM, str(exc)) from None

    def balances(self: _Exchange, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        self._user(api_key)
        return self._ledger.snapshot(api_key)

    def account_info(self: _Exchange, api_key: str) -> dict[str, object]:
        return account_report(self.balances(api_key))

    def trade_fee(self: _Exchange, api_key: str, params: Mapping[str, str]) -> dict[str, object]:
        """Commission rates as JSON numbers (MEXC sends numbers here; rates are not money)."""
        self._user(api_key)
        spec = self._pair(required_str(params, "symbol")).spec
        return trade_fee_report(spec, self._now())
