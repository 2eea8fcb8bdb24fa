"""Throughput of one create call, side by side: sora_async against a raw aiohttp loop and its peers.

Every client sends the same POST to the same local server (its own process, so the client's CPU is
what is measured) at the same concurrency, each run in a fresh interpreter of its own (after a
warm-up there; no client's imports or leftovers weigh on another's garbage collections), in
interleaved rounds (the order rotates every round, so no
client always runs on a warmer or a noisier machine), with a run of the raw loop before and after
every other client's run. Printed and written to ``benchmarks/results/throughput.json``: the median
req/s and client CPU per request of each, and its ratios to the raw loop, to the raw loop under
``gather`` and to openai-python's aiohttp transport: each ratio is the median over rounds of the
client's req/s against the raw runs just around it (paired within seconds, so that the machine's
drifting load cancels out), divided by the same for the other client.

Every run starts with glibc's threshold for mapping memory raised (``settle_allocator``), the
state any process using TLS is in, so that no client is slowed by the allocator by chance; two rows
keep glibc mapping instead, as in a fresh plain-HTTP process, where asyncio's 256 KiB receive
buffers cost a raw loop three system calls per answer and sora_async (64 KiB reads) nothing.

Clients: a raw aiohttp loop (the floor: no safety nets at all, 64 workers), the same raw
requests in the shape ``gather`` gives (n tasks at once behind a semaphore: the fair floor for
``create_video`` under ``gather``, since thousands of waiting tasks cost the event loop and the
garbage collector whatever sends the requests), sora_async ``create_video`` with
everything armed (retry policy, a never-binding rate limit, idempotency keys), sora_async
``submit_many``, sora_async ``create_video`` as ``SoraClient()`` comes by default, openai-python's
``AsyncOpenAI.post()`` on its default httpx transport and on its aiohttp transport, aiohttp-retry's
``RetryClient``, and the raw loop and ``submit_many`` again with glibc mapping.

    python -m benchmarks.throughput [--requests 3000] [--rounds 9] [--concurrency 64] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

import sora_async as sa
from benchmarks._common import (
    API_KEY,
    BODY,
    CREATE_PATH,
    HEADERS,
    REQUEST,
    median,
    print_table,
    print_targets,
    target,
    write_result,
)

ANSWER = b'{"code":"success","message":"","data":"task_01jhjnz502ejqsm6r37km2q637"}'

Runner = Callable[[str, int, int], Coroutine[Any, Any, None]]


def serve(port_out: multiprocessing.connection.Connection) -> None:  # pragma: no cover - child process
    """A minimal relay: read the body, answer success. As cheap as a server can be."""

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post(CREATE_PATH, create)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def run_workers(concurrency: int, n: int, one: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``concurrency`` workers sharing a countdown of ``n`` calls: the same shape for every client."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def check(answer: Any) -> None:
    assert answer["code"] == "success", answer


async def raw_aiohttp(url: str, n: int, concurrency: int) -> None:
    """The floor: a hand-written loop with one session and the same body, no safety nets at all."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(url + CREATE_PATH, json=BODY, headers=HEADERS) as resp:
                check(json.loads(await resp.read()))

        await run_workers(concurrency, n, one)


async def raw_aiohttp_gather(url: str, n: int, concurrency: int) -> None:
    """The same shape as create_video under gather, by hand: n tasks at once, a semaphore of
    ``concurrency`` (a plain loop under gather with no bound would open n connections)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with gate, session.post(url + CREATE_PATH, json=BODY, headers=HEADERS) as resp:
                check(json.loads(await resp.read()))

        await asyncio.gather(*(one() for _ in range(n)))


async def sora_async_defaults_gather(url: str, n: int, concurrency: int) -> None:
    """The SDK as it comes (no rate, limiter, retry or timeout argument): n create_video under gather."""
    async with sa.SoraClient(API_KEY, base_url=url, max_concurrency=concurrency) as client:
        ids = await asyncio.gather(*(client.create_video(REQUEST) for _ in range(n)))
        assert len(ids) == n


async def sora_async_defaults_submit_many(url: str, n: int, concurrency: int) -> None:
    """The SDK's own bulk path as it comes: submit_many over a generator."""
    async with sa.SoraClient(API_KEY, base_url=url, max_concurrency=concurrency) as client:
        async for result in client.submit_many(REQUEST for _ in range(n)):
            assert result.ok, result.error


async def sora_async_tuned(url: str, n: int, concurrency: int) -> None:
    """Tuned: a (never binding) fixed RateLimit instead of the adaptive default, workers like the raw loop."""
    async with sa.SoraClient(
        API_KEY,
        base_url=url,
        max_concurrency=concurrency,
        rate_limit=sa.RateLimit(1_000_000, burst=1_000),
        retry=sa.RetryPolicy(max_attempts=5),
    ) as client:

        async def one() -> None:
            await client.create_video(REQUEST)

        await run_workers(concurrency, n, one)


def _openai_runner(transport: str) -> Runner:
    async def run(url: str, n: int, concurrency: int) -> None:
        import openai  # type: ignore[import-not-found,unused-ignore]

        http_client = openai.DefaultAioHttpClient() if transport == "aiohttp" else None
        client = openai.AsyncOpenAI(
            api_key=API_KEY, base_url=f"{url}/", max_retries=2, http_client=http_client
        )
        try:

            async def one() -> None:
                check(await client.post(CREATE_PATH, body=BODY, cast_to=object))

            await run_workers(concurrency, n, one)
        finally:
            await client.close()

    run.__doc__ = f"openai-python AsyncOpenAI.post(), {transport} transport, its default retries (2)."
    return run


async def aiohttp_retry(url: str, n: int, concurrency: int) -> None:
    """aiohttp-retry's RetryClient with exponential retry over one aiohttp session."""
    from aiohttp_retry import ExponentialRetry, RetryClient  # type: ignore[import-not-found,unused-ignore]

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = RetryClient(client_session=session, retry_options=ExponentialRetry(attempts=5))

        async def one() -> None:
            async with client.post(url + CREATE_PATH, json=BODY, headers=HEADERS) as resp:
                check(json.loads(await resp.read()))

        await run_workers(concurrency, n, one)


DEFAULTS_GATHER = "sora_async defaults: create_video under gather"
RAW_GATHER = "raw aiohttp under gather (same shape)"
DEFAULTS_SUBMIT_MANY = "sora_async defaults: submit_many"
RAW_MAPPED = "raw aiohttp, glibc mapping its 256 KiB reads"
SUBMIT_MANY_MAPPED = "sora_async defaults: submit_many, glibc mapping 256 KiB reads"
RUNNERS: dict[str, Runner] = {
    DEFAULTS_GATHER: sora_async_defaults_gather,
    DEFAULTS_SUBMIT_MANY: sora_async_defaults_submit_many,
    "raw aiohttp": raw_aiohttp,
    RAW_GATHER: raw_aiohttp_gather,
    RAW_MAPPED: raw_aiohttp,
    SUBMIT_MANY_MAPPED: sora_async_defaults_submit_many,
    "openai-python (httpx)": _openai_runner("httpx"),
    "openai-python (aiohttp)": _openai_runner("aiohttp"),
    "aiohttp-retry": aiohttp_retry,
    "sora_async tuned: fixed RateLimit, workers": sora_async_tuned,
}
FLOOR = "raw aiohttp"
MAPPING_ALLOCATOR = {RAW_MAPPED, SUBMIT_MANY_MAPPED}
"""Runs whose process keeps glibc mapping every allocation of 128 KiB or more; all others run with
glibc's threshold raised (``settle_allocator``)."""
HEADLINE = DEFAULTS_GATHER
OPENAI_AIOHTTP = "openai-python (aiohttp)"
_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited from this one


Run = tuple[float, float, int, float]
"""One run: requests per second, client CPU microseconds per request, garbage collections, and the
share of the run's time spent in them."""


def measure_here(runner: Runner, url: str, n: int, concurrency: int) -> Run:
    """One run in this process: req/s, client CPU µs per request, how many times the garbage
    collector ran (any generation) meanwhile, and the share of the run's wall time it took."""
    clock = _GcClock()
    gc.callbacks.append(clock)
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        asyncio.run(runner(url, n, concurrency))
        cpu1, t1 = time.process_time(), time.perf_counter()
    finally:
        gc.callbacks.remove(clock)
    return n / (t1 - t0), (cpu1 - cpu0) / n * 1e6, clock.collections, clock.seconds / (t1 - t0)


class _GcClock:
    """A ``gc.callbacks`` entry that counts the collections and adds up the time they take: the cost
    that separates the ``gather`` shape from a worker loop, whoever sends the requests."""

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections += 1
            self.seconds += time.perf_counter() - self._started


def _measure_in_child(
    name: str, url: str, n: int, concurrency: int, out: multiprocessing.connection.Connection
) -> None:  # pragma: no cover - child process
    """One run in a fresh interpreter: the allocator settled, a warm-up (imports, connections,
    lazily built parts), then the measured run. Sends ``("ok", Run)`` or ``("skip", reason)``."""
    runner = RUNNERS[name]
    if not settle_allocator(keep_mapping=name in MAPPING_ALLOCATOR):
        out.send(("skip", "needs glibc's mallopt to pin the allocator"))
        return
    try:
        measure_here(runner, url, 200, 8)
    except ImportError as exc:
        out.send(("skip", str(exc)))
        return
    out.send(("ok", measure_here(runner, url, n, concurrency)))


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def settle_allocator(*, keep_mapping: bool) -> bool:
    """Put this process's allocator in a known state for asyncio's 256 KiB receive buffers.

    asyncio's socket transport receives each read into a new 256 KiB bytes object, shrunk to what
    came. glibc maps allocations from 128 KiB up (an mmap, an mremap and an munmap for every answer)
    until the process frees one mapped block whole: then it raises its threshold to that size and
    serves them from the heap. A read that finds nothing, one TLS read loop, or some module imports
    (whether depends on the hash seed) do that, so a raw loop's speed would be a coin flip per
    process. Every run here starts with a large block freed (the state a process reaches soon,
    and any process using TLS at once), except the runs of ``MAPPING_ALLOCATOR``, which keep glibc
    mapping (the state of a fresh plain-HTTP process): sora_async's connections read 64 KiB at
    most, so only the raw loop's speed differs between the two. False: no glibc to pin it with.
    """
    if not keep_mapping:
        block = bytearray(1024 * 1024)  # mapped, then freed whole: glibc raises its threshold
        del block
        return True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 128 * 1024))  # a fixed threshold: no raising it


def measure(name: str, url: str, n: int, concurrency: int) -> Run | None:
    """One run of client ``name`` in a fresh process of its own; None if its library is missing.

    A fresh process per run, because the garbage collector walks every object of the process: in a
    process shared by all clients, openai-python's thousands of imported objects (or any earlier
    run's leftovers) would be walked in every full collection of every other client's run, and
    ``gather``'s thousands of waiting tasks make such collections frequent.
    """
    parent, child = _SPAWN.Pipe(duplex=False)
    process = _SPAWN.Process(target=_measure_in_child, args=(name, url, n, concurrency, child))
    process.start()
    child.close()
    try:
        kind, value = parent.recv()
    except EOFError:
        raise RuntimeError(f"the run of {name!r} died (exit code {process.exitcode})") from None
    finally:
        process.join()
    if kind == "skip":
        print(f"skipping {name}: {value} (pip install the 'bench' dependency group)")
        return None
    return value  # type: ignore[no-any-return]


def available(runners: dict[str, Runner], url: str) -> dict[str, Runner]:
    """The runners whose peer library is installed (the bench dependency group); the others are named."""
    return {name: runner for name, runner in runners.items() if measure(name, url, 200, 8) is not None}


def run_rounds(url: str, runners: dict[str, Runner], n: int, rounds: int, concurrency: int) -> dict[str, Any]:
    """Every client once per round, in a rotated order, with a run of the floor before and after
    each one: ``{"samples": ..., "floor_near": ...}``, the floor's mean req/s around each run."""
    samples: dict[str, list[Run]] = {name: [] for name in runners}
    floor_near: dict[str, list[float]] = {name: [] for name in runners}
    others = [name for name in runners if name != FLOOR]
    for round_no in range(rounds):
        order = others[round_no % len(others) :] + others[: round_no % len(others)]
        before = _measured(FLOOR, url, n, concurrency)
        samples[FLOOR].append(before)
        for name in order:
            samples[name].append(_measured(name, url, n, concurrency))
            after = _measured(FLOOR, url, n, concurrency)
            samples[FLOOR].append(after)
            floor_near[name].append((before[0] + after[0]) / 2)
            before = after
    floor_near[FLOOR] = [run[0] for run in samples[FLOOR]]
    return {"samples": samples, "floor_near": floor_near}


def _measured(name: str, url: str, n: int, concurrency: int) -> Run:
    result = measure(name, url, n, concurrency)
    if result is None:
        raise RuntimeError(f"{name!r} could run before and no longer can")
    return result


def round_ratios(measured: dict[str, Any], name: str) -> list[float]:
    """``name``'s req/s in each round against the raw aiohttp runs just before and after it."""
    samples, near = measured["samples"], measured["floor_near"]
    if name == FLOOR:
        return [1.0] * min(len(runs) for runs in samples.values())
    return [run[0] / floor for run, floor in zip(samples[name], near[name], strict=True)]


def paired_ratio(measured: dict[str, Any], name: str, baseline: str) -> float:
    """The median over rounds of ``name``'s ratio to the raw runs around it, divided by the same for
    ``baseline`` in that round: on a shared machine the load drifts within seconds, and a run of the
    raw loop next to each run cancels most of that drift.
    """
    mine, theirs = round_ratios(measured, name), round_ratios(measured, baseline)
    return median(a / b for a, b in zip(mine, theirs, strict=True))


def summarise(measured: dict[str, Any]) -> list[dict[str, Any]]:
    samples: dict[str, list[Run]] = measured["samples"]
    rows = []
    for name, runs in samples.items():
        rows.append(
            {
                "client": name,
                "median_rps": round(median(run[0] for run in runs), 1),
                "cpu_us_per_request": round(median(run[1] for run in runs), 1),
                "gc_collections": round(median(run[2] for run in runs)),
                "gc_share": round(median(run[3] for run in runs), 3),
                "vs_raw": round(paired_ratio(measured, name, FLOOR), 3),
                "vs_raw_gather": round(paired_ratio(measured, name, RAW_GATHER), 3)
                if RAW_GATHER in samples
                else None,
                "vs_openai_aiohttp": round(paired_ratio(measured, name, OPENAI_AIOHTTP), 2)
                if OPENAI_AIOHTTP in samples
                else None,
                "runs_rps": [round(run[0], 1) for run in runs],
                "runs_gc_collections": [run[2] for run in runs],
                "round_ratios_vs_raw": [round(x, 3) for x in round_ratios(measured, name)],
            }
        )
    return rows


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {row["client"]: row for row in rows}
    checks = []
    for name in (DEFAULTS_GATHER, DEFAULTS_SUBMIT_MANY):
        vs_raw = by_name.get(name, {}).get("vs_raw")
        checks.append(
            target(f"{name} vs raw aiohttp", vs_raw, ">= 0.95x", None if vs_raw is None else vs_raw >= 0.95)
        )
    same_shape = by_name.get(DEFAULTS_GATHER, {}).get("vs_raw_gather")
    checks.append(
        target(
            f"{DEFAULTS_GATHER} vs {RAW_GATHER}",
            same_shape,
            ">= 0.95x",
            None if same_shape is None else same_shape >= 0.95,
        )
    )
    vs_openai = by_name.get(HEADLINE, {}).get("vs_openai_aiohttp")
    checks.append(
        target(
            f"{HEADLINE} vs openai-python on aiohttp",
            vs_openai,
            ">= 4x",
            None if vs_openai is None else vs_openai >= 4,
        )
    )
    return checks


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1500 requests x 5 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds = 1500, 5

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{parent.recv()}"
        runners = available(RUNNERS, url)
        samples = run_rounds(url, runners, args.requests, args.rounds, args.concurrency)
    finally:
        server.terminate()
        server.join()

    rows = summarise(samples)
    print(
        f"\n(a) create throughput: {args.requests} requests x {args.rounds} interleaved rounds, "
        f"concurrency {args.concurrency}, server in its own process, raw aiohttp run around every run"
    )
    print_table(
        rows,
        [
            "client",
            "median_rps",
            "cpu_us_per_request",
            "gc_collections",
            "gc_share",
            "vs_raw",
            "vs_raw_gather",
            "vs_openai_aiohttp",
        ],
    )
    checks = targets(rows)
    print_targets(checks)
    report = {
        "requests": args.requests,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "rows": rows,
        "targets": checks,
        "default_limiter": repr(sa.SoraClient(API_KEY, base_url="http://127.0.0.1").limiter),
    }
    write_result("throughput", report)
    return report


if __name__ == "__main__":
    main()
