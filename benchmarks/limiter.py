"""Limiter accuracy: the rate sora_async achieves against the rate it was told, over a long window.

For each configured rate, a client told ``RateLimit(rate)`` submits ``rate * duration + 1`` requests
through ``submit_many`` to its own unlimited mock relay; all rates run at once (they are light). The
relay's arrival times of accepted creates give the achieved steady rate, ``(n - 1) / (last - first)``,
and the most arrivals seen in any one-second window, to hold against ``burst + rate`` (here burst 1).
The client's bucket lets a start come up to 5 ms early (``TIMER_SLACK``, at most half a token) and the
network adds its own jitter, so the relay may see one more than that in its busiest second.

    python -m benchmarks.limiter [--rates 5 20 50 200] [--duration 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

import sora_async as sa
from benchmarks._common import API_KEY, REQUEST, print_table, print_targets, target, write_result
from sora_async.mock import MockConfig, MockRelay

CONCURRENCY = 64


async def one_rate(rate: float, duration: float) -> dict[str, Any]:
    n = int(rate * duration) + 1
    async with MockRelay(MockConfig(record_tasks=False)) as relay:
        client = sa.SoraClient(
            API_KEY, base_url=relay.url, rate_limit=sa.RateLimit(rate), max_concurrency=CONCURRENCY
        )
        async with client:
            ok = sum([result.ok async for result in client.submit_many(REQUEST for _ in range(n))])
        times = list(relay.stats.accepted_times)
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span
    return {
        "configured_rps": rate,
        "requests": n,
        "ok": ok,
        "span_s": round(span, 3),
        "achieved_rps": round(achieved, 3),
        "error_pct": round(100 * (achieved / rate - 1), 2),
        "max_in_any_1s": max_in_window(times, 1.0),
        "allowed_in_1s": int(1 + rate),
    }


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most timestamps within any half-open interval of ``window`` seconds (two pointers)."""
    best, low = 0, 0
    for high, now in enumerate(times):
        while now - times[low] >= window:
            low += 1
        best = max(best, high - low + 1)
    return best


async def run(rates: Sequence[float], duration: float) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(one_rate(rate, duration) for rate in rates)))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[5, 20, 50, 200])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="10 s instead of 30 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 10.0

    rows = asyncio.run(run(args.rates, args.duration))
    print(
        f"\n(e) limiter accuracy: RateLimit(rate), burst 1, {args.duration:g} s per rate, all rates at once"
    )
    print_table(
        rows,
        [
            "configured_rps",
            "requests",
            "ok",
            "span_s",
            "achieved_rps",
            "error_pct",
            "max_in_any_1s",
            "allowed_in_1s",
        ],
    )
    worst = max(abs(row["error_pct"]) for row in rows)
    over = [row for row in rows if row["max_in_any_1s"] > row["allowed_in_1s"]]
    checks = [
        target("largest |achieved / configured - 1| (%)", worst, "report only", None),
        target("rates whose busiest 1 s at the relay exceeded burst + rate", len(over), "report only", None),
    ]
    print_targets(checks)
    report = {
        "duration_s": args.duration,
        "burst": 1,
        "concurrency": CONCURRENCY,
        "rows": rows,
        "targets": checks,
    }
    write_result("limiter", report)
    return report


if __name__ == "__main__":
    main()
