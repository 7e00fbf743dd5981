"""RiskLimitsPolicy.check on its own: each limit's message, and the open positions and the loss
window read only for the limits that are set."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderOrigin, OrderRequest, OrderSide, OrderType, TimeInForce
from mexcbot.domain.risk import RiskLimits
from mexcbot.domain.symbols import SymbolRules, SymbolStatus
from mexcbot.engine.bus import EventBus
from mexcbot.engine.errors import RiskRejected
from mexcbot.engine.prices import PriceBook
from mexcbot.engine.risk import RiskContext, RiskLimitsPolicy

D = Decimal
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
RULES = SymbolRules(
    symbol="BTCUSDT",
    base_asset="BTC",
    quote_asset="USDT",
    status=SymbolStatus.ONLINE,
    spot_trading_allowed=True,
    quantity_precision=6,
    price_precision=2,
    min_quantity=D(0),
    min_notional=D(1),
    max_notional=None,
    min_notional_market=D(1),
    max_notional_market=None,
    order_types=frozenset(OrderType),
)
BUY = OrderRequest(
    symbol="BTCUSDT",
    side=OrderSide.BUY,
    type=OrderType.LIMIT,
    time_in_force=TimeInForce.GTC,
    quantity=D("0.01"),
    quote_amount=None,
    price=D(30000),
    client_order_id="mxbrisk",
    origin=OrderOrigin.USER,
    origin_ref="position:9",
)


class Exposure:
    """Two open positions (one empty), a loss of 60 today; counts what was read."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def open_costs(self) -> dict[str, Decimal]:
        self.reads.append("open_costs")
        return {"position:1": D(200), "position:2": D(0), "position:3": D(150)}

    def pnl_today(self, now: datetime) -> Decimal:
        self.reads.append("pnl_today")
        return D(-60)

    def pnl_since(self, start: datetime) -> Decimal:
        self.reads.append("pnl_since")
        return D(-60)

    def symbol_cost(self, symbol: str) -> Decimal:
        self.reads.append("symbol_cost")
        return D(100)

    def cost_in(self, quote_asset: str) -> Decimal:
        return D(350)

    def stop_streak(self) -> tuple[int, datetime | None]:
        self.reads.append("stop_streak")
        return 0, None


def policy(limits: RiskLimits) -> tuple[RiskLimitsPolicy, Exposure]:
    risk = RiskLimitsPolicy(None, EventBus(), PriceBook(None), lambda: NOW)  # type: ignore[arg-type]
    exposure = Exposure()
    risk.watch(exposure)
    risk.limits = limits
    return risk, exposure


def test_without_limits_nothing_of_the_exposure_is_read() -> None:
    risk, exposure = policy(RiskLimits())
    risk.check(BUY, RiskContext(rules=RULES, now=NOW))
    assert exposure.reads == []


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            RiskLimits(daily_loss_limit=D(50)),
            "risk limit daily_loss_limit: the loss of 60 (UTC_DAY) reached the limit of 50",
        ),
        (
            RiskLimits(max_position_quote=D(100)),
            "risk limit max_position_quote: the order is worth 300.00 USDT, above the limit of 100",
        ),
        (
            RiskLimits(max_open_positions=2),
            "risk limit max_open_positions: 2 positions are open, the limit is 2",
        ),
        (
            RiskLimits(max_total_exposure_quote=D(500)),
            "risk limit max_total_exposure_quote: open exposure 350 plus this order's 300.00 "
            "is 650.00, above the limit of 500",
        ),
        (
            RiskLimits(max_total_exposure_quote=D(1000), max_symbol_share=D("0.3")),
            "risk limit max_symbol_share: BTCUSDT would hold 400.00 (100 open plus this "
            "order's 300.00), above 0.3 of the exposure budget 1000 = 300.0",
        ),
    ],
)
def test_each_limit_names_itself_and_the_figures(limits: RiskLimits, message: str) -> None:
    risk, _ = policy(limits)
    with pytest.raises(RiskRejected) as caught:
        risk.check(BUY, RiskContext(rules=RULES, now=NOW))
    assert str(caught.value) == message


def test_the_entering_position_and_empty_ones_do_not_count_as_open() -> None:
    risk, exposure = policy(RiskLimits(max_open_positions=3))
    risk.check(BUY, RiskContext(rules=RULES, now=NOW))  # 2 holding (1 and 3), limit 3
    entering = replace(BUY, origin_ref="position:1")
    risk.limits = RiskLimits(max_open_positions=2)
    risk.check(entering, RiskContext(rules=RULES, now=NOW))  # position 1 is the one entering
    assert "pnl_today" not in exposure.reads
