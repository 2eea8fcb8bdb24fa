"""``RateLimit``: what a user says about their key's budget, as one validated, frozen value.

A rate alone says nothing about bursts, and relays differ in how many requests they let through at
once, so the burst is part of the value (default 1: starts evenly spaced, which every relay accepts).
"""

from __future__ import annotations

import attrs

from .._checks import check_positive, check_positive_int, field_check

__all__ = ["RateLimit"]


@attrs.frozen
class RateLimit:
    """At most ``rate`` requests every ``per`` seconds, with up to ``burst`` at once.

    Raises:
        ValidationError: A value of the wrong type or range; ``field`` names it.

    >>> RateLimit(10, per=1.0).per_second
    10.0
    >>> RateLimit(600, per=60, burst=5)
    RateLimit(rate=600, per=60, burst=5)
    """

    rate: float = attrs.field(validator=field_check(check_positive))
    """Requests allowed in each window of ``per`` seconds; a positive number."""
    per: float = attrs.field(default=1.0, validator=field_check(check_positive))
    """The window in seconds; a positive number. ``RateLimit(600, per=60)`` is 10 a second."""
    burst: int = attrs.field(default=1, kw_only=True, validator=field_check(check_positive_int))
    """Requests that may start at once after a quiet spell; an integer >= 1. The default 1 spaces every start
    evenly, which no relay refuses; a larger one is faster only against a relay known to allow that burst."""

    @property
    def per_second(self) -> float:
        """The steady rate in requests per second."""
        return self.rate / self.per
