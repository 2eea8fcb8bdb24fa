"""The local limiters of one process: ``TokenBucket`` (a fixed ``RateLimit``, on aiolimiter) and ``NoLimit``.

The local bucket is aiolimiter's leaky bucket sized so that its capacity is the user's ``burst`` and
it drains at the user's rate: in any window of T seconds at most ``burst + rate * T`` requests start.
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter

from ._base import Limiter, PauseWindow
from ._rate import RateLimit

__all__ = ["TIMER_SLACK", "NoLimit", "TokenBucket"]

TIMER_SLACK = 0.005
"""Seconds a token may be granted early, to absorb event-loop wake-up latency (see TokenBucket)."""


class NoLimit(Limiter):
    """No fixed rate: requests start as fast as the concurrency gate allows, except during pauses."""

    __slots__ = ("_pause",)

    def __init__(self) -> None:
        self._pause = PauseWindow()

    async def acquire(self) -> None:
        if self._pause.active():
            await self._pause.wait()

    async def pause(self, seconds: float) -> None:
        """Hold back every request for ``seconds`` from now (the relay asked us to wait).

        Args:
            seconds: How long, from now; a shorter pause never cuts a longer one short.
        """
        self._pause.extend(seconds)

    def __repr__(self) -> str:
        return "NoLimit()"


class TokenBucket(Limiter):
    """A local token bucket for one process, built on aiolimiter.

    aiolimiter's bucket holds ``max_rate`` and drains over ``time_period``; setting ``max_rate`` to the
    burst and ``time_period`` to ``burst / rate`` gives a burst of ``burst`` and a steady ``rate``.
    With ``burst=1`` the capacity gets ``TIMER_SLACK`` seconds' worth of tokens on top: a waiter woken
    a little late by the event loop would otherwise push every later start back, and those delays add
    up (about 4% at 50 req/s). A start may so come up to 5 ms before its ideal time. With a larger
    burst no slack is needed (a late wake-up leaves the bucket emptier, so the next start is not
    delayed) and none is given: a relay with the same burst would refuse a start that came early.

    Args:
        rate_limit: The budget to keep: ``rate`` starts per ``per`` seconds, ``burst`` at once.
    """

    __slots__ = ("_bucket", "_cold_restart", "_pause", "rate_limit")

    def __init__(self, rate_limit: RateLimit) -> None:
        self.rate_limit = rate_limit
        slack = min(0.5, rate_limit.per_second * TIMER_SLACK) if rate_limit.burst == 1 else 0.0
        capacity = rate_limit.burst + slack
        self._bucket = AsyncLimiter(capacity, capacity / rate_limit.per_second)
        self._pause = PauseWindow()
        # Start cold too: the first burst would go out on new connections whose set-up delays it, so
        # the relay would see it late and the next start early; one interval apart is safe from the start.
        self._cold_restart = rate_limit.burst > 1

    async def acquire(self) -> None:
        while True:
            if self._pause.active():
                await self._pause.wait()
            if self._cold_restart:
                await self._restart_without_burst()
            await self._bucket.acquire()
            if not self._pause.active():
                return
            # The token was granted during a pause. Spending it when the pause ends would release
            # every such holder at once (a burst the server just refused), so queue again instead.

    async def pause(self, seconds: float) -> None:
        """Hold back every request for ``seconds``, then resume at the steady rate, without a burst.

        Args:
            seconds: How long, from now; a shorter pause never cuts a longer one short.
        """
        self._pause.extend(seconds)
        self._cold_restart = self.rate_limit.burst > 1

    async def _restart_without_burst(self) -> None:
        """After a server-ordered pause, resume at the steady rate, not with a burst.

        The server just said we were too fast; its own bucket may not be as full as ours thinks.
        Filling ours (all but one token) makes the next starts come one interval apart.
        """
        self._cold_restart = False
        await self._bucket.acquire(self.rate_limit.burst - 1)

    def __repr__(self) -> str:
        return f"TokenBucket({self.rate_limit!r})"
