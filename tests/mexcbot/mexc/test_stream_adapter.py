"""The market stream's pushes in the port's terms (mexc/stream_adapter.py)."""

from __future__ import annotations

from decimal import Decimal

from mexcbot.engine.ports import PriceTick
from mexcbot.mexc.stream_adapter import price_updates_of
from mexcbot.mexc.streams import decode_push
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper


def _deals(*trades: tuple[str, int]) -> bytes:
    push = PushDataV3ApiWrapper(
        channel="spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT"
    )
    for price, at in trades:
        push.publicAggreDeals.deals.add(price=price, quantity="0.5", tradeType=1, time=at)
    return push.SerializeToString()


def test_the_last_price_is_the_newest_trade_and_of_one_millisecond_the_last_pushed() -> None:
    frame = _deals(("100.1", 1_000), ("100.3", 1_002), ("100.2", 1_002), ("99.9", 999))
    (tick,) = price_updates_of(decode_push(frame))
    assert isinstance(tick, PriceTick)
    assert tick.last == Decimal("100.2")
    assert tick.volume == Decimal("2.0")
