"""Accounts, balances, listen keys and account-level answers through the facade."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mexcsim import SimExchange
from mexcsim.errors import SimError
from tests.fixtures.sim_core import ManualClock


def test_default_funding_and_secret(quiet_exchange: SimExchange) -> None:
    balances = quiet_exchange.balances("alice")
    assert balances["USDT"] == (Decimal(100000), Decimal(0))
    assert balances["BTC"][0] > 0
    assert quiet_exchange.secret_for("alice") == "alice-secret"
    assert quiet_exchange.secret_for("nobody") is None


def test_explicit_balances_and_duplicate_key(clock: ManualClock) -> None:
    ex = SimExchange(now_ms=clock, provide_liquidity=False)
    ex.create_account("k", "s", {"USDT": Decimal("12.5")})
    assert ex.balances("k") == {"USDT": (Decimal("12.5"), Decimal(0))}
    with pytest.raises(SimError):
        ex.create_account("k", "other")


def test_fund_adds_and_removes_down_to_zero(quiet_exchange: SimExchange) -> None:
    quiet_exchange.fund("alice", "DOGE", Decimal(5))
    quiet_exchange.fund("alice", "DOGE", Decimal(-5))
    assert quiet_exchange.balances("alice")["DOGE"] == (Decimal(0), Decimal(0))
    with pytest.raises(SimError) as err:
        quiet_exchange.fund("alice", "USDT", Decimal(-100001))
    assert "amount" in err.value.msg


def test_unknown_api_key(quiet_exchange: SimExchange) -> None:
    with pytest.raises(SimError) as err:
        quiet_exchange.account_info("ghost")
    assert err.value.code == 10072


def test_account_info_lists_non_zero_balances(quiet_exchange: SimExchange) -> None:
    quiet_exchange.fund("alice", "ZERO", Decimal(0))
    quiet_exchange.place_order(
        "alice",
        {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "quantity": "1.5", "price": "3500"},
    )
    info = quiet_exchange.account_info("alice")
    assert info["canTrade"] is True
    assert info["accountType"] == "SPOT"
    rows = {r["asset"]: r for r in info["balances"]}  # type: ignore[attr-defined]
    assert "ZERO" not in rows
    assert rows["ETH"] == {"asset": "ETH", "free": "8.5", "locked": "1.5"}


def test_trade_fee(quiet_exchange: SimExchange) -> None:
    fee = quiet_exchange.trade_fee("alice", {"symbol": "BTCUSDT"})
    assert fee["data"] == {"makerCommission": 0.0, "takerCommission": 0.0005}
    assert fee["code"] == 0


def test_listen_key_lifecycle(quiet_exchange: SimExchange, clock: ManualClock) -> None:
    key = str(quiet_exchange.create_listen_key("alice")["listenKey"])
    assert quiet_exchange.listen_keys("alice") == {"listenKey": [key]}
    assert quiet_exchange.listen_key_owner(key) == "alice"
    with pytest.raises(SimError):
        quiet_exchange.keepalive_listen_key("bob", key)
    clock.advance(59 * 60_000)
    assert quiet_exchange.keepalive_listen_key("alice", key) == {"listenKey": key}
    clock.advance(59 * 60_000)
    assert quiet_exchange.listen_key_owner(key) == "alice"
    clock.advance(2 * 60_000)
    assert quiet_exchange.listen_key_owner(key) is None
    assert quiet_exchange.listen_keys("alice") == {"listenKey": []}
    other = str(quiet_exchange.create_listen_key("alice")["listenKey"])
    assert other != key
    assert quiet_exchange.close_listen_key("alice", other) == {"listenKey": other}
    with pytest.raises(SimError):
        quiet_exchange.close_listen_key("alice", other)


def test_listen_key_cap(quiet_exchange: SimExchange) -> None:
    for _ in range(60):
        quiet_exchange.create_listen_key("alice")
    with pytest.raises(SimError):
        quiet_exchange.create_listen_key("alice")
