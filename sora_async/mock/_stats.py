"""`RelayStats`: what the relay saw, for tests and benchmarks to assert on.

The counters answer the questions the SDK's promises raise: was a rate limit ever exceeded (when did the
accepted creates arrive), was a submission paid twice (was a task created twice for one idempotency key),
how many faults were injected.
"""

from __future__ import annotations

from array import array

import attrs

from ._faults import FAULT_KINDS


def _zero_faults() -> dict[str, int]:
    return dict.fromkeys(FAULT_KINDS, 0)


def _empty_times() -> array[float]:
    return array("d")


@attrs.define
class RelayStats:
    """Counters of one relay since it started or since `MockRelay.reset_stats()`."""

    requests: int = 0
    """Every HTTP request, whatever its route or answer."""
    create_requests: int = 0
    """Requests to the create route, whatever their answer."""
    query_requests: int = 0
    """Requests to the task query route, whatever their answer."""
    unauthorized: int = 0
    """401 answers."""
    invalid: int = 0
    """400 `invalid_request` answers to creates."""
    rate_limited: int = 0
    """429 answers of the rate limiter."""
    saturated: int = 0
    """429 answers of upstream saturation (`fail_to_fetch_task`, never with a Retry-After)."""
    model_not_found: int = 0
    """503 `model_not_found` answers (a model no channel serves)."""
    unknown_paths: int = 0
    """Requests to a path the profile does not serve (the dashboard page, or a 404 under /v1)."""
    content_requests: int = 0
    """Requests to the content route (`/v1/videos/{id}/content`), whatever their answer."""
    video_requests: int = 0
    """Requests to the CDN-style file URLs (`/videos/{name}`)."""
    video_requests_with_key: int = 0
    """Of those, the ones that carried an `Authorization` header: a client leaking its key to a CDN."""
    accepted: int = 0
    """Tasks created (a create that was faulted *after* creation counts: the task exists)."""
    replayed: int = 0
    """Creates answered with an existing task id because their idempotency key was seen before."""
    faults: dict[str, int] = attrs.Factory(_zero_faults)
    """Injected faults by kind: fail_503, drop_before, fail_500_after, drop_after."""
    creations_by_key: dict[str, int] = attrs.field(factory=dict, repr=False)
    """Idempotency key -> number of tasks created under it (more than one means a client paid twice)."""
    accepted_times: array[float] = attrs.field(factory=_empty_times, repr=False)
    """`time.monotonic()` at which each accepted create passed the rate limiter, in order of arrival.

    The arrival time (not the end of any injected latency) is what the rate limit judges, so it is the
    one to check "at most burst + rate * window starts in any window" against. A compact array of floats:
    a benchmark may create a million tasks.
    """

    @property
    def duplicates(self) -> dict[str, int]:
        """Idempotency keys under which more than one task was created, with their counts."""
        return {key: count for key, count in self.creations_by_key.items() if count > 1}

    def record_creation(self, idempotency_key: str | None, arrived: float) -> None:
        """Count one created task.

        Args:
            idempotency_key: The create's ``Idempotency-Key``, or None when it sent none (not counted
                per key then).
            arrived: ``time.monotonic()`` when the create passed the rate limiter.
        """
        self.accepted += 1
        self.accepted_times.append(arrived)
        if idempotency_key is not None:
            self.creations_by_key[idempotency_key] = self.creations_by_key.get(idempotency_key, 0) + 1
