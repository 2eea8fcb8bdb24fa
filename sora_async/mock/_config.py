"""`MockConfig`: every knob of the mock relay in one frozen value.

One immutable object (rather than a dozen constructor arguments spread over the server) lets the CLI build
it from flags, lets a test state the whole scenario in one line, and lets `MockRelay.configure` swap it
atomically with `attrs.evolve`, which re-runs the validators below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

import attrs

RetryAfterMode = Literal["seconds", "ms", "date", "none"]
"""How a 429 says when to come back: `Retry-After: <s>`, `retry-after-ms`, `Retry-After: <date>`, nothing."""

RETRY_AFTER_MODES: tuple[str, ...] = get_args(RetryAfterMode)


def _at_least(low: float) -> Callable[[object, attrs.Attribute[Any], float], None]:
    """Validator: a number no smaller than `low`, with a message naming the field and the value got."""

    def check(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            raise ValueError(f"'{attribute.name}' must be a number >= {low} (got {value!r})")

    return check


def _fraction(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """Validator: a probability, 0 <= value <= 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"'{attribute.name}' must be a fraction between 0 and 1 (got {value!r})")


def _optional_rate(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    """Validator: None (no limit) or a positive number of requests per second."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
        raise ValueError(f"'{attribute.name}' must be None or a number > 0 (got {value!r})")


def _retry_after_mode(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    """Validator: one of `RETRY_AFTER_MODES`."""
    if value not in RETRY_AFTER_MODES:
        raise ValueError(f"'{attribute.name}' must be one of {', '.join(RETRY_AFTER_MODES)} (got {value!r})")


@attrs.frozen(kw_only=True)
class MockConfig:
    """Behaviour of a mock relay; every field has a default that gives a healthy, unlimited relay.

    Timing: a task stays `queue_time` s in NOT_START, then `run_time` s in IN_PROGRESS, then ends.
    Faults (`fail_503`, `drop_before`, `fail_500_after`, `drop_after`) are fractions of create requests
    and must sum to at most 1; they are drawn from `random.Random(seed)`, so a fixed seed replays the
    same sequence of faults for the same sequence of requests.
    """

    api_key: str | None = attrs.field(default=None, repr=False)
    """Key required as `Authorization: Bearer <key>`; None accepts any key or none."""

    queue_time: float = attrs.field(default=0.2, validator=_at_least(0))
    run_time: float = attrs.field(default=1.0, validator=_at_least(0))
    failure_rate: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of tasks that end in FAILURE (a prompt containing "[fail]" always does)."""

    rate: float | None = attrs.field(default=None, validator=_optional_rate)
    """Requests per second allowed per bearer token; None means unlimited."""
    burst: int = attrs.field(default=1, validator=_at_least(1))
    limit_queries: bool = False
    """Whether GET (task queries) also spend rate-limit tokens; real relays leave queries free."""
    retry_after: RetryAfterMode = attrs.field(default="seconds", validator=_retry_after_mode)

    honour_idempotency: bool = True
    """A repeated `Idempotency-Key` returns the first task id instead of creating another task."""

    seed: int | None = None
    """Seed of every random choice (faults, failures, task ids); None draws a fresh seed."""
    fail_503: float = attrs.field(default=0.0, validator=_fraction)
    drop_before: float = attrs.field(default=0.0, validator=_fraction)
    fail_500_after: float = attrs.field(default=0.0, validator=_fraction)
    drop_after: float = attrs.field(default=0.0, validator=_fraction)
    latency: float = attrs.field(default=0.0, validator=_at_least(0))
    """Seconds added to every create (and to queries when `fault_queries`)."""
    latency_jitter: float = attrs.field(default=0.0, validator=_at_least(0))
    """Extra latency drawn uniformly from [0, latency_jitter]."""
    fault_queries: bool = False
    """Whether faults and latency also apply to GET task queries."""

    record_tasks: bool = True
    """Keep a small record per task so GET can answer; benchmarks of millions of creates may turn it off."""

    def __attrs_post_init__(self) -> None:
        """Reject fault fractions that cannot all happen: each request gets at most one fault."""
        total = self.fail_503 + self.drop_before + self.fail_500_after + self.drop_after
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"'fail_503' + 'drop_before' + 'fail_500_after' + 'drop_after' must be <= 1 (got {total:g})"
            )
