"""Scale: 100,000 and 1,000,000 submissions through ``submit_many``, peak RSS and CPU per request.

The mock relay (no rate limit, ``record_tasks=False``) runs in one child process and the client in
another, a fresh interpreter running nothing but the client, so its peak RSS and its user+system CPU
(``resource.getrusage``) are the client's own. CPU per request is counted from after the imports to the
end of the loop. Peak RSS is the address space's high-water mark (``VmHWM``, see ``peak_rss_mb``).

    python -m benchmarks.scale [--sizes 100000 1000000] [--concurrency 64] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.connection
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import print_table, print_targets, target, write_result

RSS_TARGET_MB = 200
ROOT = Path(__file__).resolve().parent.parent


def serve_relay(port_out: multiprocessing.connection.Connection) -> None:  # pragma: no cover - child
    """The mock relay with nothing to slow it down and no per-task records."""
    from sora_async.mock import MockConfig, MockRelay

    async def main() -> None:
        async with MockRelay(MockConfig(record_tasks=False)) as relay:
            port_out.send(relay.url)
            await asyncio.Event().wait()

    asyncio.run(main())


def run_client(url: str, n: int, concurrency: int, limiter: str) -> dict[str, Any]:
    """In the client's own process: submit n requests through submit_many, measure its own rusage."""
    import sora_async as sa
    from benchmarks._common import REQUEST, no_client_limit

    extra = no_client_limit() if limiter == "none" else {}

    async def submit_all() -> dict[str, Any]:
        async with sa.SoraClient("sk-bench", base_url=url, max_concurrency=concurrency, **extra) as client:
            before, baseline_hwm = resource.getrusage(resource.RUSAGE_SELF), peak_rss_mb()
            started = time.perf_counter()
            ok = 0
            async for result in client.submit_many(REQUEST for _ in range(n)):
                ok += result.ok
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            return {
                "ok": ok,
                "wall_s": round(wall, 1),
                "rps": round(n / wall, 1),
                "cpu_us_per_request": round(_cpu(after, before) / n * 1e6, 1),
                "baseline_rss_mb": baseline_hwm,
                "peak_rss_mb": peak_rss_mb(),
                "ru_maxrss_mb": round(after.ru_maxrss / 1024, 1),
                "limiter": repr(client.limiter),
            }

    return asyncio.run(submit_all())


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: ``VmHWM`` of /proc/self/status, where Linux has it.

    ``getrusage().ru_maxrss`` is not the client's own on Linux: it survives ``exec``, so a child started
    from a bigger parent (nox's, holding every earlier section) reports at least the parent's size.
    ``VmHWM`` belongs to the address space, which ``exec`` replaces. Elsewhere, ``ru_maxrss`` it is.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes elsewhere
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024 / 1024, 1)


def _cpu(after: resource.struct_rusage, before: resource.struct_rusage) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(n: int, concurrency: int, limiter: str) -> dict[str, Any]:
    """One size: a fresh relay process, and a fresh interpreter that runs only the client.

    The client is a new ``python -m benchmarks.scale --client ...`` rather than a multiprocessing child:
    a spawned child re-imports the parent's main module (with every benchmark section behind it), and
    that would count in its RSS.
    """
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    relay = spawn.Process(target=serve_relay, args=(child,), daemon=True)
    relay.start()
    try:
        url = parent.recv()
        command = [
            sys.executable,
            "-m",
            "benchmarks.scale",
            "--client",
            url,
            str(n),
            str(concurrency),
            limiter,
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        relay.terminate()
        relay.join()
    return {"submissions": n, "client_limiter": limiter, **result}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="100,000 only")
    parser.add_argument(
        "--client", nargs=4, metavar=("URL", "N", "CONCURRENCY", "LIMITER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.client:  # the child: run the client and print one JSON line
        url, n, concurrency, limiter = args.client
        print(json.dumps(run_client(url, int(n), int(concurrency), limiter)))
        return {}
    if args.quick:
        args.sizes = [100_000]

    rows = []
    for n in args.sizes:
        rows.append(measure(n, args.concurrency, "default"))
        print(
            f"  {n:,} submissions: {rows[-1]['wall_s']} s, peak RSS {rows[-1]['peak_rss_mb']} MB", flush=True
        )
    rows.append(measure(min(args.sizes), args.concurrency, "none"))

    print(f"\n(d) scale: submit_many, concurrency {args.concurrency}, relay and client in separate processes")
    columns = ["submissions", "client_limiter", "ok", "wall_s", "rps", "cpu_us_per_request"]
    print_table(rows, [*columns, "baseline_rss_mb", "peak_rss_mb"])
    largest = max(rows, key=lambda r: r["submissions"])
    checks = [
        target(
            f"{largest['submissions']:,} submissions: client peak RSS (MB)",
            largest["peak_rss_mb"],
            f"< {RSS_TARGET_MB} MB",
            largest["peak_rss_mb"] < RSS_TARGET_MB if largest["submissions"] >= 1_000_000 else None,
        )
    ]
    print_targets(checks)
    report = {"concurrency": args.concurrency, "rows": rows, "targets": checks}
    write_result("scale", report)
    return report


if __name__ == "__main__":
    main()
