"""The retry policy: which failures are retried, how long to wait, and when to give up.

Every failure carries its verdict (``_error_table``): **retry** (the relay cannot have acted on it,
or the call is a free query), **ambiguous** (a create the relay may have carried out: retried only
with ``retry_ambiguous=True``, else surfaced as ``AmbiguousSubmissionError`` so nobody pays twice by
accident) or **fatal** (repeating it would get the same answer).

The loop, top to bottom: attempt 1 runs bare (a request that succeeds pays for one ``try``, nothing
else: tenacity costs ~100 us a call to set up; the request core writes it out itself and hands a
failure to ``retry_after_failure``); if it failed with a retry verdict, the wait it asks
for passes, and tenacity drives attempts 2..n with the verdict as its retry predicate and the
server's wait as its wait. The wait is ``retry-after-ms`` / ``Retry-After`` (capped by
``max_retry_after``) where the relay gave one, else exponential backoff with full jitter; a
server-given wait, and the client-wide wait of a throttle without one (``_throttle``), also pause
the limiter, because they are facts about the key. Throttled attempts (429) do not count against
``max_attempts``: saturation lasts seconds to minutes, so they are bounded by ``max_elapsed`` only.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import tenacity

from ._checks import check_at_least, field_check
from ._errors import AmbiguousSubmissionError, RateLimitError, SoraError, Verdict
from ._throttle import ThrottleWatch

__all__ = [
    "CallState",
    "RetryEvent",
    "RetryPolicy",
    "Verdict",
    "classify",
    "retry_after_failure",
    "run_with_retries",
]

logger = logging.getLogger("sora_async")

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How hard to try before giving up. Pass to ``SoraClient(retry=...)`` or per call.

    >>> RetryPolicy(max_attempts=3, retry_ambiguous=True).max_attempts
    3
    >>> RetryPolicy.none().max_attempts
    1
    """

    max_attempts: int = attrs.field(default=6, validator=field_check(check_at_least, 1))
    """Attempts in all, the first included, not counting those answered 429 (see ``max_elapsed``)."""
    max_elapsed: float = attrs.field(default=300.0, validator=field_check(check_at_least, 0))
    """Seconds from the first attempt after which no new attempt starts; the only bound on 429s,
    because a saturated relay takes seconds to minutes to recover."""
    initial_backoff: float = attrs.field(default=0.5, validator=field_check(check_at_least, 0))
    """Seconds of the first backoff ceiling; each failed attempt doubles it (full jitter: the wait is
    random below it). Backoff is the wait when the relay names none."""
    max_backoff: float = attrs.field(default=30.0, validator=field_check(check_at_least, 0))
    """The largest backoff ceiling, in seconds."""
    max_retry_after: float = attrs.field(default=120.0, validator=field_check(check_at_least, 0))
    """The longest server-requested wait we honour; longer requests are cut to this."""
    retry_ambiguous: bool = False
    """Retry creates that may have succeeded (safe only if the relay honours Idempotency-Key)."""

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt, no retries (not even after a 429)."""
        return cls(max_attempts=1, max_elapsed=0)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after failed attempt number ``attempt`` (1-based).

        Args:
            attempt: The number of the attempt that failed, 1-based.

        Returns:
            A random wait in seconds, between 0 and
                ``min(max_backoff, initial_backoff * 2 ** (attempt - 1))``.
        """
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
    """The call being retried: ``"create_video"``, ``"get_task"`` or ``"download_video"``."""
    attempt: int
    """The number of the attempt that failed, 1-based."""
    wait: float
    """Seconds this call sleeps before its next attempt (which may then wait for a concurrency slot
    and, for a create, a rate token)."""
    cause: BaseException
    """The error of the failed attempt."""
    retry_after: float | None = None
    """The wait the relay asked for (``retry-after-ms`` or ``Retry-After``, before the
    ``max_retry_after`` cap), or None."""
    idempotency_key: str | None = None
    """The create's key, the same on every attempt; None for ``get_task`` and downloads."""


@attrs.define(kw_only=True, slots=True)
class CallState:
    """The running tally of one logical call (all its attempts)."""

    operation: str
    creates: bool
    idempotency_key: str | None = None
    attempts: int = 0
    throttled: int = 0
    """Attempts answered 429: they do not count against ``max_attempts``."""
    saw_ambiguous: bool = False
    started: float = 0.0
    """Loop time at which attempt 1 began: ``max_elapsed`` counts from it."""


Pause = Callable[[float], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[RetryEvent], object]


async def run_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    state: CallState,
    pause: Pause,
    on_retry: OnRetry | None = None,
    throttle: ThrottleWatch | None = None,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """Run ``attempt`` until it succeeds or the policy gives up; raise the final error."""
    started = asyncio.get_running_loop().time()
    try:
        return await attempt()  # the fast path
    except SoraError as exc:
        first = exc
    return await retry_after_failure(
        first,
        attempt,
        started=started,
        policy=policy,
        state=state,
        pause=pause,
        on_retry=on_retry,
        throttle=throttle,
        sleep=sleep,
    )


async def retry_after_failure(
    first: SoraError,
    attempt: Callable[[], Awaitable[T]],
    *,
    started: float,
    policy: RetryPolicy,
    state: CallState,
    pause: Pause,
    on_retry: OnRetry | None = None,
    throttle: ThrottleWatch | None = None,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """The slow path: attempt 1 (begun at loop time ``started``) failed with ``first``.

    Raise at once if its verdict or the policy says so; else wait, and let tenacity drive attempts
    2..n. The request core runs attempt 1 itself, so a call that succeeds never gets here. ``sleep``
    waits out each backoff (the request core's ends early when the client closes).
    """
    retries = _Retries(policy, state, pause, on_retry, throttle, sleep, deadline=started + policy.max_elapsed)
    if not retries.may_retry(first) or retries.past_deadline(first, 1):
        raise retries.final(first)
    await retries.wait_after(first, attempt_number=1)
    retrying = tenacity.AsyncRetrying(
        sleep=sleep,
        stop=retries.stop,
        wait=retries.tenacity_wait,
        retry=tenacity.retry_if_exception(retries.may_retry),
        before_sleep=retries.before_sleep,
        reraise=True,
    )
    try:
        return await retrying(attempt)
    except SoraError as exc:
        raise retries.final(exc)  # noqa: B904 - final() chains an ambiguous error to its cause


class _Retries:
    """The slow path's decisions for one call, shared by its first failure and tenacity's loop."""

    def __init__(
        self,
        policy: RetryPolicy,
        state: CallState,
        pause: Pause,
        on_retry: OnRetry | None,
        throttle: ThrottleWatch | None,
        sleep: Sleep,
        *,
        deadline: float,
    ) -> None:
        self.policy = policy
        self.state = state
        self.pause = pause
        self.on_retry = on_retry
        self.throttle = throttle
        self.sleep = sleep
        self.deadline = deadline
        self._waits: dict[int, tuple[float, float]] = {}

    def may_retry(self, exc: BaseException) -> bool:
        """The exception's verdict, as tenacity's retry predicate."""
        verdict = classify(exc, creates=self.state.creates)
        if verdict is Verdict.AMBIGUOUS:
            self.state.saw_ambiguous = True
            return self.policy.retry_ambiguous
        return verdict is Verdict.RETRY

    def wait_for(self, exc: BaseException, attempt_number: int) -> float:
        """The wait after failed attempt ``attempt_number``: the server's, else jittered backoff."""
        return self._decide(exc, attempt_number)[0]

    def _decide(self, exc: BaseException, attempt_number: int) -> tuple[float, float]:
        """(this call's wait, the client-wide pause), decided once per failed attempt."""
        if attempt_number not in self._waits:
            self._waits[attempt_number] = self._compute_wait(exc, attempt_number)
        return self._waits[attempt_number]

    def _compute_wait(self, exc: BaseException, attempt_number: int) -> tuple[float, float]:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = min(float(retry_after), self.policy.max_retry_after)
            return wait, wait
        backoff = self.policy.backoff(attempt_number)
        if isinstance(exc, RateLimitError) and self.throttle is not None:
            client_wide = self.throttle.client_wait(saturated=exc.saturated)
            return max(backoff, client_wide), client_wide
        return backoff, 0.0

    def tenacity_wait(self, retry_state: tenacity.RetryCallState) -> float:
        # tenacity counts from the second attempt (the first ran bare)
        return self.wait_for(_outcome_error(retry_state), retry_state.attempt_number + 1)

    def past_deadline(self, exc: BaseException, attempt_number: int) -> bool:
        """Stop when the next attempt would start after the deadline, or attempts are spent."""
        if isinstance(exc, RateLimitError):
            self.state.throttled += 1
        counted = self.state.attempts - self.state.throttled
        if counted >= self.policy.max_attempts:
            return True
        wait = self.wait_for(exc, attempt_number)
        return asyncio.get_running_loop().time() + wait > self.deadline

    def stop(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.past_deadline(_outcome_error(retry_state), retry_state.attempt_number + 1)

    async def before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        exc = _outcome_error(retry_state)
        attempt_number = retry_state.attempt_number + 1
        await self._announce(exc, attempt_number, self.wait_for(exc, attempt_number))

    async def wait_after(self, exc: BaseException, *, attempt_number: int) -> None:
        """Attempt 1's wait, before tenacity takes over (tenacity sleeps its own waits)."""
        wait = self.wait_for(exc, attempt_number)
        await self._announce(exc, attempt_number, wait)
        await self.sleep(wait)

    async def _announce(self, exc: BaseException, attempt_number: int, wait: float) -> None:
        """Pause the client for a server-given or client-wide wait, then log and tell ``on_retry``."""
        retry_after = getattr(exc, "retry_after", None)
        client_pause = self._decide(exc, attempt_number)[1]
        if client_pause > 0:
            await self.pause(client_pause)
        event = RetryEvent(
            operation=self.state.operation,
            attempt=attempt_number,
            wait=wait,
            cause=exc,
            retry_after=retry_after,
            idempotency_key=self.state.idempotency_key,
        )
        logger.debug(
            "%s attempt %d failed (%s: %s); retrying in %.3fs",
            self.state.operation,
            attempt_number,
            type(exc).__name__,
            exc,
            wait,
        )
        if self.on_retry is not None:
            self.on_retry(event)

    def final(self, exc: SoraError) -> SoraError:
        """The error to raise: a create that was ever ambiguous stays ambiguous."""
        state = self.state
        if state.attempts > 1:
            logger.warning("%s gave up after %d attempts: %s", state.operation, state.attempts, exc)
        if (
            state.creates
            and state.saw_ambiguous
            and state.idempotency_key is not None
            and not isinstance(exc, AmbiguousSubmissionError)
        ):
            ambiguous = AmbiguousSubmissionError(state.idempotency_key, exc, attempts=state.attempts)
            ambiguous.__cause__ = exc
            return ambiguous
        return exc


def _outcome_error(retry_state: tenacity.RetryCallState) -> BaseException:
    assert retry_state.outcome is not None
    exc = retry_state.outcome.exception()
    assert exc is not None
    return exc
