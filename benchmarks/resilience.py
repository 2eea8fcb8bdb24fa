"""Rate limits and faults: makespan, 429s, lost and duplicated submissions, side by side.

(b) "limit": the mock relay allows 50 req/s with burst 5 and answers 429 with a whole-second
``Retry-After``; N submissions at concurrency 64. The ideal makespan is (N - 5) / 50. Clients:
``SoraClient()`` as it comes (no rate given: the default adaptive limiter; first, because defaults are
the product), sora_async told the limit (tuned: the user must know it), a careful hand-rolled aiohttp
loop (aiolimiter at the limit + tenacity), and openai-python with max_retries=8. Then sora_async alone,
default and told, on two more relays: 50/s burst 5 with no ``Retry-After`` at all (the per-user limiter
of new-api), and 20/s burst 2 with whole-second ``Retry-After``.

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

    python -m benchmarks.resilience [--requests 1000] [--fault-requests 1000] [--quick] [--only limit]
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


DEFAULT = "sora_async SoraClient() (default, not told)"


def told(rate: int, burst: int) -> tuple[str, Client]:
    """sora_async told the relay's exact limit: a tuned configuration (the user must know the limit)."""
    limit = sa.RateLimit(rate, burst=burst)

    async def run(url: str, keys: list[str]) -> Outcomes:
        return await sora_async_run(url, keys, rate_limit=limit)

    return f"sora_async told RateLimit({rate}, burst={burst}) (tuned)", run


def limit_clients() -> dict[str, Client]:
    steady = sa.RateLimit(RATE)

    async def told_steady(url: str, keys: list[str]) -> Outcomes:
        return await sora_async_run(url, keys, rate_limit=steady)

    return {
        DEFAULT: sora_async_run,
        **dict([told(RATE, BURST)]),
        f"sora_async told RateLimit({RATE}) (burst 1) (tuned)": told_steady,
        "hand-rolled aiolimiter+tenacity": hand_rolled,
        "openai-python max_retries=8": openai_run,
    }


MORE_RELAYS = (
    {"rate": RATE, "burst": BURST, "retry_after": "none"},
    {"rate": 20, "burst": 2, "retry_after": "seconds"},
)
"""The extra rate-limited relays of (b), run with sora_async only: default first, then told."""


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
    relay = {"rate": RATE, "burst": BURST, "retry_after": "seconds"}
    return [await limit_row(name, client, relay, n) for name, client in limit_clients().items()]


async def run_more_limits(n: int) -> list[dict[str, Any]]:
    rows = []
    for relay in MORE_RELAYS:
        clients = [(DEFAULT, sora_async_run), told(relay["rate"], relay["burst"])]  # type: ignore[arg-type]
        rows += [await limit_row(name, client, relay, n) for name, client in clients]
    return rows


async def limit_row(name: str, client: Client, relay: dict[str, Any], n: int) -> dict[str, Any]:
    config = MockConfig(**relay, record_tasks=False)
    row = await measure(name, client, config, n)
    row["relay"] = f"{relay['rate']}/s burst {relay['burst']}, Retry-After {relay['retry_after']}"
    row["makespan_vs_ideal"] = round(row["makespan_s"] / ((n - relay["burst"]) / relay["rate"]), 3)
    print(f"  limit ({row['relay']}): {name}: {row['makespan_s']} s, {row['requests_429']} x 429", flush=True)
    return row


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


DEFAULT_GOALS = {"Retry-After seconds": (1.10, 5.0), "Retry-After none": (1.05, 5.0)}
"""Per relay kind: (makespan / ideal, % of attempts answered 429) that SoraClient() must stay within."""


def limit_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Defaults first: SoraClient() on each relay; then told the exact limit (tuned)."""
    checks = []
    for row in (r for r in rows if r["client"] == DEFAULT):
        ratio_goal, pct_goal = DEFAULT_GOALS[row["relay"].split(", ")[1]]
        if not row["relay"].startswith(f"{RATE}/s"):
            pct_goal = 100.0  # 20/s: only the makespan is promised
        where = f"default, {row['relay']}"
        checks += [
            target(
                f"{where}: makespan / ideal",
                row["makespan_vs_ideal"],
                f"<= {ratio_goal:.2f}",
                row["makespan_vs_ideal"] <= ratio_goal,
            ),
            target(f"{where}: lost", row["lost"], "0", row["lost"] == 0),
        ]
        if pct_goal < 100:
            checks.append(
                target(f"{where}: 429s, % of attempts", row["pct_429"], "<= 5%", row["pct_429"] <= pct_goal)
            )
    for row in (r for r in rows if "burst=" in r["client"]):
        where = f"told the limit (tuned), {row['relay']}"
        checks += [
            target(
                f"{where}: makespan / ideal",
                row["makespan_vs_ideal"],
                "<= 1.01",
                row["makespan_vs_ideal"] <= 1.01,
            ),
            target(f"{where}: 429s", row["requests_429"], "0", row["requests_429"] == 0),
        ]
    return checks


def targets(limit: list[dict[str, Any]], faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    honoured = [r for r in faults if r["relay"] == "honours key" and r["client"].startswith("sora_async")]
    checks = limit_targets(limit)
    for row in honoured:
        bad = row["lost"] + row["duplicated"]
        checks.append(
            target(f"faults, honouring relay, {row['client']}: lost + duplicated", bad, "0", bad == 0)
        )
    return checks


LIMIT_COLUMNS = [
    "relay",
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
    more = asyncio.run(run_more_limits(args.requests)) if args.only != "faults" else []
    faults = asyncio.run(run_faults(args.fault_requests)) if args.only != "limit" else []
    if limit:
        print(f"\n(b) rate-limited relays, N={args.requests}, concurrency {CONCURRENCY}")
        print_table(limit + more, LIMIT_COLUMNS)
    if faults:
        print(f"\n(c) faults {FAULTS}, N={args.fault_requests}, concurrency {CONCURRENCY}")
        print_table(faults, FAULT_COLUMNS)
    checks = limit_targets(limit + more) if not faults else targets(limit + more, faults)
    print_targets(checks)
    report = {
        "limit": {"requests": args.requests, "rate": RATE, "burst": BURST, "rows": limit},
        "limit_more_relays": {"requests": args.requests, "rows": more},
        "faults": {"requests": args.fault_requests, "faults": FAULTS, "rows": faults},
        "concurrency": CONCURRENCY,
        "attempts": ATTEMPTS,
        "targets": checks,
    }
    write_result("resilience", report)
    return report


if __name__ == "__main__":
    main()
