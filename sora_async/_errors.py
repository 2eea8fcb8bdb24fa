"""Every exception sora_async raises, in one tree.

Catch ``SoraError`` to catch everything; catch a leaf to handle one situation::

    SoraError
    ├── ValidationError (also ValueError)   bad input, raised before any network I/O
    ├── ConfigurationError                  missing key / base URL, insecure http, closed client
    ├── APIError                            something went wrong talking to the relay
    │   ├── APIConnectionError              no usable HTTP answer (connect failed, connection dropped)
    │   │   └── APITimeoutError             ... because a timeout expired
    │   ├── APIResponseValidationError      an HTTP answer whose body we could not understand
    │   └── APIStatusError                  the relay answered with an error status or code
    │       ├── BadRequestError             400, 422
    │       ├── AuthenticationError         401
    │       ├── PermissionDeniedError       403 (also CDN challenge pages)
    │       ├── NotFoundError               404, and ``task_not_exist``
    │       ├── RateLimitError              429
    │       └── ServerError                 5xx
    ├── AmbiguousSubmissionError            a create that may or may not have made a task
    ├── TaskFailedError                     the task finished with status FAILURE
    ├── TaskTimeoutError (also TimeoutError) wait_for_task ran out of time
    └── RateLimiterUnavailableError         the fleet's Redis cannot be reached

No exception text ever contains the API key: messages are built from status, code and the relay's
message only, and bodies are truncated copies of what the relay sent back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import VideoTask

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousSubmissionError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "ServerError",
    "SoraError",
    "TaskFailedError",
    "TaskTimeoutError",
    "ValidationError",
    "status_error_class",
]

BODY_EXCERPT_LIMIT = 500
"""How much of a response body an exception keeps: enough to debug, never a whole HTML page."""


class SoraError(Exception):
    """Base class of every error raised by sora_async."""


class ValidationError(SoraError, ValueError):
    """Input that the API would reject, caught before anything is sent.

    ``field`` names the offending field (dotted for nested ones, e.g. ``"sdedit.amount"``).
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"'{field}' {expected} (got {_short_repr(got)})")


class ConfigurationError(SoraError):
    """The client is not set up to make this call (missing key or URL, closed, insecure)."""


class APIError(SoraError):
    """A call to the relay did not produce a usable successful answer."""

    request_sent: bool = True
    """Whether the request may have reached the server (decides whether a retry is safe)."""


class APIConnectionError(APIError):
    """No HTTP answer: the connection failed, was reset or closed early."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """A connect or read timeout expired before the relay answered."""


class APIResponseValidationError(APIError):
    """The relay answered, but the body was not the envelope we expected."""

    def __init__(self, message: str, *, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = _excerpt(body)


class APIStatusError(APIError):
    """The relay answered with an error status or a non-``success`` code.

    Carries what the relay said: ``status_code``, ``code``, ``message``, ``request_id`` (from
    ``x-request-id`` / ``request-id``), ``body`` (truncated) and ``retry_after`` (seconds the
    relay asked us to wait, if it said).
    """

    def __init__(
        self,
        *,
        status_code: int,
        code: str | None,
        message: str,
        request_id: str | None = None,
        body: str = "",
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = _excerpt(body)
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        parts = [f"HTTP {self.status_code}"]
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        message = " ".join(self.message.split())  # one line, whatever the relay put in it
        if message:
            text += f": {message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BadRequestError(APIStatusError):
    """400 / 422: the relay rejected the request body."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this, or a CDN challenge page stood in the way."""


class NotFoundError(APIStatusError):
    """404, or a 400 whose code is ``task_not_exist``: no such task."""


class RateLimitError(APIStatusError):
    """429: the key's rate limit was exceeded."""


class ServerError(APIStatusError):
    """5xx: the relay or its upstream failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def status_error_class(status_code: int, code: str | None) -> type[APIStatusError]:
    """Pick the exception class for an HTTP status and envelope code."""
    if code == "task_not_exist":
        return NotFoundError
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if status_code >= 500:
        return ServerError
    return APIStatusError


class AmbiguousSubmissionError(SoraError):
    """A create call failed in a way where the relay may still have created (and billed) the task.

    Examples: a 500/502/504 answer, a timeout after the body was sent, a connection dropped before the
    answer arrived. sora_async does not retry these blindly (that could pay twice). Retry them yourself
    with the same ``idempotency_key`` against a relay that honours it, or pass
    ``RetryPolicy(retry_ambiguous=True)``.
    """

    def __init__(self, idempotency_key: str, cause: BaseException, *, attempts: int = 1) -> None:
        self.idempotency_key = idempotency_key
        self.cause = cause
        self.attempts = attempts
        super().__init__(
            f"the relay may or may not have created this task ({type(cause).__name__}: {cause}); "
            f"idempotency key {idempotency_key}, after {attempts} attempt(s)"
        )


class TaskFailedError(SoraError):
    """The task finished with status FAILURE; ``task.fail_reason`` says why."""

    def __init__(self, task: VideoTask) -> None:
        self.task = task
        self.task_id = task.task_id
        self.fail_reason = task.fail_reason
        super().__init__(f"task {task.task_id} failed: {task.fail_reason or 'no reason given'}")


class TaskTimeoutError(SoraError, TimeoutError):
    """``wait_for_task`` gave up before the task finished; ``last_task`` is what it last saw."""

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

    ``address`` is Redis's host:port (or socket path); it never includes a password.
    """

    def __init__(self, address: str, cause: BaseException) -> None:
        self.address = address
        self.cause = cause
        super().__init__(
            f"the shared rate limiter cannot reach Redis at {address} ({type(cause).__name__}: {cause}); "
            "start Redis or fix the URL, or pass fallback='local' with expected_fleet_size=N to keep "
            "going at 1/N of the rate until it returns"
        )


def _excerpt(body: str) -> str:
    if len(body) <= BODY_EXCERPT_LIMIT:
        return body
    return body[:BODY_EXCERPT_LIMIT] + f"... [{len(body) - BODY_EXCERPT_LIMIT} more characters]"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
