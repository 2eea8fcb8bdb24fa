"""Rate limits and faults: makespan, 429s, lost and duplicated submissions, side by side.

Scenario "limit": the mock relay allows 50 req/s with burst 5; N submissions at concurrency 64.
Ideal makespan is (N - 5) / 50. Scenario "faults": 5% 503, 2% drops before, 1.5% 500-after-accept and
1.5% drops after accept, with a relay that honours Idempotency-Key and one that ignores it.

Clients: sora_async told the limit, sora_async not told, and a careful hand-rolled aiohttp loop
(aiolimiter + tenacity, its own idempotency key per submission, retrying every error).
Every client sends an Idempotency-Key so that the relay can count creations per submission.

    python -m benchmarks.resilience [--requests 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import tenacity
from aiolimiter import AsyncLimiter

import sora_async as sa
from sora_async.mock import MockConfig, MockRelay

RESULTS = Path(__file__).parent / "results"
RATE, BURST, CONCURRENCY = 50, 5, 64
FAULTS = MockConfig(fail_503=0.05, drop_before=0.02, fail_500_after=0.015, drop_after=0.015)
REQUEST = sa.VideoRequest(prompt="a fox in snow", size="1280x720", duration=10)

Outcome = dict[str, int]
Client = Callable[[str, int], Awaitable[Outcome]]


async def sora_async_run(url: str, n: int, **kwargs: Any) -> Outcome:
    retry = kwargs.pop("retry", sa.RetryPolicy(max_attempts=8))
    async with sa.SoraClient(
        "sk-bench", base_url=url, max_concurrency=CONCURRENCY, retry=retry, **kwargs
    ) as client:
        outcome = {"ok": 0, "failed": 0, "ambiguous": 0}
        async for result in client.submit_many(REQUEST for _ in range(n)):
            if result.ok:
                outcome["ok"] += 1
            elif isinstance(result.error, sa.AmbiguousSubmissionError):
                outcome["ambiguous"] += 1
            else:
                outcome["failed"] += 1
        return outcome


async def hand_rolled(url: str, n: int, *, limited: bool = True) -> Outcome:
    """What a careful user writes by hand: aiolimiter at the limit, tenacity retrying any error."""
    limiter = AsyncLimiter(RATE, 1) if limited else contextlib.nullcontext()
    outcome = {"ok": 0, "failed": 0, "ambiguous": 0}
    body = {"prompt": REQUEST.prompt, "width": 1280, "height": 720, "n_frames": 300}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        gate = asyncio.Semaphore(CONCURRENCY)

        @tenacity.retry(
            stop=tenacity.stop_after_attempt(8), wait=tenacity.wait_random_exponential(0.5, max=10)
        )
        async def post(key: str) -> str:
            async with limiter:
                headers = {"Authorization": "Bearer sk-bench", "Idempotency-Key": key}
                async with session.post(f"{url}/sora/v1/videos", json=body, headers=headers) as resp:
                    payload = await resp.json(content_type=None)
                    if resp.status != 200 or payload.get("code") != "success":
                        raise RuntimeError(f"HTTP {resp.status}")
                    return str(payload["data"])

        async def one() -> None:
            async with gate:
                try:
                    await post(str(uuid.uuid4()))
                    outcome["ok"] += 1
                except Exception:
                    outcome["failed"] += 1

        await asyncio.gather(*(one() for _ in range(n)))
    return outcome


async def measure(name: str, client: Client, config: MockConfig, n: int) -> dict[str, Any]:
    async with MockRelay(config) as relay:
        started = time.perf_counter()
        outcome = await client(relay.url, n)
        makespan = time.perf_counter() - started
        stats = relay.stats
        duplicated = sum(count - 1 for count in stats.duplicates.values())
        # Created on the relay, but the caller was told it failed: paid for and not known.
        orphaned = max(0, len(stats.creations_by_key) - outcome["ok"] - outcome["ambiguous"])
        return {
            "client": name,
            "makespan_s": round(makespan, 2),
            "requests_429": stats.rate_limited,
            "ok": outcome["ok"],
            "failed": outcome["failed"],
            "ambiguous": outcome["ambiguous"],
            "orphaned": orphaned,
            "duplicated": duplicated,
        }


def limit_clients() -> dict[str, Client]:
    return {
        "sora_async told RateLimit(50)": lambda u, n: sora_async_run(u, n, rate_limit=sa.RateLimit(RATE)),
        "sora_async not told": lambda u, n: sora_async_run(u, n),
        "hand-rolled aiolimiter+tenacity": hand_rolled,
    }


def fault_clients() -> dict[str, Client]:
    retrying = sa.RetryPolicy(max_attempts=8, retry_ambiguous=True)
    return {
        "sora_async (default)": lambda u, n: sora_async_run(u, n),
        "sora_async retry_ambiguous": lambda u, n: sora_async_run(u, n, retry=retrying),
        "hand-rolled tenacity (no limiter)": lambda u, n: hand_rolled(u, n, limited=False),
    }


async def run(n: int) -> list[dict[str, Any]]:
    rows = []
    limited = MockConfig(rate=RATE, burst=BURST)
    for name, client in limit_clients().items():
        row = await measure(name, client, limited, n)
        row["scenario"] = "limit 50/s burst 5"
        row["makespan_vs_ideal"] = round(row["makespan_s"] / ((n - BURST) / RATE), 3)
        rows.append(row)
    for honour in (True, False):
        config = MockConfig(**{**_fields(FAULTS), "honour_idempotency": honour, "seed": 7})
        for name, client in fault_clients().items():
            row = await measure(name, client, config, n)
            row["scenario"] = "faults, key " + ("honoured" if honour else "ignored")
            rows.append(row)
    return rows


def _fields(config: MockConfig) -> dict[str, Any]:
    return {
        "fail_503": config.fail_503,
        "drop_before": config.drop_before,
        "fail_500_after": config.fail_500_after,
        "drop_after": config.drop_after,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        "scenario",
        "client",
        "makespan_s",
        "makespan_vs_ideal",
        "requests_429",
        "ok",
        "failed",
        "ambiguous",
        "orphaned",
        "duplicated",
    ]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.requests))
    print(f"resilience, N={args.requests}, concurrency {CONCURRENCY}")
    print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resilience.json").write_text(
        json.dumps({"requests": args.requests, "rows": rows}, indent=2) + "\n"
    )
    return rows


if __name__ == "__main__":
    main()
