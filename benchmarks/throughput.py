"""Throughput of create_video: sora_async (retry policy and a high rate limit armed) vs a raw aiohttp loop.

Both clients send the same POSTs to the same local server (its own process, so the client's CPU is
what is measured) at the same concurrency, in interleaved rounds; the median of each and their ratio
are printed and written to ``benchmarks/results/throughput.json``.

    python -m benchmarks.throughput [--requests 4000] [--rounds 5] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import sora_async as sa

RESULTS = Path(__file__).parent / "results"
BODY = sa.VideoRequest(prompt="a fox in snow", size="1280x720", duration=10)
ANSWER = b'{"code":"success","message":"","data":"task_01jhjnz502ejqsm6r37km2q637"}'


def serve(port_out: multiprocessing.connection.Connection) -> None:  # pragma: no cover - child process
    """A minimal relay: read the body, answer success. As cheap as a server can be."""

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/sora/v1/videos", create)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def raw_aiohttp(url: str, n: int, concurrency: int) -> None:
    """The floor: a hand-written loop with one session and the same body, no safety nets at all."""
    payload = {"prompt": BODY.prompt, "width": BODY.width, "height": BODY.height, "n_frames": BODY.n_frames}
    headers = {"Authorization": "Bearer sk-bench"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        remaining = n

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(f"{url}/sora/v1/videos", json=payload, headers=headers) as resp:
                    answer = json.loads(await resp.read())
                    assert answer["code"] == "success"

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def sora_async_client(url: str, n: int, concurrency: int) -> None:
    """The SDK with everything armed: retry policy, a (never binding) rate limit, idempotency keys."""
    async with sa.SoraClient(
        "sk-bench",
        base_url=url,
        max_concurrency=concurrency,
        rate_limit=sa.RateLimit(1_000_000, burst=1_000),
        retry=sa.RetryPolicy(max_attempts=5),
    ) as client:
        remaining = n

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await client.create_video(BODY)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def sora_async_submit_many(url: str, n: int, concurrency: int) -> None:
    """The SDK's own bulk path."""
    async with sa.SoraClient("sk-bench", base_url=url, max_concurrency=concurrency) as client:
        async for result in client.submit_many(BODY for _ in range(n)):
            assert result.ok


Runner = Callable[[str, int, int], Coroutine[Any, Any, None]]


def measure(runner: Runner, url: str, n: int, concurrency: int) -> tuple[float, float]:
    """Requests per second and client CPU microseconds per request for one run."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(runner(url, n, concurrency))
    cpu1, t1 = time.process_time(), time.perf_counter()
    return n / (t1 - t0), (cpu1 - cpu0) / n * 1e6


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{parent.recv()}"
        runners: dict[str, Runner] = {
            "raw aiohttp": raw_aiohttp,
            "sora_async create_video": sora_async_client,
            "sora_async submit_many": sora_async_submit_many,
        }
        measure(raw_aiohttp, url, 500, args.concurrency)  # warm up the server
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, runner in runners.items():
                samples[name].append(measure(runner, url, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.join()

    floor = statistics.median(rps for rps, _ in samples["raw aiohttp"])
    rows = []
    print(
        f"create_video throughput, {args.requests} requests x {args.rounds} interleaved rounds, "
        f"concurrency {args.concurrency}, Python {platform.python_version()}, aiohttp {aiohttp.__version__}"
    )
    print(f"{'client':<28}{'median req/s':>14}{'CPU us/req':>12}{'vs raw':>9}")
    for name, runs in samples.items():
        rps = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        rows.append(
            {
                "client": name,
                "median_rps": round(rps, 1),
                "cpu_us_per_request": round(cpu, 1),
                "ratio_vs_raw": round(rps / floor, 3),
                "runs_rps": [round(r, 1) for r, _ in runs],
            }
        )
        print(f"{name:<28}{rps:>14.0f}{cpu:>12.0f}{rps / floor:>8.2f}x")
    report = {
        "benchmark": "throughput",
        "requests": args.requests,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "python": sys.version.split()[0],
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
