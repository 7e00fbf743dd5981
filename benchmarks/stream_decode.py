"""Stream decode speed: the client's push decoder against a bare protobuf parse, same frames.

A realistic mix for one liquid symbol at 100 ms aggregation (plus the account's own pushes) is
encoded once with the project's generated code; then each round times a bare
``PushDataV3ApiWrapper.FromString`` over every frame and ``mexcbot.mexc.streams.decode_push`` over
the same frames, alternating so both see the same machine state. The best round of each counts.
The bare parse is a full parse (upb parses the body eagerly: a corrupt body fails
``FromString``), but it does less than any client must: it never asks which body the frame carries.
So a second bare figure adds that one question (``WhichOneof("body")``), informational.
A third figure reads every field of every decoded event (what a consumer that uses everything
pays); it is reported, not part of the ratio.

Run: ``.venv/bin/python benchmarks/stream_decode.py [--frames N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from decimal import Decimal

from mexcbot.mexc.streams import PushEvent, decode_push
from mexcbot.mexc.streams.events import event_fields
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

SYMBOL = "BTCUSDT"


def _price(rng: random.Random) -> str:
    return str(Decimal(rng.randint(11_000_000, 11_900_000)) / 100)


def _qty(rng: random.Random) -> str:
    return str(Decimal(rng.randint(1, 500_000)) / 100_000_000 * 1000)


def _frame(rng: random.Random, kind: str, version: int, now: int) -> PushDataV3ApiWrapper:
    push = PushDataV3ApiWrapper(symbol=SYMBOL, sendTime=now)
    if kind == "depth":
        push.channel = f"spot@public.aggre.depth.v3.api.pb@100ms@{SYMBOL}"
        body = push.publicAggreDepths
        body.eventType = "spot@public.aggre.depth.v3.api.pb@100ms"
        for side in (body.bids, body.asks):
            for _ in range(rng.randint(1, 12)):
                qty = "0" if rng.random() < 0.3 else _qty(rng)
                side.add(price=_price(rng), quantity=qty)
        body.fromVersion, body.toVersion = str(version), str(version + rng.randint(0, 9))
        body.lastOrderCreateTime = now - 3
    elif kind == "deals":
        push.channel = f"spot@public.aggre.deals.v3.api.pb@100ms@{SYMBOL}"
        body_d = push.publicAggreDeals
        body_d.eventType = "spot@public.aggre.deals.v3.api.pb@100ms"
        for _ in range(rng.randint(1, 6)):
            body_d.deals.add(
                price=_price(rng),
                quantity=_qty(rng),
                tradeType=rng.choice((1, 2)),
                time=now - rng.randint(0, 99),
                tradeId=str(rng.randint(10**17, 10**18)),
            )
    elif kind == "ticker":
        push.channel = f"spot@public.aggre.bookTicker.v3.api.pb@100ms@{SYMBOL}"
        t = push.publicAggreBookTicker
        t.bidPrice, t.bidQuantity, t.askPrice, t.askQuantity = (
            _price(rng),
            _qty(rng),
            _price(rng),
            _qty(rng),
        )
        t.version, t.lastOrderCreateTime = str(version), now - 5
    elif kind == "kline":
        push.channel = f"spot@public.kline.v3.api.pb@{SYMBOL}@Min1"
        push.symbolId, push.createTime = "2fb942154ef44a4ab2ef98c8afb6a4a7", now
        k = push.publicSpotKline
        k.interval, k.windowStart, k.windowEnd = "Min1", now // 60000 * 60, now // 60000 * 60 + 60
        k.openingPrice, k.closingPrice = _price(rng), _price(rng)
        k.highestPrice, k.lowestPrice, k.volume, k.amount = (
            _price(rng),
            _price(rng),
            _qty(rng),
            "15815.77",
        )
    elif kind == "order":
        push.channel = "spot@private.orders.v3.api.pb"
        o = push.privateOrders
        o.id, o.clientId, o.price, o.quantity = (
            "C02__5" + str(version),
            "bot-1",
            _price(rng),
            "0.01",
        )
        o.avgPrice, o.orderType, o.tradeType, o.status = _price(rng), 1, 1, 3
        o.remainQuantity, o.cumulativeQuantity, o.cumulativeAmount = "0.004", "0.006", "700.1"
        o.lastDealQuantity, o.createTime = "0.002", now - 1000
    elif kind == "fill":
        push.channel = "spot@private.deals.v3.api.pb"
        d = push.privateDeals
        d.price, d.quantity, d.amount, d.tradeType = _price(rng), "0.002", "233.5", 1
        d.tradeId, d.orderId, d.clientOrderId = str(version), "C02__5" + str(version), "bot-1"
        d.feeAmount, d.feeCurrency, d.time = "0.000002", "BTC", now
    else:
        push.channel = "spot@private.account.v3.api.pb"
        push.ClearField("symbol")
        push.createTime = now
        a = push.privateAccount
        a.vcoinName, a.coinId, a.type, a.time = (
            "USDT",
            "128f589271cb4951b03e71e6323eb7be",
            "ENTRUST",
            now,
        )
        a.balanceAmount, a.balanceAmountChange = "10000.5", "-233.5"
        a.frozenAmount, a.frozenAmountChange = "0", "0"
    return push


MIX = (("depth", 40), ("deals", 30), ("ticker", 20), ("kline", 5), ("order", 2), ("fill", 2))
MIX += (("account", 1),)


def frames(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    now, version, out = 1_754_735_110_559, 1_000_000, []
    for _ in range(n):
        version += 10
        now += 7
        out.append(_frame(rng, rng.choice(kinds), version, now).SerializeToString())
    return out


def _rate(run: Callable[[list[bytes]], object], data: list[bytes]) -> float:
    started = time.perf_counter()
    run(data)
    return len(data) / (time.perf_counter() - started)


def _bare(data: list[bytes]) -> None:
    parse = PushDataV3ApiWrapper.FromString
    for frame in data:
        parse(frame)


def _bare_dispatch(data: list[bytes]) -> None:
    parse, which = PushDataV3ApiWrapper.FromString, PushDataV3ApiWrapper.WhichOneof
    for frame in data:
        which(parse(frame), "body")


def _client(data: list[bytes]) -> None:
    decode = decode_push
    for frame in data:
        decode(frame)


def _client_all_fields(data: list[bytes]) -> None:
    names: dict[type, list[str]] = {}
    for frame in data:
        event: PushEvent = decode_push(frame)
        cls = type(event)
        for name in names.get(cls) or names.setdefault(cls, event_fields(cls)):
            getattr(event, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    data = frames(args.frames)
    size = sum(map(len, data)) / len(data)
    bare, dispatch, client, full = [], [], [], []
    for _ in range(args.rounds):
        bare.append(_rate(_bare, data))
        dispatch.append(_rate(_bare_dispatch, data))
        client.append(_rate(_client, data))
        full.append(_rate(_client_all_fields, data))
    b, d, c, f = max(bare), max(dispatch), max(client), max(full)
    print(f"frames: {len(data)} (mean {size:.0f} bytes), best of {args.rounds} rounds")
    print(f"bare FromString:           {b:12,.0f} frames/s")
    print(f"bare + WhichOneof(body):   {d:12,.0f} frames/s (ratio {d / b:.2f}, informational)")
    print(f"client / (bare + WhichOneof): {c / d:.2f} (informational)")
    print(f"client decode_push:        {c:12,.0f} frames/s")
    print(f"client, every field read:  {f:12,.0f} frames/s (ratio {f / b:.2f}, informational)")
    print(f"stream_decode: ratio {c / b:.2f} (client / bare frames per second)")


if __name__ == "__main__":
    main()
