"""Place-and-ack latency of MexcClient.place_order against a bare signed aiohttp POST.

Starts mexcsim in a subprocess with rate limits off, then interleaves the two (so both share the
same noise): the client's full path (params, signing, request, error check, typed ack) and the
minimum any client must do (format the query, HMAC it, POST on a keep-alive session, read the
body). LIMIT BUYs far below the market rest on the book; they are cancelled in bulk before the
account's 500-open-orders cap. Prints p50/p99 of each and the overhead ratio (goal: <= 1.15).

Usage: .venv/bin/python benchmarks/order_roundtrip.py [--n 500]
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import time
from decimal import Decimal

import aiohttp

from harness import main_with_simulator, percentile
from mexcbot.domain.orders import OrderSide, OrderType
from mexcbot.mexc.rest import MexcClient, MexcClientConfig

API_KEY = "bench-key"
API_SECRET = "bench-secret"
SYMBOL = "BTCUSDT"
PRICE = Decimal("30000.00")  # far below the simulated market: the orders rest
QUANTITY = Decimal("0.001")
CANCEL_EVERY = 200  # each side; 2 x 200 < 500 open orders
WARMUP = 50


async def bare_post(session: aiohttp.ClientSession, url: str, client_order_id: str) -> None:
    query = (
        f"symbol={SYMBOL}&side=BUY&type=LIMIT&quantity={QUANTITY}&price={PRICE}"
        f"&newClientOrderId={client_order_id}&recvWindow=5000&timestamp={int(time.time() * 1000)}"
    )
    signature = hmac.new(API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    async with session.post(f"{url}/api/v3/order?{query}&signature={signature}") as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"bare POST failed: {response.status} {body[:200]!r}")


async def run(n: int, url: str) -> None:
    config = MexcClientConfig(
        api_key=API_KEY, api_secret=API_SECRET, base_url=url, rate_limit=False
    )
    headers = {"X-MEXC-APIKEY": API_KEY, "Content-Type": "application/json"}
    client_ms: list[float] = []
    bare_ms: list[float] = []
    async with MexcClient(config) as client, aiohttp.ClientSession(headers=headers) as session:
        for i in range(n + WARMUP):
            if i % CANCEL_EVERY == 0:
                await client.cancel_open_orders(SYMBOL)
            started = time.perf_counter()
            await client.place_order(
                SYMBOL, OrderSide.BUY, OrderType.LIMIT, quantity=QUANTITY, price=PRICE,
                client_order_id=f"c{i}",
            )  # fmt: skip
            middle = time.perf_counter()
            await bare_post(session, url, f"b{i}")
            ended = time.perf_counter()
            if i >= WARMUP:
                client_ms.append((middle - started) * 1000)
                bare_ms.append((ended - middle) * 1000)
        await client.cancel_open_orders(SYMBOL)
    c50, c99 = percentile(client_ms, 0.5), percentile(client_ms, 0.99)
    b50, b99 = percentile(bare_ms, 0.5), percentile(bare_ms, 0.99)
    print(f"orders per side: {n} (after {WARMUP} warm-up), LIMIT BUY resting, rate limits off")
    print(f"bare signed aiohttp POST  p50 {b50:.3f} ms  p99 {b99:.3f} ms")
    print(f"MexcClient.place_order    p50 {c50:.3f} ms  p99 {c99:.3f} ms")
    ratio = statistics.median(client_ms) / statistics.median(bare_ms)
    print(f"ratio client/bare: p50 {ratio:.3f}  p99 {c99 / b99:.3f}  (goal <= 1.15)")


def main() -> None:
    description = __doc__.splitlines()[0] if __doc__ else None
    main_with_simulator(description, 500, API_KEY, API_SECRET, run)


if __name__ == "__main__":
    main()
