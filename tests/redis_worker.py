"""A fleet member for the Redis tests: ``python -m tests.redis_worker REDIS_URL RELAY_URL KEY COUNT``.

It builds its own ``SoraClient`` limited by a ``RedisRateLimiter`` (40/s, burst 2) on the shared key,
prints ``ready``, waits for a line on stdin (so that every worker starts at once), submits COUNT
requests and prints a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys

import sora_async as sa
from sora_async.limits import RedisRateLimiter

FLEET_RATE = 40.0
FLEET_BURST = 2
REQ = sa.VideoRequest(prompt="a fox in snow")


async def main(redis_url: str, relay_url: str, key: str, count: int) -> int:
    limiter = RedisRateLimiter(redis_url, key=key, rate=FLEET_RATE, burst=FLEET_BURST)
    async with (
        limiter,
        sa.SoraClient("sk-fleet", base_url=relay_url, rate_limit=limiter, max_concurrency=8) as client,
    ):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        ok, errors = 0, []
        async for result in client.submit_many(REQ for _ in range(count)):
            if result.ok:
                ok += 1
            else:
                errors.append(f"{type(result.error).__name__}: {result.error}")
    print(json.dumps({"ok": ok, "errors": errors[:5]}), flush=True)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))))
