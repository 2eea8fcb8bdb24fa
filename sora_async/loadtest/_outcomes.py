"""Outcome classes: what became of one load-test request, in the order report tables list them.

Samples store an outcome as a one-byte index into ``OUTCOMES``; this module is the only place that
turns an exception into that index.
"""

from __future__ import annotations

import asyncio

from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    SoraError,
    Verdict,
)

__all__ = ["OUTCOMES", "affects_all_requests", "classify_outcome", "outcome_index"]

OUTCOMES: tuple[str, ...] = (
    "ok",
    "rate_limited",
    "server_error",
    "ambiguous",
    "timeout",
    "connection",
    "other",
    "unfinished",
)
"""Outcome classes, in the order tables list them. ``unfinished``: cut off by cancellation or the drain."""

OK, RATE_LIMITED, SERVER_ERROR, AMBIGUOUS, TIMEOUT, CONNECTION, OTHER, UNFINISHED = range(len(OUTCOMES))


def classify_outcome(exc: BaseException | None) -> str:
    """The outcome class of a finished request.

    Args:
        exc: What the request raised, or None when it got a task id.

    Returns:
        One of ``OUTCOMES``: ``"ok"`` for None, else the class of the failure.

    >>> classify_outcome(None), classify_outcome(TimeoutError())
    ('ok', 'timeout')
    """
    return OUTCOMES[outcome_index(exc)]


def outcome_index(exc: BaseException | None) -> int:
    """The index into ``OUTCOMES`` of what a request raised (None: ok).

    Whether a failure is ``ambiguous`` (the relay may have created, and billed, the task) is the
    error's own verdict, decided once by the client for the call that raised it; the other classes
    say what kind of failure ended the request.
    """
    # Order matters: APITimeoutError is an APIConnectionError, RateLimitError an APIStatusError.
    if exc is None:
        return OK
    if _verdict(exc) is Verdict.AMBIGUOUS:
        return AMBIGUOUS
    if isinstance(exc, RateLimitError):
        return RATE_LIMITED
    if isinstance(exc, APIStatusError) and exc.status_code >= 500:
        return SERVER_ERROR
    if isinstance(exc, (APITimeoutError, asyncio.TimeoutError, TimeoutError)):
        return TIMEOUT
    if isinstance(exc, (APIConnectionError, OSError)):
        return CONNECTION
    return OTHER


def _verdict(exc: BaseException) -> Verdict | None:
    """The error's verdict (every ``SoraError`` has one); None for an exception from elsewhere."""
    return exc.verdict if isinstance(exc, SoraError) else None


def affects_all_requests(exc: BaseException) -> bool:
    """Whether every further request of the run would fail the same way, as the error itself says."""
    return isinstance(exc, SoraError) and exc.affects_all_requests
