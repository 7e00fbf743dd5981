"""What durability costs per order: SimExchange.place_order with the command journal vs without.

Interleaved in one process (rounds of N orders each, alternating, so both share the same noise):
(a) place_order on a SimExchange that records nothing (the baseline), (b) the same with every
command appended to a `CommandJournal` in a temp directory (os.write per command, what a SIGKILL
cannot lose), (c) the same with fsync after every append (power-loss durable). Orders are LIMIT
buys far below the market, so they rest; open orders are cancelled outside the timed section. For
comparison it also times what today's save loop paid: one full snapshot (world + JSON encode) of
the same exchange, which that loop took about once a second while anything changed.

    .venv/bin/python benchmarks/sim_journal.py [--n 400] [--rounds 5]

Measured on the shared 2-core box (other suites running, +-20 %), n=400, 5 rounds, two runs:
  baseline 0.019-0.025 ms/order; journal 0.028-0.031 ms/order (ratio 1.24-1.55x, i.e.
  +0.006-0.010 ms: one os.write of ~200 bytes per command); journal+fsync 0.28-0.33 ms/order
  (ratio ~15x, one disk flush); one snapshot of the same exchange (400 resting user orders, six
  markets; world + document, before JSON encoding) 13-16 ms, which the old save loop paid about
  once a second while anything changed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mexcsim import SimExchange
from mexcsim.state.document import encode_world
from mexcsim.state.journal import CommandJournal

API_KEY = "bench"


def fresh_exchange() -> SimExchange:
    exchange = SimExchange(seed=3)
    exchange.create_account(API_KEY, "secret")
    return exchange


def order(i: int) -> dict[str, str]:
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": str(20000 + i % 500),
        "newClientOrderId": f"b{i}-{time.perf_counter_ns()}",
    }


def timed_round(exchange: SimExchange, n: int) -> float:
    """Milliseconds per order over `n` placements (cancelled afterwards, untimed)."""
    orders = [order(i) for i in range(n)]
    started = time.perf_counter()
    for params in orders:
        exchange.place_order(API_KEY, params)
    elapsed = time.perf_counter() - started
    exchange.cancel_open_orders(API_KEY, {"symbol": "BTCUSDT"})
    return elapsed * 1000 / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        plain = fresh_exchange()
        journaled = fresh_exchange()
        journaled.record_commands(CommandJournal(Path(directory, "j.journal")).append)
        synced = fresh_exchange()
        synced.record_commands(CommandJournal(Path(directory, "s.journal"), fsync=True).append)
        results: dict[str, list[float]] = {"baseline": [], "journal": [], "journal+fsync": []}
        for _ in range(args.rounds):
            results["baseline"].append(timed_round(plain, args.n))
            results["journal"].append(timed_round(journaled, args.n))
            results["journal+fsync"].append(timed_round(synced, max(20, args.n // 10)))
        for exchange in (plain,):
            for i in range(args.n):
                exchange.place_order(API_KEY, order(i))
        snapshots = []
        for _ in range(5):
            started = time.perf_counter()
            encode_world(plain.snapshot())
            snapshots.append((time.perf_counter() - started) * 1000)
    base = statistics.median(results["baseline"])
    for name, samples in results.items():
        value = statistics.median(samples)
        print(f"{name:14s} {value:8.4f} ms/order  ratio {value / base:6.2f}x")
    print(f"snapshot       {statistics.median(snapshots):8.2f} ms (the old save loop, per save)")


if __name__ == "__main__":
    main()
