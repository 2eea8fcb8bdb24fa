"""What load to send and when to stop: ``LoadTestOptions``, checked when it is built."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from .._checks import check_at_least, check_positive, check_positive_int, field_check
from .._errors import ValidationError
from .._models import VideoRequest
from .._retry import RetryPolicy

__all__ = ["LoadTestOptions", "Mode"]

Mode = Literal["open", "closed"]
"""``"open"``: arrivals at a fixed rate; ``"closed"``: workers sending back to back."""

_positive = field_check(check_positive)
_positive_or_none = field_check(check_positive, optional=True)
_non_negative = field_check(check_at_least, 0)
_count = field_check(check_positive_int)
_optional_count = field_check(check_positive_int, optional=True)


def _request(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, VideoRequest):
        raise ValidationError("request", "must be a VideoRequest", value)


@attrs.frozen(kw_only=True)
class LoadTestOptions:
    """What load to send and when to stop.

    At least one of ``duration`` and ``requests`` is required; with both, the run stops at whichever
    comes first. Every value is checked here, so a mistake shows before any request is sent.

    Raises:
        ValidationError: A value out of range, a knob of the other mode (``rate`` in closed loop), or
            no bound on the run; ``field`` names the offending option.

    >>> from sora_async import VideoRequest
    >>> LoadTestOptions(mode="open", rate=20, duration=10, request=VideoRequest(prompt="x")).mode
    'open'
    """

    mode: Mode = "open"
    """``"open"`` (arrivals at ``rate`` per second, whatever the answers: how a relay behaves under a given
    load) or ``"closed"`` (``concurrency`` workers, each sending its next request when the last one is
    answered: what the relay can sustain)."""
    rate: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Open loop: arrivals per second. Must be None in closed loop."""
    concurrency: int = attrs.field(default=32, validator=_count)
    """Closed loop: the number of workers. (In open loop the client's ``max_concurrency`` governs.)"""
    duration: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Seconds of measured load (after the warm-up)."""
    requests: int | None = attrs.field(default=None, validator=_optional_count)
    """Measured requests to send (warm-up requests not counted)."""
    request: VideoRequest = attrs.field(validator=_request)
    """The create request every arrival sends (each with its own idempotency key)."""
    warmup: float = attrs.field(default=0.0, validator=_non_negative)
    """Seconds of load sent first and left out of the report: connections opened, the relay warmed up."""
    retry: RetryPolicy | None = None
    """Retry policy per request; None uses the client's own. ``RetryPolicy.none()`` measures raw answers."""
    max_outstanding: int = attrs.field(default=10_000, validator=_count)
    """Open loop: requests in flight at most; arrivals beyond it are counted as dropped, not sent, so a slow
    relay cannot make the load tester itself run out of memory."""
    drain_timeout: float = attrs.field(default=30.0, validator=_non_negative)
    """Seconds to wait, once sending stopped, for requests still in flight; the rest are 'unfinished'."""
    tick_interval: float = attrs.field(default=0.5, validator=_positive)
    """Seconds between two ``on_tick`` snapshots."""

    def __attrs_post_init__(self) -> None:
        """Cross-field rules: each mode has what it needs, and the run is bounded."""
        if self.mode not in ("open", "closed"):
            raise ValidationError("mode", "must be 'open' or 'closed'", self.mode)
        if self.mode == "open" and self.rate is None:
            raise ValidationError("rate", "is required in open loop (arrivals per second)", self.rate)
        if self.mode == "closed" and self.rate is not None:
            raise ValidationError(
                "rate", "only applies to mode='open'; closed loop uses 'concurrency'", self.rate
            )
        if self.duration is None and self.requests is None:
            raise ValidationError("duration/requests", "at least one must be set to bound the run", None)
