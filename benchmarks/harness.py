"""What every benchmark here shares: a mexcsim subprocess and percentiles.

The benchmarks run as plain commands (`.venv/bin/python benchmarks/<name>.py`), so this module is
imported by its bare name from the benchmarks directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def start_simulator(
    api_key: str, api_secret: str, *, rate_limits: bool = False, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], str]:
    """mexcsim on a free loopback port (without rate limits unless asked), with one funded
    account; returns the process and its base URL once it listens. The caller kills it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "mexcsim", "--port", "0", *extra]
    if not rate_limits:
        command.append("--no-rate-limits")
    command += ["--api-key", api_key, "--api-secret", api_secret]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"mexcsim listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise RuntimeError("mexcsim did not start")


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at `fraction` (0.5 = median) of the sorted samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main_with_simulator(
    description: str | None,
    default_n: int,
    api_key: str,
    api_secret: str,
    run: Callable[[int, str], Coroutine[Any, Any, None]],
) -> None:
    """The command line every benchmark shares: `--n` samples per side, a simulator subprocess
    for the duration of `run(n, simulator_url)`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--n", type=int, default=default_n, help=f"orders per side (default {default_n})"
    )
    args = parser.parse_args()
    process, url = start_simulator(api_key, api_secret)
    try:
        asyncio.run(run(args.n, url))
    finally:
        process.kill()
        process.wait(timeout=10)
