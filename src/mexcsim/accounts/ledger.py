"""Balances of every account on the simulated exchange: free and locked amounts per asset.

The ledger only moves value, it never creates or destroys it (except `deposit`, the admin's faucet):
open orders move funds from free to locked, fills move locked funds of one account to the free funds
of the counterparty, and fees move into `fees_collected`. That makes "total per asset is conserved"
a checkable invariant, which the property tests rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from mexcsim.decimals import ZERO, fmt


@dataclass(slots=True)
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


class InsufficientFunds(Exception):
    """Raised by `lock` when the free balance cannot cover the amount; callers map it to
    30004/30005.
    """


class Ledger:
    """Free/locked balances per account id (an api key, or the liquidity provider's id)."""

    def __init__(self) -> None:
        self._accounts: dict[str, dict[str, Balance]] = {}
        self.fees_collected: dict[str, Decimal] = {}

    def open_account(self, owner: str, balances: Mapping[str, Decimal]) -> None:
        if owner in self._accounts:
            raise ValueError(f"account {owner!r} already exists")
        self._accounts[owner] = {}
        for asset, amount in balances.items():
            self.deposit(owner, asset, amount)

    def has_account(self, owner: str) -> bool:
        return owner in self._accounts

    def owners(self) -> list[str]:
        return list(self._accounts)

    def _balance(self, owner: str, asset: str) -> Balance:
        assets = self._accounts[owner]
        balance = assets.get(asset)
        if balance is None:
            balance = assets[asset] = Balance()
        return balance

    def free(self, owner: str, asset: str) -> Decimal:
        return self._balance(owner, asset).free

    def locked(self, owner: str, asset: str) -> Decimal:
        return self._balance(owner, asset).locked

    def snapshot(self, owner: str) -> dict[str, tuple[Decimal, Decimal]]:
        """asset -> (free, locked) for every asset the account ever held."""
        return {a: (b.free, b.locked) for a, b in self._accounts[owner].items()}

    def restore_balance(self, owner: str, asset: str, free: Decimal, locked: Decimal) -> None:
        """Set a balance exactly as a saved state had it (opening the account if needed)."""
        self._accounts.setdefault(owner, {})
        balance = self._balance(owner, asset)
        balance.free, balance.locked = free, locked

    def deposit(self, owner: str, asset: str, amount: Decimal) -> None:
        """Add (or, with a negative amount, remove) free funds; free may not go below zero."""
        balance = self._balance(owner, asset)
        if balance.free + amount < ZERO:
            raise ValueError(
                f"amount: removing {fmt(-amount)} {asset} would make the free balance negative "
                f"(free is {fmt(balance.free)})"
            )
        balance.free += amount

    def lock(self, owner: str, asset: str, amount: Decimal) -> None:
        balance = self._balance(owner, asset)
        if amount > balance.free:
            raise InsufficientFunds(asset)
        balance.free -= amount
        balance.locked += amount

    def unlock(self, owner: str, asset: str, amount: Decimal) -> None:
        balance = self._balance(owner, asset)
        if amount > balance.locked:
            raise AssertionError(f"unlocking {amount} {asset} but only {balance.locked} locked")
        balance.locked -= amount
        balance.free += amount

    def settle(
        self,
        payer: str,
        pay_asset: str,
        pay_amount: Decimal,
        payee: str,
        fee: Decimal,
    ) -> None:
        """Move `pay_amount` from the payer's locked funds to the payee's free funds, less `fee`."""
        source = self._balance(payer, pay_asset)
        if pay_amount > source.locked:
            raise AssertionError(
                f"settling {pay_amount} {pay_asset} but only {source.locked} locked"
            )
        source.locked -= pay_amount
        self._balance(payee, pay_asset).free += pay_amount - fee
        if fee:
            self.fees_collected[pay_asset] = self.fees_collected.get(pay_asset, ZERO) + fee

    def total(self, asset: str) -> Decimal:
        """All of one asset in existence: every account (free + locked) plus fees collected.

        Summed at 60 digits so the check itself never rounds away a discrepancy.
        """
        with localcontext(prec=60):
            held = sum(
                (
                    b.free + b.locked
                    for a in self._accounts.values()
                    for k, b in a.items()
                    if k == asset
                ),
                ZERO,
            )
            return held + self.fees_collected.get(asset, ZERO)
