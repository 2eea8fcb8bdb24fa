"""Per-key rate limit by GCRA (the generic cell rate algorithm), with an exact wait on refusal.

GCRA keeps one number per key, the *theoretical arrival time* (TAT) of the next request if requests came
exactly at `rate`. A request at `now` is allowed when it is at most `burst - 1` intervals early, and then
pushes the TAT one interval on. Unlike a polled token bucket, the refusal tells exactly how long until
the request would be allowed, which is what the 429's `Retry-After` must carry for clients to be tested
against a truthful server. A refused request changes nothing, so a 429 does not use up a token.

Time is passed in by the caller (monotonic seconds), which keeps the limiter pure and testable.
"""

from __future__ import annotations

import math
import time
from email.utils import formatdate

from ._config import RetryAfterMode

_EPSILON = 1e-9
"""Slack for float rounding: a client that waits exactly the hinted time must be let in."""

_PRUNE_FLOOR = 1024


class GcraLimiter:
    """Allows `rate` requests per second per key, with bursts of up to `burst` requests."""

    __slots__ = ("_interval", "_prune_at", "_tat", "_tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        self._interval = 1.0 / rate
        self._tolerance = self._interval * (burst - 1)
        self._tat: dict[str, float] = {}
        self._prune_at = _PRUNE_FLOOR

    def acquire(self, key: str, now: float) -> float:
        """Admit one request of `key` at `now` and return 0.0, or return the seconds until one would be."""
        tat = max(self._tat.get(key, now), now)
        wait = tat - self._tolerance - now
        if wait > _EPSILON:
            return wait
        self._tat[key] = tat + self._interval
        if len(self._tat) > self._prune_at:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        """Forget keys whose TAT has passed: for them a missing entry means the same thing (a full bucket)."""
        self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
        self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._tat))


def wait_hint(mode: RetryAfterMode, wait: float) -> dict[str, str]:
    """The 429's wait header; every form is rounded up, so obeying it is never too early."""
    if mode == "seconds":
        return {"Retry-After": str(max(1, math.ceil(wait)))}
    if mode == "ms":
        return {"retry-after-ms": str(max(1, math.ceil(wait * 1000)))}
    if mode == "date":
        return {"Retry-After": formatdate(math.ceil(time.time() + wait), usegmt=True)}
    return {}
