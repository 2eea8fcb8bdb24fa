"""Rate limits and faults: makespan, 429s, lost and duplicated submissions, side by side.

(b) "limit": the mock relay allows 50 req/s with burst 5; N submissions at concurrency 64. The ideal
makespan is (N - 5) / 50. Clients: sora_async told the limit, sora_async not told, a careful
hand-rolled aiohttp loop (aiolimiter at the limit + tenacity), and openai-python with max_retries=8.

(c) "faults": 5% 503, 2% connections dropped before the task exists, 2% 500 after it was created and
1% dropped after it was created; once with a relay that honours Idempotency-Key and once with one that
ignores it. Clients: sora_async as configured by default, sora_async with ``retry_ambiguous=True`` (with
the default limiter, and with client-side limiting off: where the default limiter discovers the rate
adaptively, its slow start is part of the first one's makespan), the hand-rolled loop (no limiter
needed) and openai-python with max_retries=8.

Every client gets 9 attempts per submission and sends an Idempotency-Key of ours per submission, so the
relay can count creations per submission. openai-python sends none of its own on ``post()``
(``AsyncOpenAI._idempotency_header`` is None), so its key is added per call; without it, openai-python
on an honouring relay behaves exactly as on the ignoring one.

Columns: ``ok`` got a task id; ``ambiguous`` ended with "may exist" and the key to settle it with;
``lost`` = N - ok - ambiguous (no task id and nothing to settle it with); ``orphaned`` = lost ones the
relay did create (paid for, never delivered); ``duplicated`` = tasks created beyond one per key.

    python -m benchmarks.resilience [--requests 1000] [--fault-requests 1000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs
import tenacity
from aiolimiter import AsyncLimiter

import sora_async as sa
from benchmarks._common import (
    API_KEY,
    BODY,
    CREATE_PATH,
    REQUEST,
    no_client_limit,
    print_table,
    print_targets,
    target,
    write_result,
)
from sora_async.mock import FAULT_KINDS, MockConfig, MockRelay

RATE, BURST, CONCURRENCY, ATTEMPTS = 50, 5, 64, 9
FAULTY = MockConfig(
    fail_503=0.05, drop_before=0.02, fail_500_after=0.02, drop_after=0.01, seed=7, record_tasks=False
)
FAULTS = {kind: getattr(FAULTY, kind) for kind in FAULT_KINDS}

Outcomes = dict[str, str]
"""Idempotency key -> "ok", "ambiguous" or "failed": how each submission ended for its caller."""
Client = Callable[[str, list[str]], Awaitable[Outcomes]]


# --- the clients -------------------------------------------------------------------------------------


async def sora_async_run(url: str, keys: list[str], **kwargs: Any) -> Outcomes:
    retry = kwargs.pop("retry", sa.RetryPolicy(max_attempts=ATTEMPTS))
    items = (sa.SubmitItem(REQUEST, idempotency_key=key) for key in keys)
    outcomes: Outcomes = {}
    async with sa.SoraClient(
        API_KEY, base_url=url, max_concurrency=CONCURRENCY, retry=retry, **kwargs
    ) as client:
        async for result in client.submit_many(items):
            if result.ok:
                outcomes[result.idempotency_key] = "ok"
            elif isinstance(result.error, sa.AmbiguousSubmissionError):
                outcomes[result.idempotency_key] = "ambiguous"
            else:
                outcomes[result.idempotency_key] = "failed"
    return outcomes


async def hand_rolled(url: str, keys: list[str], *, limited: bool = True) -> Outcomes:
    """What a careful user writes by hand: aiolimiter at the limit, tenacity retrying any error."""
    limiter = AsyncLimiter(RATE, 1) if limited else contextlib.nullcontext()
    outcomes: Outcomes = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        gate = asyncio.Semaphore(CONCURRENCY)

        @tenacity.retry(
            stop=tenacity.stop_after_attempt(ATTEMPTS), wait=tenacity.wait_random_exponential(0.5, max=10)
        )
        async def post(key: str) -> str:
            async with limiter:
                headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}
                async with session.post(url + CREATE_PATH, json=BODY, headers=headers) as resp:
                    payload = await resp.json(content_type=None)
                    if resp.status != 200 or payload.get("code") != "success":
                        raise RuntimeError(f"HTTP {resp.status}")
                    return str(payload["data"])

        async def one(key: str) -> None:
            async with gate:
                try:
                    await post(key)
                    outcomes[key] = "ok"
                except Exception:
                    outcomes[key] = "failed"

        await asyncio.gather(*(one(key) for key in keys))
    return outcomes


async def openai_run(url: str, keys: list[str]) -> Outcomes:
    """openai-python's AsyncOpenAI.post() with max_retries=8 (its own backoff and Retry-After handling)."""
    import openai  # type: ignore[import-not-found,unused-ignore]

    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=f"{url}/", max_retries=ATTEMPTS - 1)
    outcomes: Outcomes = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(key: str) -> None:
        async with gate:
            try:
                options: Any = {"headers": {"Idempotency-Key": key}}  # openai's RequestOptions
                answer: Any = await client.post(CREATE_PATH, body=BODY, cast_to=object, options=options)
                outcomes[key] = "ok" if answer.get("code") == "success" else "failed"
            except openai.OpenAIError:
                outcomes[key] = "failed"

    try:
        await asyncio.gather(*(one(key) for key in keys))
    finally:
        await client.close()
    return outcomes


def limit_clients() -> dict[str, Client]:
    exact, steady = sa.RateLimit(RATE, burst=BURST), sa.RateLimit(RATE)

    async def told_exact(url: str, keys: list[str]) -> Outcomes:
        return await sora_async_run(url, keys, rate_limit=exact)

    async def told_steady(url: str, keys: list[str]) -> Outcomes:
        return await sora_async_run(url, keys, rate_limit=steady)

    return {
        f"sora_async told RateLimit({RATE}, burst={BURST})": told_exact,
        f"sora_async told RateLimit({RATE}) (burst 1)": told_steady,
        "sora_async not told (default)": sora_async_run,
        "hand-rolled aiolimiter+tenacity": hand_rolled,
        "openai-python max_retries=8": openai_run,
    }


def fault_clients() -> dict[str, Client]:
    retrying = sa.RetryPolicy(max_attempts=ATTEMPTS, retry_ambiguous=True)
    return {
        "sora_async (default policy)": sora_async_run,
        "sora_async retry_ambiguous=True": lambda u, k: sora_async_run(u, k, retry=retrying),
        "sora_async retry_ambiguous, adaptive off": lambda u, k: sora_async_run(
            u, k, retry=retrying, **no_client_limit()
        ),
        "hand-rolled tenacity (no limiter)": lambda u, k: hand_rolled(u, k, limited=False),
        "openai-python max_retries=8": openai_run,
    }


# --- measuring ---------------------------------------------------------------------------------------


async def measure(name: str, client: Client, config: MockConfig, n: int) -> dict[str, Any]:
    """Run one client against a fresh relay and account for every submission and every created task."""
    keys = [f"bench-{uuid.uuid4().hex}" for _ in range(n)]
    async with MockRelay(config) as relay:
        started = time.perf_counter()
        outcomes = await client(relay.url, keys)
        makespan = time.perf_counter() - started
        stats = relay.stats
    created = stats.creations_by_key
    ok = sum(1 for v in outcomes.values() if v == "ok")
    ambiguous = sum(1 for v in outcomes.values() if v == "ambiguous")
    return {
        "client": name,
        "makespan_s": round(makespan, 2),
        "create_requests": stats.create_requests,
        "requests_429": stats.rate_limited,
        "pct_429": round(100 * stats.rate_limited / max(1, stats.create_requests), 2),
        "ok": ok,
        "ambiguous": ambiguous,
        "ambiguous_created": sum(1 for k, v in outcomes.items() if v == "ambiguous" and k in created),
        "lost": n - ok - ambiguous,
        "orphaned": sum(
            1 for k in keys if outcomes.get(k) != "ok" and outcomes.get(k) != "ambiguous" and k in created
        ),
        "duplicated": sum(count - 1 for count in created.values()),
    }


async def run_limit(n: int) -> list[dict[str, Any]]:
    rows = []
    ideal = (n - BURST) / RATE
    for name, client in limit_clients().items():
        row = await measure(
            name, client, MockConfig(rate=RATE, burst=BURST, retry_after="seconds", record_tasks=False), n
        )
        row["makespan_vs_ideal"] = round(row["makespan_s"] / ideal, 3)
        print(f"  limit: {name}: {row['makespan_s']} s, {row['requests_429']} x 429", flush=True)
        rows.append(row)
    return rows


async def run_faults(n: int) -> list[dict[str, Any]]:
    rows = []
    for honour in (True, False):
        config = attrs.evolve(FAULTY, honour_idempotency=honour)
        for name, client in fault_clients().items():
            row = await measure(name, client, config, n)
            row["relay"] = "honours key" if honour else "ignores key"
            print(f"  faults ({row['relay']}): {name}: {row['makespan_s']} s", flush=True)
            rows.append(row)
    return rows


def targets(limit: list[dict[str, Any]], faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    told = limit[0]  # told the limit exactly: RateLimit(50, burst=5)
    honoured = [r for r in faults if r["relay"] == "honours key" and r["client"].startswith("sora_async")]
    checks = [
        target(
            "told the limit: makespan / ideal",
            told["makespan_vs_ideal"],
            "<= 1.02",
            told["makespan_vs_ideal"] <= 1.02,
        ),
        target("told the limit: 429s, % of requests", told["pct_429"], "< 1%", told["pct_429"] < 1),
    ]
    for row in honoured:
        bad = row["lost"] + row["duplicated"]
        checks.append(
            target(f"faults, honouring relay, {row['client']}: lost + duplicated", bad, "0", bad == 0)
        )
    return checks


LIMIT_COLUMNS = [
    "client",
    "makespan_s",
    "makespan_vs_ideal",
    "requests_429",
    "pct_429",
    "ok",
    "lost",
    "duplicated",
]
FAULT_COLUMNS = [
    "relay",
    "client",
    "makespan_s",
    "ok",
    "ambiguous",
    "ambiguous_created",
    "lost",
    "orphaned",
    "duplicated",
]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="N for the rate-limit scenario (b)")
    parser.add_argument("--fault-requests", type=int, default=1000, help="N for the fault scenario (c)")
    parser.add_argument("--quick", action="store_true", help="N=300 and N=500")
    parser.add_argument("--only", choices=("limit", "faults"), help="run one scenario")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.fault_requests = 300, 500

    limit = asyncio.run(run_limit(args.requests)) if args.only != "faults" else []
    faults = asyncio.run(run_faults(args.fault_requests)) if args.only != "limit" else []
    if limit:
        print(f"\n(b) rate-limited relay, {RATE} req/s burst {BURST}, N={args.requests}, c={CONCURRENCY}")
        print_table(limit, LIMIT_COLUMNS)
    if faults:
        print(f"\n(c) faults {FAULTS}, N={args.fault_requests}, concurrency {CONCURRENCY}")
        print_table(faults, FAULT_COLUMNS)
    checks = targets(limit, faults) if limit and faults else []
    print_targets(checks)
    report = {
        "limit": {"requests": args.requests, "rate": RATE, "burst": BURST, "rows": limit},
        "faults": {"requests": args.fault_requests, "faults": FAULTS, "rows": faults},
        "concurrency": CONCURRENCY,
        "attempts": ATTEMPTS,
        "targets": checks,
    }
    write_result("resilience", report)
    return report


if __name__ == "__main__":
    main()
