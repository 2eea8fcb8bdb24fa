"""The retry policy: which failures are retried, how long to wait, and when to give up.

Three verdicts decide a failure's fate:

* **retry** - the server cannot have acted on it (429, 408, 503, a connection that never opened),
  or it is a query, which is free and idempotent;
* **ambiguous** - a create the server may have carried out (500/502/504/524, a timeout or a dropped
  connection after the body went out, a 200 we could not read). Retried only with
  ``retry_ambiguous=True``, under the same idempotency key; otherwise surfaced as
  ``AmbiguousSubmissionError`` so that nobody pays twice by accident;
* **fatal** - everything else (400, 401, 403, 404...): retrying would get the same answer.

The wait before a retry is the server's ``retry-after-ms`` / ``Retry-After`` (capped by
``max_retry_after``), else exponential backoff with full jitter. A server-given wait also pauses the
client's limiter, because it is a fact about the key.

Fast path: the first attempt runs bare; tenacity is only set up once something has failed, so a
request that succeeds pays for one ``try``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import attrs
import tenacity

from ._errors import AmbiguousSubmissionError, APIError, SoraError, ValidationError, Verdict

__all__ = ["CallState", "RetryEvent", "RetryPolicy", "Verdict", "classify", "run_with_retries"]

logger = logging.getLogger("sora_async")

T = TypeVar("T")


def _number_at_least(field: str, low: float) -> Callable[[Any, Any, Any], None]:
    def check(_: object, __: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
            raise ValidationError(field, f"must be a number >= {low:g}", value)

    return check


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How hard to try before giving up. Pass to ``SoraClient(retry=...)`` or per call.

    >>> RetryPolicy(max_attempts=3, retry_ambiguous=True).max_attempts
    3
    >>> RetryPolicy.none().max_attempts
    1
    """

    max_attempts: int = attrs.field(default=6, validator=_number_at_least("max_attempts", 1))
    """Attempts in all, the first included."""
    max_elapsed: float = attrs.field(default=300.0, validator=_number_at_least("max_elapsed", 0))
    """Seconds from the first attempt after which no new attempt starts."""
    initial_backoff: float = attrs.field(default=0.5, validator=_number_at_least("initial_backoff", 0))
    max_backoff: float = attrs.field(default=30.0, validator=_number_at_least("max_backoff", 0))
    max_retry_after: float = attrs.field(default=120.0, validator=_number_at_least("max_retry_after", 0))
    """The longest server-requested wait we honour; longer requests are cut to this."""
    retry_ambiguous: bool = False
    """Retry creates that may have succeeded (safe only if the relay honours Idempotency-Key)."""

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt, no retries."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


def classify(exc: BaseException, *, creates: bool) -> Verdict:
    """The verdict the exception carries; a query cannot be ambiguous (it is free and idempotent)."""
    verdict = exc.verdict if isinstance(exc, SoraError) else Verdict.FATAL
    if verdict is Verdict.AMBIGUOUS and not creates:
        return Verdict.RETRY
    return verdict


@attrs.frozen(kw_only=True)
class RetryEvent:
    """Passed to ``on_retry`` before each wait: what failed, which attempt, how long we wait.

    >>> def log_retry(event: RetryEvent) -> None:  # SoraClient(on_retry=log_retry)
    ...     print(f"{event.operation} attempt {event.attempt} failed; next in {event.wait:.1f}s")
    >>> log_retry(RetryEvent(operation="create_video", attempt=1, wait=0.5, cause=TimeoutError()))
    create_video attempt 1 failed; next in 0.5s
    """

    operation: str
    attempt: int
    wait: float
    cause: BaseException
    retry_after: float | None = None
    idempotency_key: str | None = None


@attrs.define(kw_only=True)
class CallState:
    """The running tally of one logical call (all its attempts)."""

    operation: str
    creates: bool
    idempotency_key: str | None = None
    attempts: int = 0
    saw_ambiguous: bool = False


Pause = Callable[[float], Awaitable[None]]
OnRetry = Callable[[RetryEvent], object]


async def run_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    state: CallState,
    pause: Pause,
    on_retry: OnRetry | None = None,
) -> T:
    """Run ``attempt`` until it succeeds or the policy gives up; raise the final, translated error."""
    started = asyncio.get_running_loop().time()
    try:
        return await attempt()
    except APIError as exc:
        if not _should_retry(exc, policy, state):
            _raise_final(exc, state)
        first_failure = exc
    return await _retry_loop(attempt, first_failure, started, policy, state, pause, on_retry)


async def _retry_loop(
    attempt: Callable[[], Awaitable[T]],
    first_failure: APIError,
    started: float,
    policy: RetryPolicy,
    state: CallState,
    pause: Pause,
    on_retry: OnRetry | None,
) -> T:
    """The slow path: tenacity drives attempts 2..n, replaying the first failure as its attempt 1."""
    replay: list[APIError] = [first_failure]

    async def attempt_or_replay() -> T:
        if replay:
            raise replay.pop()
        return await attempt()

    async def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        cause = _outcome_error(retry_state)
        retry_after = _server_wait(cause, policy)
        if retry_after is not None:
            await pause(retry_after)
        event = RetryEvent(
            operation=state.operation,
            attempt=retry_state.attempt_number,
            wait=retry_state.upcoming_sleep,
            cause=cause,
            retry_after=getattr(cause, "retry_after", None),
            idempotency_key=state.idempotency_key,
        )
        logger.debug(
            "%s attempt %d failed (%s: %s); retrying in %.3fs",
            state.operation,
            event.attempt,
            type(cause).__name__,
            cause,
            event.wait,
        )
        if on_retry is not None:
            on_retry(event)

    def wait(retry_state: tenacity.RetryCallState) -> float:
        cause = _outcome_error(retry_state)
        server_wait = _server_wait(cause, policy)
        return server_wait if server_wait is not None else policy.backoff(retry_state.attempt_number)

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts)
        | _StopPastDeadline(started + policy.max_elapsed),
        wait=wait,
        retry=tenacity.retry_if_exception(lambda exc: _should_retry(exc, policy, state)),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return await retrying(attempt_or_replay)
    except APIError as exc:
        if state.attempts > 1:
            logger.warning("%s gave up after %d attempts: %s", state.operation, state.attempts, exc)
        _raise_final(exc, state)


class _StopPastDeadline(tenacity.stop.stop_base):
    """Stop when the next attempt would start after the deadline (the first attempt's start + max_elapsed)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return asyncio.get_running_loop().time() + retry_state.upcoming_sleep > self.deadline


def _should_retry(exc: BaseException, policy: RetryPolicy, state: CallState) -> bool:
    verdict = classify(exc, creates=state.creates)
    if verdict is Verdict.AMBIGUOUS:
        state.saw_ambiguous = True
        return policy.retry_ambiguous
    return verdict is Verdict.RETRY


def _raise_final(exc: APIError, state: CallState) -> NoReturn:
    """A create that was ever ambiguous stays ambiguous: an earlier attempt may have made the task."""
    if state.creates and state.saw_ambiguous and state.idempotency_key is not None:
        raise AmbiguousSubmissionError(state.idempotency_key, exc, attempts=state.attempts) from exc
    raise exc


def _outcome_error(retry_state: tenacity.RetryCallState) -> BaseException:
    assert retry_state.outcome is not None
    exc = retry_state.outcome.exception()
    assert exc is not None
    return exc


def _server_wait(exc: BaseException, policy: RetryPolicy) -> float | None:
    retry_after = getattr(exc, "retry_after", None)
    return None if retry_after is None else min(float(retry_after), policy.max_retry_after)
