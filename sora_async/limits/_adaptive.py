"""Adaptive rate discovery: find the key's limit from 429s when nobody told us what it is.

A pacing limiter (starts spaced ``1 / rate`` apart, burst 1) whose rate a small controller steers:

* **slow start** - begin at ``initial_rate`` and grow by ``growth`` every ``growth_interval`` seconds
  while the limiter is what holds requests back, until the first 429;
* **on a 429** (only one sent after the last cut counts: older ones describe an older rate) - the
  rate that drew it becomes the known ceiling, and the new rate is what the relay actually accepted
  over the last ``WINDOW`` seconds, shaved by ``safety`` - never below half the rate that drew the 429;
* **steady state** - climb back towards the ceiling by a fraction of the gap each second, and probe
  past it only very slowly, because every 429 costs a pause.

A ``Retry-After`` is honoured as a hard pause (the client calls ``pause``). A fixed ``RateLimit`` given
as ``ceiling`` is never exceeded. The design follows the adaptive retry mode of botocore and TCP's
congestion control, tuned for relays whose 429s carry a second-granularity ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math

from ._base import Limiter, PauseWindow
from ._rate import RateLimit

__all__ = ["AdaptiveLimiter"]

logger = logging.getLogger("sora_async")


class AdaptiveLimiter(Limiter):
    """A limiter that discovers the rate a relay allows. Default for ``SoraClient(rate_limit=None)``.

    >>> AdaptiveLimiter(initial_rate=5).rate
    5.0
    """

    WINDOW = 2.0
    """Seconds of accepted starts that estimate the limit at a 429 (longer dilutes the relay's burst)."""
    SEEK = 0.04
    """Growth per step after the first 429 and before a measured limit: about 17% a second."""
    CLIMB = 0.005
    """Growth per step (every ``growth_interval``) below the estimated limit: about 2% a second."""
    PROBE = 0.0005
    """Growth per step above it: about 0.2% a second, so a raised limit is found without many 429s."""

    __slots__ = (
        "_accepted",
        "_ceiling",
        "_estimate",
        "_granted",
        "_last_change",
        "_last_cut",
        "_lock",
        "_next_start",
        "_pause",
        "_throttled",
        "_upper",
        "grace",
        "growth",
        "growth_interval",
        "initial_rate",
        "rate",
        "safety",
    )

    def __init__(
        self,
        *,
        initial_rate: float = 10.0,
        ceiling: RateLimit | None = None,
        growth: float = 2.0,
        growth_interval: float = 0.25,
        safety: float = 0.95,
        grace: float = 1.0,
    ) -> None:
        self._ceiling = ceiling.per_second if ceiling is not None else math.inf
        self.initial_rate = min(float(initial_rate), self._ceiling)
        self.rate = self.initial_rate
        self.growth = growth
        self.growth_interval = growth_interval
        self.safety = safety
        self.grace = grace
        self._lock = asyncio.Lock()
        self._upper = math.inf  # the lowest rate known to draw 429s
        self._estimate = math.inf  # what the relay accepted in the second before the last 429
        self._throttled = False  # True after the first 429: slow start is over
        self._next_start = 0.0
        self._last_change = 0.0
        self._last_cut = -math.inf
        self._accepted: collections.deque[float] = collections.deque()
        self._granted: collections.deque[float] = collections.deque()
        self._pause = PauseWindow()

    def __repr__(self) -> str:
        return f"AdaptiveLimiter(rate={self.rate:.2f}/s)"

    async def acquire(self) -> None:
        """Wait for this request's start slot; slots are ``1 / rate`` apart, at the rate of the moment.

        Waiters queue on a FIFO lock and each takes its slot when it reaches the head, so a rate change
        applies at once rather than after slots handed out at the old rate.
        """
        async with self._lock:
            if self._pause.active():
                await self._pause.wait()
            loop = asyncio.get_running_loop()
            now = loop.time()
            waited = self._next_start > now
            if waited:
                await asyncio.sleep(self._next_start - now)
                now = loop.time()
            self._adjust(now, bottleneck=waited or self._lock_has_waiters())
            self._next_start = max(now, self._next_start) + 1.0 / self.rate
            self._granted.append(now)

    def _lock_has_waiters(self) -> bool:
        waiters = getattr(self._lock, "_waiters", None)
        return bool(waiters)

    async def pause(self, seconds: float) -> None:
        self._pause.extend(seconds)

    def observe(self, *, started: float, throttled: bool) -> None:
        """Feedback from the client: an attempt that started at ``started`` was (not) answered 429."""
        now = asyncio.get_running_loop().time()
        if not throttled:
            self._accepted.append(started)
            self._forget(now)
            return
        if started < self._last_cut + self.grace:
            return  # sent before the last cut could take effect at the relay: already accounted for
        self._cut(now)

    def _forget(self, now: float) -> None:
        while self._accepted and self._accepted[0] < now - self.WINDOW:
            self._accepted.popleft()

    def _cut(self, now: float) -> None:
        """A 429 at the current rate: settle just under what the relay accepted over the last WINDOW s."""
        self._forget(now)
        drew_429 = self.rate
        accepted = len(self._accepted) / self.WINDOW
        self._upper = min(self._upper, drew_429)
        if self._throttled:  # the first 429 ends a ramp: the recent count says little yet
            self._estimate = accepted
        self.rate = min(self._ceiling, max(drew_429 / 2, min(drew_429, accepted) * self.safety))
        self._throttled = True
        self._last_cut = now
        self._last_change = now
        logger.info(
            "429 at %.1f/s (relay accepted %.1f/s lately): now %.1f/s",
            drew_429,
            accepted,
            self.rate,
        )

    def _adjust(self, now: float, *, bottleneck: bool) -> None:
        """Grow the rate when it has held for long enough and it is what holds requests back."""
        if not bottleneck or now - self._last_change < self.growth_interval:
            return
        self._last_change = now
        if not self._throttled:
            # Demand bounds the ramp: far above what is actually sent, a higher rate means nothing, and a
            # runaway rate would take many 429s to bring back down.
            while self._granted and self._granted[0] < now - self.WINDOW:
                self._granted.popleft()
            demand_cap = max(self.initial_rate, 10 * len(self._granted) / self.WINDOW)
            self.rate = min(self._ceiling, self.rate * self.growth, max(self.rate, demand_cap))
            return
        # Climb briskly while clearly under both the last 429 and the measured limit, then creep:
        # above the limit every step risks a 429, and a 429 may cost a whole second of pause.
        if math.isinf(self._estimate):
            step = self.SEEK
        else:
            brisk_until = min(self._upper * self.safety, self._estimate * 0.99)
            step = self.CLIMB if self.rate < brisk_until else self.PROBE
        self.rate = min(self._ceiling, self.rate * (1 + step))
