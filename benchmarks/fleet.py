"""Four processes, one API key: sharing the budget through Redis vs going it alone.

The mock relay allows 40 req/s with burst 5 per key; four worker processes submit N/4 requests each.
Modes, defaults first: ``SoraClient()`` as it comes in each worker (the default adaptive limiter, each
on its own); then the tuned ones, which need the limit known: a shared ``RedisRateLimiter`` (40/s for
the fleet), each worker with a local RateLimit of the whole 40/s (four times over), and each with a
quarter (10/s). Reported: makespan against the ideal (N - 5) / 40, answers of 429, and submissions
that failed.

    python -m benchmarks.fleet [--requests 800]      # needs redis-server on the PATH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks._common import print_table, write_result
from sora_async.mock import MockRelay

MODES = ("adaptive-each", "redis", "local-each-told-the-total", "local-split")
LABELS = {
    "adaptive-each": "SoraClient() in each (default)",
    "redis": "shared RedisRateLimiter, 40/s (tuned)",
    "local-each-told-the-total": "RateLimit(40) in each (tuned, wrong)",
    "local-split": "RateLimit(10) in each (tuned)",
}
WORKERS, RATE, BURST = 4, 40, 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_mode(mode: str, redis_url: str, n: int) -> dict[str, Any]:
    async with MockRelay(rate=RATE, burst=BURST, retry_after="seconds") as relay:
        command = [
            sys.executable,
            "-m",
            "benchmarks._fleet_worker",
            mode,
            redis_url,
            relay.url,
            str(n // WORKERS),
        ]
        workers = [
            await asyncio.create_subprocess_exec(*command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            for _ in range(WORKERS)
        ]
        for worker in workers:
            assert worker.stdout is not None
            await worker.stdout.readline()  # ready
        started = time.perf_counter()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        outputs = [await asyncio.wait_for(w.communicate(), 600) for w in workers]
        makespan = time.perf_counter() - started
        counts = [json.loads(out.decode().splitlines()[-1]) for out, _ in outputs]
        return {
            "mode": LABELS[mode],
            "makespan_s": round(makespan, 2),
            "vs_ideal": round(makespan / ((n - BURST) / RATE), 3),
            "answers_429": relay.stats.rate_limited,
            "ok": sum(c["ok"] for c in counts),
            "failed": sum(c["failed"] for c in counts),
            "duplicated": sum(v - 1 for v in relay.stats.duplicates.values()),
        }


async def run(n: int) -> list[dict[str, Any]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        redis = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            return [await run_mode(mode, f"redis://127.0.0.1:{port}/0", n) for mode in MODES]
        finally:
            redis.terminate()
            redis.wait()


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=800)
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.requests))
    print(f"fleet: {WORKERS} processes, one key, relay {RATE}/s burst {BURST}, N={args.requests}")
    print_table(rows, ["mode", "makespan_s", "vs_ideal", "answers_429", "ok", "failed", "duplicated"])
    write_result("fleet", {"requests": args.requests, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
