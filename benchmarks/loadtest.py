"""The load-test engine against the mock relay: an open-loop run with a stall, and a closed-loop run.

Open loop: 400 requests/s for 20 s (after 2 s of warm-up) into a relay that answers in 20-40 ms and
fails 1% of creates with 503; 8 s in, the relay slows to 0.5 s per create for 1.5 s. With 32 requests
in flight at most, the client can then finish only 64 a second, so arrivals queue: the picture shows
latency (measured from each request's intended send time) climbing and draining again, and throughput
dipping and catching up. Closed loop: 32 workers back to back for 10 s against the healthy relay.

The picture is written to ``docs/img/loadtest_open.png``; the summaries to ``results/loadtest.json``.

    python -m benchmarks.loadtest [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import attrs

import sora_async as sa
from benchmarks._common import API_KEY, REQUEST, write_result
from sora_async.loadtest import LoadTestOptions, LoadTestReport, plot, require_plotting, run_load_test
from sora_async.mock import MockConfig, MockRelay

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
HEALTHY = MockConfig(latency=0.02, latency_jitter=0.02, fail_503=0.01, seed=3, record_tasks=False)
STALL_AT, STALL_FOR, STALL_LATENCY = 8.0, 1.5, 0.5


async def stall(relay: MockRelay, warmup: float) -> None:
    await asyncio.sleep(warmup + STALL_AT)
    relay.configure(latency=STALL_LATENCY)
    await asyncio.sleep(STALL_FOR)
    relay.configure(latency=HEALTHY.latency)


async def open_loop(rate: float, duration: float, warmup: float) -> LoadTestReport:
    async with (
        MockRelay(HEALTHY) as relay,
        sa.SoraClient(
            API_KEY, base_url=relay.url, max_concurrency=32, rate_limit=sa.RateLimit(10_000)
        ) as client,
    ):
        options = LoadTestOptions(mode="open", rate=rate, duration=duration, warmup=warmup, request=REQUEST)
        staller = asyncio.ensure_future(stall(relay, warmup))
        try:
            return await run_load_test(client, options)
        finally:
            staller.cancel()


async def closed_loop(workers: int, duration: float) -> LoadTestReport:
    async with (
        MockRelay(HEALTHY) as relay,
        sa.SoraClient(
            API_KEY, base_url=relay.url, max_concurrency=workers, rate_limit=sa.RateLimit(10_000)
        ) as client,
    ):
        options = LoadTestOptions(
            mode="closed", concurrency=workers, duration=duration, warmup=1, request=REQUEST
        )
        return await run_load_test(client, options)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="12 s of open loop, 5 s of closed loop")
    args = parser.parse_args(argv)
    require_plotting()  # the picture is the point: no matplotlib, no 30 s run first
    duration = 12.0 if args.quick else 20.0

    opened = asyncio.run(open_loop(400, duration, warmup=2))
    print("\n(loadtest) open loop with a stall\n" + opened.render_table())
    IMG.mkdir(parents=True, exist_ok=True)
    picture = plot(
        opened,
        IMG / "loadtest_open.png",
        title=f"sora-async loadtest: open loop at 400 req/s, mock relay slowed to "
        f"{STALL_LATENCY * 1000:.0f} ms for {STALL_FOR:g} s at t={STALL_AT:g} s",
    )
    closed = asyncio.run(closed_loop(32, 5.0 if args.quick else 10.0))
    print("\n(loadtest) closed loop, healthy relay\n" + closed.render_table())
    report = {
        "relay": attrs.asdict(HEALTHY),
        "stall": {"at_s": STALL_AT, "for_s": STALL_FOR, "latency_s": STALL_LATENCY},
        "open": opened.to_dict(),
        "open_table": opened.render_table(),
        "closed": closed.to_dict(),
        "closed_table": closed.render_table(),
        "picture": str(picture.relative_to(IMG.parent.parent)),
    }
    write_result("loadtest", report)
    return report


if __name__ == "__main__":
    main()
