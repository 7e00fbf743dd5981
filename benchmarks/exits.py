"""Exit evaluation speed: recorded book ticks through the exit rules, next to decode only.

1,000 open positions over 200 symbols (each with a %-stop, a trailing stop and a two-level
take-profit ladder) see a recorded random walk of best bid/ask pushes (MEXC protobuf frames,
encoded once). The decode-only loop decodes each frame and reads its bid; the exit loop does the
same, then skips the tick when the symbol's `TickScreen` says it cannot move any position
(the screen records the symbol's high and low for the excursions), and otherwise, like the
exit monitor, settles those excursions into the symbol's positions and shows the bid to every
open position of the symbol (`Position.observe` + `decide`), completing each decided exit at
once (begin, fill, finish) so the ladder advances. The excursions still pending at the end are
settled inside the timed run.
Ticks/s is the best of the rounds; the p99 is of each tick's decode-to-decision time.

Run: ``.venv/bin/python benchmarks/exits.py [--ticks N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from harness import percentile
from mexcbot.domain.exit_decisions import decide
from mexcbot.domain.exits import ExitPlan, StopLoss, TakeProfitLevel, TrailingStop
from mexcbot.domain.orders import OrderSide, OrderType
from mexcbot.domain.positions import Position, PositionFill, PositionType
from mexcbot.domain.symbols import SymbolRules, SymbolStatus
from mexcbot.engine.positions.screen import TickScreen
from mexcbot.mexc.streams import BookTickerUpdate, decode_push
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

SYMBOLS = 200
POSITIONS = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = ExitPlan(
    stop_loss=StopLoss(percent=Decimal(8)),
    trailing=TrailingStop(callback_percent=Decimal(3), activation_percent=Decimal(6)),
    take_profits=(
        TakeProfitLevel(fraction=Decimal("0.3"), percent=Decimal(4)),
        TakeProfitLevel(fraction=Decimal("0.3"), percent=Decimal(8)),
    ),
)


def _rules(symbol: str) -> SymbolRules:
    return SymbolRules(
        symbol=symbol,
        base_asset=symbol[:-4],
        quote_asset="USDT",
        status=SymbolStatus.ONLINE,
        spot_trading_allowed=True,
        quantity_precision=4,
        price_precision=4,
        min_quantity=Decimal("0.0001"),
        min_notional=Decimal(1),
        max_notional=None,
        min_notional_market=Decimal(1),
        max_notional_market=None,
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
    )


def _book(symbols: list[str]) -> dict[str, list[Position]]:
    book: dict[str, list[Position]] = defaultdict(list)
    for n in range(POSITIONS):
        symbol = symbols[n % len(symbols)]
        position = Position(
            symbol=symbol,
            base_asset=symbol[:-4],
            quote_asset="USDT",
            type=PositionType.MANUAL,
            opened_at=T0,
            id=n + 1,
        )
        position.apply_fill(
            PositionFill(
                "entry", f"e{n}", OrderSide.BUY, Decimal(100), Decimal(10), Decimal(0), "USDT", T0
            )
        )
        position.set_exits(PLAN)
        book[symbol].append(position)
    return book


def _ticks(symbols: list[str], n: int, seed: int = 11) -> list[bytes]:
    """A random walk per symbol around 100 (steps of 0.1 or 0.2 %), as aggre.bookTicker frames."""
    rng = random.Random(seed)
    mid = dict.fromkeys(symbols, 10_000)  # in hundredths
    out = []
    for _ in range(n):
        symbol = rng.choice(symbols)
        mid[symbol] = max(100, mid[symbol] + rng.choice((-20, -10, 10, 20, 0)))
        push = PushDataV3ApiWrapper(symbol=symbol, sendTime=1_754_735_110_559)
        push.channel = f"spot@public.aggre.bookTicker.v3.api.pb@100ms@{symbol}"
        t = push.publicAggreBookTicker
        bid = Decimal(mid[symbol]) / 100
        t.bidPrice, t.bidQuantity = str(bid), "12.5"
        t.askPrice, t.askQuantity = str(bid + Decimal("0.01")), "8.25"
        out.append(push.SerializeToString())
    return out


def decode_only(frames: list[bytes]) -> float:
    started = time.perf_counter()
    for frame in frames:
        event = decode_push(frame)
        assert isinstance(event, BookTickerUpdate)
        event.symbol  # noqa: B018 - read like the exit loop does
        event.quote.bid_price  # noqa: B018
    return len(frames) / (time.perf_counter() - started)


def with_exits(
    frames: list[bytes], book: dict[str, list[Position]], rules: dict[str, SymbolRules]
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    decisions = 0
    screen = TickScreen(lambda symbol: book[symbol])
    clock = time.perf_counter
    started = clock()
    for frame in frames:
        tick_start = clock()
        event = decode_push(frame)
        assert isinstance(event, BookTickerUpdate)
        symbol, bid = event.symbol, event.quote.bid_price
        assert bid is not None
        if screen.is_quiet(symbol, bid):
            latencies.append(clock() - tick_start)
            continue
        screen.settle(symbol)
        symbol_rules = rules[symbol]
        moved = False
        for position in book[symbol]:
            moved = position.observe(bid) or moved
            decision = decide(position, bid, symbol_rules)
            if decision is not None:
                decisions += 1
                cid = f"x{decisions}"
                position.begin_exit(decision, cid)
                position.apply_fill(
                    PositionFill(
                        cid, cid, OrderSide.SELL, bid, decision.quantity, Decimal(0), "USDT", T0
                    )
                )
                position.finish_exit(cid, executed=decision.quantity, reason=None)
                moved = True
        if moved:
            screen.invalidate(symbol)
        latencies.append(clock() - tick_start)
    for symbol in screen.pending_symbols():
        screen.settle(symbol)
    return len(frames) / (clock() - started), latencies, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    symbols = [f"C{n:03d}USDT" for n in range(SYMBOLS)]
    rules = {symbol: _rules(symbol) for symbol in symbols}
    frames = _ticks(symbols, args.ticks)
    bare, exits, p99s, decided = [], [], [], 0
    for _ in range(args.rounds):
        bare.append(decode_only(frames))
        rate, latencies, decided = with_exits(frames, _book(symbols), rules)
        exits.append(rate)
        p99s.append(percentile(latencies, 0.99) * 1000)
    b, e = max(bare), max(exits)
    print(
        f"{POSITIONS} positions over {SYMBOLS} symbols, {len(frames)} ticks, best of {args.rounds}"
    )
    print(f"decode only:           {b:12,.0f} ticks/s")
    print(f"decode + exit rules:   {e:12,.0f} ticks/s ({decided} exits decided per run)")
    print(
        f"exits: {e:,.0f} ticks/s, ratio {e / b:.2f} of the decode-only loop, "
        f"p99 tick to decision {min(p99s):.3f} ms"
    )


if __name__ == "__main__":
    main()
