"""``make_limiter``: the limiter for what a user passed as ``SoraClient(rate_limit=...)``."""

from __future__ import annotations

from .._errors import ValidationError
from ._base import Limiter
from ._bucket import NoLimit, TokenBucket
from ._rate import RateLimit

__all__ = ["make_limiter"]


def make_limiter(rate_limit: object) -> Limiter:
    """No limit for None, a token bucket for a ``RateLimit``, a ``Limiter`` as it is.

    Anything else is refused before any request, naming the argument: an object that merely has an
    ``acquire`` method is not enough, because the client also calls ``pause``, ``observe`` and
    ``aclose``, which the ``Limiter`` base class provides.

    Args:
        rate_limit: What ``SoraClient(rate_limit=...)`` was given: None, a ``RateLimit`` or a
            ``Limiter``.

    Raises:
        ValidationError: Anything else (a duck-typed limiter too), before any request.
    """
    if rate_limit is None:
        return NoLimit()
    if isinstance(rate_limit, RateLimit):
        return TokenBucket(rate_limit)
    if isinstance(rate_limit, Limiter):
        return rate_limit
    duck_typed = hasattr(rate_limit, "acquire")
    hint = "; a class with acquire() must subclass sora_async.Limiter" if duck_typed else ""
    raise ValidationError("rate_limit", f"must be a RateLimit, a Limiter or None{hint}", rate_limit)
