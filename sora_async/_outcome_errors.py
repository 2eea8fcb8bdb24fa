"""The errors beside ``APIError``: what became of a create or a task, and what kept a call from running.

A create that may or may not have made a task, a task that failed or outlived the wait, the fleet's
shared rate limiter out of reach, and anything unforeseen. None of them is a failed exchange with
the relay, so none is an ``APIError``: a caller handling network trouble does not catch them by
accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._error_base import SoraError, Verdict, home_in_errors

if TYPE_CHECKING:
    from ._task import VideoTask

__all__ = [
    "AmbiguousSubmissionError",
    "RateLimiterUnavailableError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnexpectedError",
]


class AmbiguousSubmissionError(SoraError):
    """A create call failed in a way where the relay may still have created (and billed) the task.

    Examples: a 500/502/504 answer, a timeout after the body was sent, a connection dropped before the
    answer arrived. sora_async does not retry these blindly (that could pay twice). Retry them yourself
    with the same ``idempotency_key`` against a relay that honours it, or pass
    ``RetryPolicy(retry_ambiguous=True)``.

    Args:
        idempotency_key: The key the create carried: repeat the create with it.
        cause: The failure that left the outcome unknown (a ``ServerError``, a timeout, ...).
        attempts: How many attempts were made before giving up.

    >>> cause = ServerError(status_code=502, code=None, message="bad gateway")
    >>> err = AmbiguousSubmissionError("key-123", cause, attempts=1)
    >>> err.idempotency_key, err.cause.status_code
    ('key-123', 502)
    """

    verdict = Verdict.AMBIGUOUS

    def __init__(self, idempotency_key: str, cause: BaseException, *, attempts: int = 1) -> None:
        self.idempotency_key = idempotency_key
        self.cause = cause
        self.attempts = attempts
        super().__init__(
            f"the relay may or may not have created this task ({type(cause).__name__}: {cause}); "
            f"idempotency key {idempotency_key}, after {attempts} attempt(s)"
        )


class TaskFailedError(SoraError):
    """The task finished with status FAILURE; ``task.fail_reason`` says why.

    Args:
        task: The finished task, kept whole as ``task``; its id and reason are copied out too.

    >>> from sora_async import TaskStatus, VideoTask
    >>> task = VideoTask(task_id="task_1", status=TaskStatus.FAILURE, fail_reason="content policy")
    >>> str(TaskFailedError(task))
    'task task_1 failed: content policy'
    """

    def __init__(self, task: VideoTask) -> None:
        self.task = task
        self.task_id = task.task_id
        self.fail_reason = task.fail_reason
        super().__init__(f"task {task.task_id} failed: {task.fail_reason or 'no reason given'}")


class TaskTimeoutError(SoraError, TimeoutError):
    """``wait_for_task`` gave up before the task finished; ``last_task`` is what it last saw.

    The task itself keeps running: wait for it again later.

    Args:
        task_id: The task waited for.
        waited: Seconds spent waiting.
        last_task: The task as the last query saw it, or None when no query succeeded.

    >>> err = TaskTimeoutError("task_1", 600.0, None)
    >>> isinstance(err, TimeoutError), str(err)
    (True, 'task task_1 not finished after waiting 600.0s (last status unknown)')
    """

    verdict = Verdict.RETRY

    def __init__(self, task_id: str, waited: float, last_task: VideoTask | None) -> None:
        self.task_id = task_id
        self.waited = waited
        self.last_task = last_task
        status = last_task.status.value if last_task else "unknown"
        progress = (
            f", progress {last_task.progress:g}%" if last_task and last_task.progress is not None else ""
        )
        super().__init__(
            f"task {task_id} not finished after waiting {waited:.1f}s (last status {status}{progress})"
        )


class RateLimiterUnavailableError(SoraError):
    """The Redis behind a ``RedisRateLimiter`` could not be reached and no fallback was configured.

    Every further request would fail the same way until Redis returns, so ``affects_all_requests``
    is True.

    Args:
        address: Redis's host:port (or socket path); it never includes a password.
        cause: The error the Redis client raised.

    >>> err = RateLimiterUnavailableError("cache.internal:6379", ConnectionError("refused"))
    >>> err.address
    'cache.internal:6379'
    """

    affects_all_requests = True

    def __init__(self, address: str, cause: BaseException) -> None:
        self.address = address
        self.cause = cause
        super().__init__(
            f"the shared rate limiter cannot reach Redis at {address} ({type(cause).__name__}: {cause}); "
            "start Redis or fix the URL, or pass fallback='local' with expected_fleet_size=N to keep "
            "going at 1/N of the rate until it returns"
        )


class UnexpectedError(SoraError):
    """Something the client did not foresee went wrong with one call; ``cause`` is what was raised.

    Raised instead of a raw exception so that every call ends in a ``SoraError`` and a batch or a
    stream records it against its item. A bug report should quote ``cause``.

    Args:
        cause: The exception raised; also set as ``__cause__``, so tracebacks show it.
        during: The call it happened in (e.g. ``"create_video"``), for the message.

    >>> err = UnexpectedError(KeyError("x"), during="create_video")
    >>> str(err), err.verdict.value
    ("unexpected KeyError during create_video: 'x'", 'fatal')
    """

    def __init__(self, cause: BaseException, *, during: str) -> None:
        self.cause = cause
        self.during = during
        detail = str(cause)
        suffix = f": {detail}" if detail else ""
        super().__init__(f"unexpected {type(cause).__name__} during {during}{suffix}")
        self.__cause__ = cause


home_in_errors(
    AmbiguousSubmissionError, TaskFailedError, TaskTimeoutError, RateLimiterUnavailableError, UnexpectedError
)
