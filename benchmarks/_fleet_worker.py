"""One fleet member for benchmarks/fleet.py: ``python -m benchmarks._fleet_worker MODE REDIS RELAY COUNT``.

Prints ``ready``, waits for a line on stdin so that every member starts at once, submits COUNT requests
under the limiter MODE names, and prints a JSON line with its counts.
"""

from __future__ import annotations

import asyncio
import json
import sys

import sora_async as sa

FLEET_RATE, FLEET_SIZE = 40.0, 4
REQUEST = sa.VideoRequest(prompt="a fox in snow")


def limiter_for(mode: str, redis_url: str) -> tuple[sa.RateLimit | sa.Limiter | None, bool | None]:
    if mode == "redis":
        return sa.RedisRateLimiter(redis_url, key="bench-fleet", rate=FLEET_RATE, burst=2), None
    if mode == "local-each-told-the-total":
        return sa.RateLimit(FLEET_RATE, burst=2), None
    if mode == "local-split":
        return sa.RateLimit(FLEET_RATE / FLEET_SIZE), None
    return None, None  # SoraClient() as it comes: the default adaptive limiter, each member on its own


async def main(mode: str, redis_url: str, relay_url: str, count: int) -> None:
    rate_limit, adaptive = limiter_for(mode, redis_url)
    policy = sa.RetryPolicy(max_attempts=12)
    async with sa.SoraClient(
        "sk-fleet",
        base_url=relay_url,
        rate_limit=rate_limit,
        adaptive=adaptive,
        retry=policy,
        max_concurrency=16,
    ) as client:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        ok = failed = 0
        async for result in client.submit_many(REQUEST for _ in range(count)):
            ok += result.ok
            failed += not result.ok
    if isinstance(rate_limit, sa.Limiter):
        await rate_limit.aclose()  # the client closes only the limiters it built
    print(json.dumps({"ok": ok, "failed": failed}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
