"""Client-wide waits for throttles that come without a wait: riding out a saturated relay.

A 429 with ``Retry-After`` says how long to wait; many real ones do not (RELAYS.md): new-api's task
routes answer 429 ``fail_to_fetch_task`` when the upstream is saturated, after the relay already
retried its other channels, and such saturation lasts seconds to minutes. Each request backing off
on its own would keep hammering the relay with short jittered retries and give up within seconds.

So the client keeps one ``ThrottleWatch``. A 429 without a wait costs nothing extra while other
requests still succeed (a rate limit being found; the adaptive limiter handles it). Once 429s have
come for ``streak`` seconds with no success between them, or at once for a saturation code, the
whole client pauses, for a jittered wait that doubles with each further round of 429s, up to
``max_wait``; a success resets it. Only one round counts per pause, however many requests were
answered 429 during it, so a burst of 64 in-flight refusals doubles the wait once, not 64 times.
Each call stays bounded by its own ``max_elapsed``.

>>> now = [0.0]
>>> watch = ThrottleWatch(clock=lambda: now[0], jitter=lambda w: w)
>>> watch.client_wait(saturated=True)
2.0
>>> now[0] = 2.5; watch.client_wait(saturated=True)
4.0
>>> watch.succeeded(); now[0] = 10.0; watch.client_wait(saturated=False)
0.0
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["ThrottleWatch"]


def _full_jitter_above_half(wait: float) -> float:
    """Between half and all of ``wait``: spread out, but never so short it is wasted."""
    return random.uniform(wait / 2, wait)


class ThrottleWatch:
    """Remembers, client-wide, how long the relay has been refusing, and says how long to pause."""

    __slots__ = ("_clock", "_jitter", "_level", "_paused_until", "_since", "first_wait", "max_wait", "streak")

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        first_wait: float = 2.0,
        max_wait: float = 60.0,
        streak: float = 1.0,
        jitter: Callable[[float], float] = _full_jitter_above_half,
    ) -> None:
        self._clock = clock
        self._jitter = jitter
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.streak = streak
        self._since: float | None = None
        self._level = 0.0
        self._paused_until = 0.0

    def succeeded(self) -> None:
        """A request got through: the relay is not saturated (cheap: called on every success)."""
        if self._since is not None:
            self._since = None
            self._level = 0.0

    def client_wait(self, *, saturated: bool) -> float:
        """The client-wide pause to start now for a 429 without a wait (0.0: none)."""
        now = self._clock()
        if self._since is None:
            self._since = now
        if now < self._paused_until:
            return 0.0  # this round of refusals is already being waited out
        if not saturated and now - self._since < self.streak:
            return 0.0
        self._level = min(self.max_wait, self._level * 2 if self._level else self.first_wait)
        wait = self._jitter(self._level)
        self._paused_until = now + wait
        return wait
