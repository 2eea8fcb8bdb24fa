"""Rate limiters: how fast requests may start, and what to do when a relay says "too fast".

* ``Limiter`` - the base class; subclass it and write ``acquire`` to plug in your own.
* ``RateLimit`` - a known budget (rate, period, burst); the client turns it into a ``TokenBucket``.
* ``AdaptiveLimiter`` - the default when no rate is given: no client-side limit until the relay first
  answers 429, then a rate found from the relay's answers.
* ``RedisRateLimiter`` - one budget shared by a fleet of processes through Redis.

>>> import sora_async.limits as limits
>>> isinstance(limits.make_limiter(limits.RateLimit(5)), limits.Limiter)
True
"""

from .._errors import RateLimiterUnavailableError
from ._adaptive import AdaptiveLimiter
from ._base import Limiter
from ._bucket import NoLimit, TokenBucket
from ._make import make_limiter
from ._rate import RateLimit
from ._redis import RedisRateLimiter

__all__ = [
    "AdaptiveLimiter",
    "Limiter",
    "NoLimit",
    "RateLimit",
    "RateLimiterUnavailableError",
    "RedisRateLimiter",
    "TokenBucket",
    "make_limiter",
]
