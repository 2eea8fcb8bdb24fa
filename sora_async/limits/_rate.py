"""``RateLimit``: what a user says about their key's budget, as one validated, frozen value.

A rate alone says nothing about bursts, and relays differ in how many requests they let through at
once, so the burst is part of the value (default 1: starts evenly spaced, which every relay accepts).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from .._errors import ValidationError

__all__ = ["RateLimit"]


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
