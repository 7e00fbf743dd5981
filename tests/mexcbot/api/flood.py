"""A flooding client, run as its own process by the load test: CONNECTIONS keep-alive connections
from 127.0.0.2 (another client address than the test's 127.0.0.1) sending, in turn, requests with
a bad token, huge announced bodies without a token, and huge announced bodies with a valid token,
as fast as the server answers, until stdin closes. Prints one JSON line of counts at the end.

It runs at a lower CPU priority (nice 10): on the 2-core test machine the flooder shares the
bot's cores, and without it the measured latency is the kernel handing the bot's core to the
flooder, not the bot's handling of the flood (a real attacker spends its own CPU, not ours).

    python flood.py <port> <valid token>
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys

CONNECTIONS = 8
SOURCE = ("127.0.0.2", 0)


def _requests(token: str) -> list[bytes]:
    host = "Host: 127.0.0.1\r\n"
    return [
        f"GET /api/v1/status HTTP/1.1\r\n{host}Authorization: Bearer mxb_flood\r\n\r\n".encode(),
        (
            f"POST /api/v1/trades/orders HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
            "Content-Length: 100000000\r\n\r\n" + "{" * 4096
        ).encode(),
        (
            f"POST /api/v1/trades/orders HTTP/1.1\r\n{host}Authorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        ).encode(),
    ]


async def _worker(port: int, requests: list[bytes], counts: collections.Counter[str]) -> None:
    turn = 0
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=SOURCE)
        except OSError:
            counts["connect_error"] += 1
            await asyncio.sleep(0.01)
            continue
        try:
            while True:
                writer.write(requests[turn % len(requests)])
                turn += 1
                status = (await reader.readline()).split(b" ")[1].decode()
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    close = close or (name.lower() == "connection" and "close" in value)
                await reader.readexactly(length)
                counts[status] += 1
                if close:
                    break
        except (OSError, IndexError, asyncio.IncompleteReadError):
            counts["dropped"] += 1
        finally:
            writer.close()


async def main(port: int, token: str) -> None:
    counts: collections.Counter[str] = collections.Counter()
    requests = _requests(token)
    workers = [asyncio.create_task(_worker(port, requests, counts)) for _ in range(CONNECTIONS)]
    print("flooding", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    print(json.dumps(dict(counts)), flush=True)


if __name__ == "__main__":
    os.nice(10)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
