"""How long a fill takes to reach a client of the bot's live API, next to the exchange's own push.

One run, one process, one event loop: the bot in paper mode (``start_bot``, its embedded mexcsim,
a temporary SQLite file), and two readers that wait for the same fill:

- raw: a bare websocket reader of mexcsim's ``/ws?listenKey=...`` subscribed to MEXC's private
  deals channel (``spot@private.deals.v3.api.pb``); it times the first push frame;
- end to end: a client of the bot's ``/api/v1/ws`` subscribed to ``fills``; it times the ``fills``
  update of the order.

Each sample is a MARKET buy through the bot's REST API (``POST /api/v1/trades/orders``); both
readers are timed from just before that request, so the difference of their p50s is what the bot
adds over the exchange's raw push (REST placement is in both).

Until the engine follows the user stream (being built in parallel), fills reach the bot by REST
only. For a MARKET order that is the placement itself: it reads the order back (with its fills)
before it answers the POST, so today the fill reaches the API client about when the POST's
response does, and the end-to-end number is the whole REST placement plus its read-back (larger
than it will be). Should a fill not reach the API client within ``--stream-wait`` seconds of the
response, the benchmark reads the order back (``GET /api/v1/trades/orders/{symbol}/{id}``, which
merges its fills, as a REST client would) and counts it, so the run ends correctly whichever way
the fill travels. Once the engine follows the user stream, the fill is published from the push,
before the placement's read-back, and the difference shrinks to the bot's own cost.

    .venv/bin/python benchmarks/fill_to_client.py [--n 50] [--stream-wait 0.2] [--interval 0.25]

The last line is ``fill_to_client: end-to-end p50 X ms, bot adds p50 Y ms over the raw push``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from harness import percentile
from mexcbot.app import Bot, start_bot
from mexcbot.config import LogFormat, Mode, Settings
from mexcbot.paper import PAPER_API_KEY
from mexcbot.store import TokenRole
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

PRIVATE_DEALS = "spot@private.deals.v3.api.pb"
SYMBOL = "BTCUSDT"


@dataclass
class Sample:
    raw_ms: float
    end_to_end_ms: float
    read_back: bool


class FillReader:
    """One websocket's arrival time of each order's first fill, by client order id; a subclass
    says which frames carry a fill and whose it is (`client_order_id`)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.fills: dict[str, asyncio.Future[float]] = {}

    def expect(self, client_order_id: str) -> asyncio.Future[float]:
        return self.fills.setdefault(client_order_id, asyncio.get_running_loop().create_future())

    def client_order_id(self, message: aiohttp.WSMessage) -> str | None:
        raise NotImplementedError

    async def run(self) -> None:
        async for message in self.ws:
            arrived = time.perf_counter()
            client_order_id = self.client_order_id(message)
            if client_order_id is not None:
                future = self.expect(client_order_id)
                if not future.done():
                    future.set_result(arrived)


class RawPushReader(FillReader):
    """mexcsim's private deals push, read bare (decoding only the client order id, to match
    the frame to its order)."""

    def client_order_id(self, message: aiohttp.WSMessage) -> str | None:
        if message.type is not aiohttp.WSMsgType.BINARY:
            return None
        push = PushDataV3ApiWrapper.FromString(message.data)
        return push.privateDeals.clientOrderId if push.HasField("privateDeals") else None


class ApiFillReader(FillReader):
    """The bot's live API: its ``fills`` updates."""

    def client_order_id(self, message: aiohttp.WSMessage) -> str | None:
        if message.type is not aiohttp.WSMsgType.TEXT:
            return None
        data = json.loads(message.data)
        if data["type"] == "update" and data["topic"] == "fills":
            return str(data["data"]["fill"]["client_order_id"])
        return None


async def one_fill(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    raw: RawPushReader,
    api: ApiFillReader,
    stream_wait: float,
) -> Sample:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quote_amount": "10"}
    started = time.perf_counter()
    async with http.post(f"{base}/api/v1/trades/orders", json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        client_order_id = (await response.json())["client_order_id"]
    fill = api.expect(client_order_id)
    read_back = False
    try:
        await asyncio.wait_for(asyncio.shield(fill), timeout=stream_wait)
    except TimeoutError:
        read_back = True  # today's path: the bot learns of the fill when the order is read
        url = f"{base}/api/v1/trades/orders/{SYMBOL}/{client_order_id}"
        async with http.get(url, headers=headers) as response:
            assert response.status == 200, await response.text()
    arrived = await asyncio.wait_for(fill, timeout=10)
    pushed = await asyncio.wait_for(raw.expect(client_order_id), timeout=10)
    return Sample((pushed - started) * 1000, (arrived - started) * 1000, read_back)


async def run(n: int, stream_wait: float, interval: float) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(
            mode=Mode.PAPER,
            database_url=f"sqlite+aiosqlite:///{Path(workdir) / 'bot.db'}",
            api_port=0,
            paper_state_file="",
            reconcile_interval=3600,
            log_format=LogFormat.JSON,
            log_level="WARNING",
            api_rate_limit_per_minute=1_000_000,
        )
        async with start_bot(settings) as bot:
            await _ready(bot)
            samples = await _measure(bot, n, stream_wait, interval)
    _report(samples)


async def _measure(bot: Bot, n: int, stream_wait: float, interval: float) -> list[Sample]:
    assert bot.paper is not None
    _, token = await bot.tokens.create("bench", TokenRole.TRADE, actor="benchmark")
    listen_key = str(bot.paper.exchange.create_listen_key(PAPER_API_KEY)["listenKey"])
    base = bot.started.api_url
    sim_ws = bot.paper.url.replace("http://", "ws://", 1) + f"/ws?listenKey={listen_key}"
    api_ws = base.replace("http://", "ws://", 1) + "/api/v1/ws"
    async with aiohttp.ClientSession() as http:
        raw_ws = await http.ws_connect(sim_ws)
        await raw_ws.send_json({"method": "SUBSCRIPTION", "params": [PRIVATE_DEALS]})
        bot_ws = await http.ws_connect(api_ws, headers={"Authorization": f"Bearer {token}"})
        await bot_ws.send_json({"type": "subscribe", "topics": ["fills"]})
        raw, api = RawPushReader(raw_ws), ApiFillReader(bot_ws)
        readers = [asyncio.create_task(raw.run()), asyncio.create_task(api.run())]
        await asyncio.sleep(0.3)  # both subscriptions in place
        try:
            for _ in range(3):  # warm-up: first connections, caches
                await one_fill(http, base, token, raw, api, stream_wait)
            samples = []
            for _ in range(n):
                samples.append(await one_fill(http, base, token, raw, api, stream_wait))
                await asyncio.sleep(interval)  # stay inside MEXC's order budget (paper enforces it)
            return samples
        finally:
            for task in readers:
                task.cancel()
            await raw_ws.close()
            await bot_ws.close()


async def _ready(bot: Bot) -> None:
    deadline = time.monotonic() + 30
    while not bot.execution.ready:
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not become ready")
        await asyncio.sleep(0.05)


def _report(samples: list[Sample]) -> None:
    raw = [s.raw_ms for s in samples]
    end_to_end = [s.end_to_end_ms for s in samples]
    added = [s.end_to_end_ms - s.raw_ms for s in samples]
    read_back = sum(s.read_back for s in samples)

    def line(name: str, values: list[float]) -> str:
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        return f"{name:<28} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms"

    print(f"{len(samples)} MARKET buys through the REST API, each filled at once on mexcsim")
    print(line("raw push (mexcsim /ws)", raw))
    print(line("end to end (bot /api/v1/ws)", end_to_end))
    print(line("bot adds (per sample)", added))
    print(f"fills that reached the API client only after a GET read-back: {read_back}")
    e2e_p50 = percentile(end_to_end, 0.5)
    adds_p50 = e2e_p50 - percentile(raw, 0.5)
    print(
        f"fill_to_client: end-to-end p50 {e2e_p50:.2f} ms, "
        f"bot adds p50 {adds_p50:.2f} ms over the raw push"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=50, help="fills to time (default 50)")
    parser.add_argument(
        "--stream-wait",
        type=float,
        default=0.2,
        help="seconds to wait for a fill at the API client before reading the order back by "
        "REST (default 0.2)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.25,
        help="seconds between orders (default 0.25): back to back, the 51st order of a burst "
        "waits ~10 s for MEXC's rate budget, which the paper exchange enforces",
    )
    args = parser.parse_args()
    asyncio.run(run(args.n, args.stream_wait, args.interval))


if __name__ == "__main__":
    main()
