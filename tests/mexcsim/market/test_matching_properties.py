"""Property tests of the matching engine: conservation, limits, locked funds and fees."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mexcsim import SimExchange
from mexcsim.errors import SimError
from mexcsim.market.symbols import SymbolSpec
from tests.fixtures.sim_core import ManualClock

D = Decimal
SPEC = SymbolSpec(
    symbol="TSTUSDT",
    base_asset="TST",
    quote_asset="USDT",
    base_asset_precision=3,
    quote_asset_precision=2,
    base_size_precision=D("0.001"),
    quote_amount_precision=D("0.01"),
    quote_amount_precision_market=D("0.01"),
    max_quote_amount=D(1_000_000),
    max_quote_amount_market=D(1_000_000),
    maker_commission=D("0.001"),
    taker_commission=D("0.002"),
    initial_price=D(10),
    order_types=("LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"),
    bid_multiplier_up=D(100),
    ask_multiplier_down=D("0.01"),
    base_commission_precision=3,
    quote_commission_precision=2,
)
USERS = ("alice", "bob", "carol")
PRICED = ("LIMIT", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")

priced = st.tuples(
    st.just("priced"),
    st.sampled_from(USERS),
    st.sampled_from(("BUY", "SELL")),
    st.sampled_from(PRICED),
    st.integers(900, 1100),  # price in cents
    st.integers(1, 3000),  # quantity in thousandths
)
market = st.tuples(
    st.just("market"),
    st.sampled_from(USERS),
    st.sampled_from(("BUY", "SELL")),
    st.booleans(),  # by quote amount
    st.integers(1, 5000),
)
cancel = st.tuples(st.just("cancel"), st.sampled_from(USERS), st.integers(0, 50))
tick = st.tuples(st.just("advance"))


def make(provide_liquidity: bool) -> tuple[SimExchange, ManualClock]:
    clock = ManualClock()
    ex = SimExchange(seed=5, now_ms=clock, symbols=[SPEC], provide_liquidity=provide_liquidity)
    for user in USERS:
        ex.create_account(user, "s", {"USDT": D(100), "TST": D(10)})
    return ex, clock


def apply(ex: SimExchange, clock: ManualClock, action: tuple[object, ...]) -> None:
    kind = action[0]
    try:
        if kind == "priced":
            _, user, side, order_type, cents, milli = action
            ex.place_order(
                str(user),
                {"symbol": "TSTUSDT", "side": str(side), "type": str(order_type),
                 "price": str(D(int(str(cents))) / 100),
                 "quantity": str(D(int(str(milli))) / 1000)},
            )  # fmt: skip
        elif kind == "market":
            _, user, side, by_quote, amount = action
            key = "quoteOrderQty" if by_quote else "quantity"
            value = D(int(str(amount))) / (100 if by_quote else 1000)
            ex.place_order(
                str(user),
                {"symbol": "TSTUSDT", "side": str(side), "type": "MARKET", key: str(value)},
            )
        elif kind == "cancel":
            _, user, index = action
            open_now = ex.open_orders(str(user), {"symbol": "TSTUSDT"})
            if open_now:
                chosen = open_now[int(str(index)) % len(open_now)]
                ex.cancel_order(str(user), {"symbol": "TSTUSDT", "orderId": str(chosen["orderId"])})
        else:
            clock.advance(250)
            ex.advance()
    except SimError:
        pass


def fee_rule(row: dict[str, object]) -> Decimal:
    rate = SPEC.maker_commission if row["isMaker"] else SPEC.taker_commission
    if row["isBuyer"]:
        return (D(str(row["qty"])) * rate).quantize(D("0.001"), ROUND_HALF_UP)
    return (D(str(row["quoteQty"])) * rate).quantize(D("0.01"), ROUND_HALF_UP)


def check_invariants(ex: SimExchange, supply: dict[str, Decimal]) -> dict[str, Decimal]:
    for asset, total in supply.items():
        assert ex.total_supply(asset) == total, asset
    user_fees = {"USDT": D(0), "TST": D(0)}
    for user in USERS:
        orders = {
            str(o["orderId"]): o
            for o in ex.all_orders(user, {"symbol": "TSTUSDT", "limit": "1000"})
        }
        need = {"USDT": D(0), "TST": D(0)}
        for order in orders.values():
            executed, orig = D(str(order["executedQty"])), D(str(order["origQty"]))
            if order["type"] != "MARKET" or orig:
                assert executed <= orig
            else:
                quote_cap = D(str(order["origQuoteOrderQty"]))
                assert D(str(order["cummulativeQuoteQty"])) <= quote_cap
            if order["status"] in ("NEW", "PARTIALLY_FILLED"):
                remaining = orig - executed
                if order["side"] == "BUY":
                    need["USDT"] += D(str(order["price"])) * remaining
                else:
                    need["TST"] += remaining
        balances = ex.balances(user)
        for asset, amount in need.items():
            free, locked = balances.get(asset, (D(0), D(0)))
            assert locked == amount, (user, asset)
            assert free >= 0
        for row in ex.my_trades(user, {"symbol": "TSTUSDT", "limit": "100"}):
            order = orders[str(row["orderId"])]
            price = D(str(row["price"]))
            if order["type"] != "MARKET":
                limit = D(str(order["price"]))
                assert price <= limit if row["isBuyer"] else price >= limit
            assert D(str(row["commission"])) == fee_rule(row)
            user_fees[str(row["commissionAsset"])] += D(str(row["commission"]))
    return user_fees


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(priced, market, cancel), min_size=1, max_size=40))
def test_users_only_invariants_and_fees_add_up(actions: list[tuple[object, ...]]) -> None:
    ex, clock = make(provide_liquidity=False)
    supply = {asset: ex.total_supply(asset) for asset in ("USDT", "TST")}
    for action in actions:
        apply(ex, clock, action)
    user_fees = check_invariants(ex, supply)
    collected = ex.fees_collected()
    for asset, amount in user_fees.items():
        # every fee of every trade, both sides, lands in fees_collected
        assert collected.get(asset, D(0)) == amount


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(priced, market, cancel, tick), min_size=1, max_size=30))
def test_with_liquidity_providers_value_is_conserved(actions: list[tuple[object, ...]]) -> None:
    ex, clock = make(provide_liquidity=True)
    supply = {asset: ex.total_supply(asset) for asset in ("USDT", "TST")}
    for action in actions:
        apply(ex, clock, action)
        check_invariants(ex, supply)
