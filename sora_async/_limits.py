"""How fast requests may start: ``RateLimit``, the limiter protocol, and the local token bucket.

A limiter answers two things: "may I start a request now?" (``acquire``, which waits until yes) and
"the server told us to wait this long" (``pause``). The second is a fact about the API key, so a pause
holds back every request of the client, not only the one that was told; the Redis limiter spreads it
to a whole fleet.

The local bucket is aiolimiter's leaky bucket sized so that its capacity is the user's ``burst`` and
it drains at the user's rate: in any window of T seconds at most ``burst + rate * T`` requests start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs
from aiolimiter import AsyncLimiter

from ._errors import ValidationError

__all__ = ["Limiter", "NoLimit", "RateLimit", "TokenBucket", "make_limiter"]

TIMER_SLACK = 0.005
"""Seconds a token may be granted early, to absorb event-loop wake-up latency (see TokenBucket)."""


def _positive(field: str) -> Callable[[object, attrs.Attribute[float], float], None]:
    def check(_: object, __: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValidationError(field, "must be a positive number", value)

    return check


def _at_least_one(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("burst", "must be an integer >= 1", value)


@attrs.frozen
class RateLimit:
    """At most ``rate`` requests every ``per`` seconds, with up to ``burst`` at once.

    >>> RateLimit(10, per=1.0).per_second
    10.0
    >>> RateLimit(600, per=60, burst=5)
    RateLimit(rate=600, per=60, burst=5)
    """

    rate: float = attrs.field(validator=_positive("rate"))
    per: float = attrs.field(default=1.0, validator=_positive("per"))
    burst: int = attrs.field(default=1, kw_only=True, validator=_at_least_one)

    @property
    def per_second(self) -> float:
        """The steady rate in requests per second."""
        return self.rate / self.per


@runtime_checkable
class Limiter(Protocol):
    """What the client needs from a rate limiter. Implement it to plug in your own.

    >>> class Unlimited:
    ...     async def acquire(self) -> None:
    ...         pass
    ...     async def pause(self, seconds: float) -> None:
    ...         pass
    >>> isinstance(Unlimited(), Limiter)  # then: SoraClient(rate_limit=Unlimited())
    True
    """

    async def acquire(self) -> None:
        """Wait until one more request may start, then count it as started."""

    async def pause(self, seconds: float) -> None:
        """Hold back every request for ``seconds`` from now (the server asked us to wait)."""


class _PauseWindow:
    """The end of the latest pause, on the event loop's clock; waiting on it is cancellation-safe."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until = 0.0

    def active(self) -> bool:
        """Cheap check for the fast path: is a pause in force right now?"""
        return self._until > 0 and self._until > asyncio.get_running_loop().time()

    def extend(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + max(0.0, seconds)
        self._until = max(self._until, until)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := self._until - loop.time()) > 0:  # noqa: ASYNC110 - the end moves; re-check it
            await asyncio.sleep(remaining)


class NoLimit:
    """No fixed rate: requests start as fast as the concurrency gate allows, except during pauses."""

    __slots__ = ("_pause",)

    def __init__(self) -> None:
        self._pause = _PauseWindow()

    async def acquire(self) -> None:
        if self._pause.active():
            await self._pause.wait()

    async def pause(self, seconds: float) -> None:
        self._pause.extend(seconds)

    def __repr__(self) -> str:
        return "NoLimit()"


class TokenBucket:
    """A local token bucket for one process, built on aiolimiter.

    aiolimiter's bucket holds ``max_rate`` and drains over ``time_period``; setting ``max_rate`` to the
    burst and ``time_period`` to ``burst / rate`` gives a burst of ``burst`` and a steady ``rate``.
    With ``burst=1`` the capacity gets ``TIMER_SLACK`` seconds' worth of tokens on top: a waiter woken
    a little late by the event loop would otherwise push every later start back, and those delays add
    up (about 4% at 50 req/s). A start may so come up to 5 ms before its ideal time. With a larger
    burst no slack is needed (a late wake-up leaves the bucket emptier, so the next start is not
    delayed) and none is given: a relay with the same burst would refuse a start that came early.
    """

    __slots__ = ("_bucket", "_cold_restart", "_pause", "rate_limit")

    def __init__(self, rate_limit: RateLimit) -> None:
        self.rate_limit = rate_limit
        slack = min(0.5, rate_limit.per_second * TIMER_SLACK) if rate_limit.burst == 1 else 0.0
        capacity = rate_limit.burst + slack
        self._bucket = AsyncLimiter(capacity, capacity / rate_limit.per_second)
        self._pause = _PauseWindow()
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


def make_limiter(rate_limit: RateLimit | Limiter | None) -> Limiter:
    """The limiter for a ``SoraClient(rate_limit=...)`` argument."""
    if rate_limit is None:
        return NoLimit()
    if isinstance(rate_limit, RateLimit):
        return TokenBucket(rate_limit)
    if isinstance(rate_limit, Limiter):
        return rate_limit
    raise ValidationError("rate_limit", "must be a RateLimit, a Limiter or None", rate_limit)
