"""Limiter accuracy: the rate sora_async achieves against a relay's rate, over a long window.

Defaults first: for each rate, ``SoraClient()`` (not told anything) submits to a mock relay limited to
that rate with burst 1 and must find it: achieved rate and answers of 429. Then (tuned) a client told
``RateLimit(rate)`` submits ``rate * duration + 1`` requests through ``submit_many`` to its own
unlimited mock relay, which measures what the client sends. All rates run at once (they are light). The
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


async def one_rate(rate: float, duration: float, *, told: bool = True) -> dict[str, Any]:
    n = int(rate * duration) + 1
    relay_config = MockConfig(record_tasks=False) if told else MockConfig(rate=rate, record_tasks=False)
    async with MockRelay(relay_config) as relay:
        client = sa.SoraClient(
            API_KEY,
            base_url=relay.url,
            rate_limit=sa.RateLimit(rate) if told else None,
            max_concurrency=CONCURRENCY,
            retry=sa.RetryPolicy(max_attempts=20),
        )
        async with client:
            ok = sum([result.ok async for result in client.submit_many(REQUEST for _ in range(n))])
        times = list(relay.stats.accepted_times)
        answers_429 = relay.stats.rate_limited
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span
    return {
        "client": "RateLimit(rate) (tuned)" if told else "SoraClient() (default)",
        "configured_rps": rate,
        "answers_429": answers_429,
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
    default = await asyncio.gather(*(one_rate(rate, duration, told=False) for rate in rates))
    told = await asyncio.gather(*(one_rate(rate, duration) for rate in rates))
    return [*default, *told]


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
        f"\n(e) limiter accuracy: SoraClient() against a relay at each rate (burst 1), then told "
        f"RateLimit(rate); {args.duration:g} s per rate, all rates at once"
    )
    print_table(
        rows,
        [
            "client",
            "configured_rps",
            "answers_429",
            "requests",
            "ok",
            "span_s",
            "achieved_rps",
            "error_pct",
            "max_in_any_1s",
            "allowed_in_1s",
        ],
    )
    defaults = [row for row in rows if row["client"].endswith("(default)")]
    tuned = [row for row in rows if not row["client"].endswith("(default)")]
    worst = max(abs(row["error_pct"]) for row in tuned)
    over = [row for row in tuned if row["max_in_any_1s"] > row["allowed_in_1s"]]
    checks = [
        target(
            "default: lowest achieved / relay rate (%)",
            min(100 + row["error_pct"] for row in defaults),
            "report only",
            None,
        ),
        target("told (tuned): largest |achieved / configured - 1| (%)", worst, "report only", None),
        target("told (tuned): rates whose busiest 1 s exceeded burst + rate", len(over), "report only", None),
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
