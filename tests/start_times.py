"""When rate-limited calls got through, and the most that fell in any window: the limiter tests' yardstick."""

from __future__ import annotations

import asyncio

import sora_async as sa


def max_starts_in_window(starts: list[float], window: float) -> int:
    """The most starts that fall in any closed window of the given length."""
    starts = sorted(starts)
    best, left = 0, 0
    for right, t in enumerate(starts):
        while t - starts[left] > window:
            left += 1
        best = max(best, right - left + 1)
    return best


async def starts_of(limiter: sa.Limiter, count: int) -> list[float]:
    """Loop times at which ``count`` concurrent acquisitions got through, in order."""
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        starts.append(loop.time())

    await asyncio.gather(*(one() for _ in range(count)))
    return starts
