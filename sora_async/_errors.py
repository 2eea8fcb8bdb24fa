"""Every exception sora_async raises, in one tree.

Catch ``SoraError`` to catch everything; catch a leaf to handle one situation::

    SoraError
    ├── ValidationError (also ValueError)   bad input, raised before any network I/O
    ├── ConfigurationError                  no key / base URL, insecure http, closed client, wrong route
    ├── APIError                            something went wrong talking to the relay
    │   ├── APIConnectionError              no usable HTTP answer (connect failed, connection dropped)
    │   │   └── APITimeoutError             ... because a timeout expired
    │   ├── APIResponseValidationError      an HTTP answer whose body we could not understand
    │   ├── DownloadError                   a video file did not arrive whole, or could not be saved
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
    ├── UnexpectedError                     anything else went wrong; ``cause`` is the original
    └── RateLimiterUnavailableError         the fleet's Redis cannot be reached

Every exception says what to do about it, so that nothing downstream decides again:

* ``verdict`` (``Verdict.RETRY`` / ``AMBIGUOUS`` / ``FATAL``): may the same call be repeated, may the
  relay have acted on it (a create: maybe paid for), or would repeating it get the same answer;
* ``affects_all_requests``: every further request of this client would fail the same way (a wrong
  key, no permission, a wrong base URL, no channel for the model), so a batch should stop.

For answers from the relay, both come from the one table in ``_error_table``.

No exception text ever contains the API key: messages are built from status, code and the relay's
message only, and bodies are truncated copies of what the relay sent back.
"""

from __future__ import annotations

import enum
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
    "DownloadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "ServerError",
    "SoraError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnexpectedError",
    "ValidationError",
    "Verdict",
    "status_error_class",
]

BODY_EXCERPT_LIMIT = 500
"""How much of a response body an exception keeps: enough to debug, never a whole HTML page."""


class Verdict(str, enum.Enum):
    """What a failure means for the call that met it: the answer to "may I try again?".

    >>> Verdict.AMBIGUOUS.value
    'ambiguous'
    """

    RETRY = "retry"
    """The relay cannot have acted on it (or the call is free and idempotent): safe to repeat."""
    AMBIGUOUS = "ambiguous"
    """A create the relay may have carried out: repeating it may pay twice."""
    FATAL = "fatal"
    """Repeating the call would get the same answer."""


class SoraError(Exception):
    """Base class of every error raised by sora_async: catch it to catch them all.

    >>> import sora_async as sa
    >>> try:
    ...     sa.VideoRequest(prompt="a fox", duration=7)
    ... except sa.SoraError as exc:
    ...     print(f"{type(exc).__name__}: {exc} [{exc.verdict.value}]")
    ValidationError: 'duration' must be 5 or 10 (seconds) (got 7) [fatal]
    """

    verdict: Verdict = Verdict.FATAL
    """May the call be repeated (``RETRY``), may it have been carried out (``AMBIGUOUS``), or not."""
    affects_all_requests: bool = False
    """True when every further request of the client would fail the same way: stop, fix, re-run."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state, not by constructor arguments (most take keyword-only arguments)."""
        return (_restore, (type(self), self.args, self.__dict__))


class ValidationError(SoraError, ValueError):
    """Input that the API would reject, caught before anything is sent.

    ``field`` names the offending field (dotted for nested ones, e.g. ``"sdedit.amount"``).

    >>> import sora_async as sa
    >>> try:
    ...     sa.VideoRequest(prompt="a fox", sdedit={"amount": 9, "source_generation_id": "gen_1"})
    ... except sa.ValidationError as exc:
    ...     print(exc.field, "|", exc.expected, "|", exc.got)
    sdedit.amount | must be between 1 and 8 | 9
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"'{field}' {expected} (got {_short_repr(got)})")


class ConfigurationError(SoraError):
    """The client is not set up to make this call (missing key or URL, closed, insecure).

    >>> import asyncio
    >>> from sora_async import SoraClient, VideoRequest
    >>> client = SoraClient(api_key="sk-...", base_url="https://relay.example")
    >>> asyncio.run(client.aclose())
    >>> client.submit(VideoRequest(prompt="a fox"))
    Traceback (most recent call last):
    ...
    sora_async._errors.ConfigurationError: this SoraClient is closed; create a new one
    """

    affects_all_requests = True


class APIError(SoraError):
    """A call to the relay did not produce a usable successful answer.

    ``request_sent`` tells whether the request may have reached the relay, which decides whether
    repeating a create is safe.

    >>> err = APIConnectionError("could not connect to https://relay.example", request_sent=False)
    >>> isinstance(err, APIError), err.request_sent
    (True, False)
    """

    request_sent: bool = True
    """Whether the request may have reached the server (decides whether a retry is safe)."""


class APIConnectionError(APIError):
    """No HTTP answer: the connection failed, was reset or closed early.

    >>> err = APIConnectionError("connection to https://relay.example failed", request_sent=True)
    >>> err.request_sent  # it may have arrived: for a create, that makes the failure ambiguous
    True
    """

    def __init__(self, message: str, *, request_sent: bool, verdict: Verdict | None = None) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self.verdict = verdict or (Verdict.AMBIGUOUS if request_sent else Verdict.RETRY)


class APITimeoutError(APIConnectionError):
    """A connect or read timeout expired before the relay answered.

    >>> err = APITimeoutError("timed out connecting to https://relay.example", request_sent=False)
    >>> isinstance(err, APIConnectionError), err.request_sent
    (True, False)
    """


class APIResponseValidationError(APIError):
    """The relay answered, but the body was not the envelope we expected.

    >>> err = APIResponseValidationError("not the JSON envelope", status_code=200, body="<html>...")
    >>> err.status_code, err.body
    (200, '<html>...')
    """

    verdict = Verdict.AMBIGUOUS

    def __init__(
        self, message: str, *, status_code: int, body: str = "", verdict: Verdict | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = _excerpt(body)
        if verdict is not None:
            self.verdict = verdict


class DownloadError(APIError):
    """A video file did not arrive whole, or could not be saved; ``client.download_video`` raises it.

    The body ended before the length the server promised (``received`` < ``expected``), the server
    answered a resume with bytes we did not ask for, or the file could not be written. A short body
    is retried (``verdict`` RETRY) and the next try resumes from ``received``: the partial file is
    kept as ``part_path`` until it is complete, so nothing already downloaded is fetched again.

    >>> err = DownloadError("the body ended short", received=1000, expected=4096)
    >>> err.verdict.value, err.received, err.expected
    ('retry', 1000, 4096)
    """

    verdict = Verdict.RETRY

    def __init__(
        self,
        message: str,
        *,
        received: int | None = None,
        expected: int | None = None,
        part_path: str | None = None,
        verdict: Verdict | None = None,
    ) -> None:
        super().__init__(message)
        self.received = received
        self.expected = expected
        self.part_path = part_path
        if verdict is not None:
            self.verdict = verdict


class APIStatusError(APIError):
    """The relay answered with an error status or a non-``success`` code.

    Carries what the relay said: ``status_code``, ``code``, ``message``, ``request_id`` (from
    ``x-request-id`` / ``request-id``), ``body`` (truncated) and ``retry_after`` (seconds the
    relay asked us to wait, if it said).

    >>> err = APIStatusError(status_code=418, code="teapot", message="short and stout", request_id="r-1")
    >>> str(err)
    'HTTP 418 teapot: short and stout (request id r-1)'
    """

    saturated: bool = False
    """The relay's upstream is saturated (new-api's 429 ``fail_to_fetch_task``): it takes minutes."""
    hint: str = ""
    """What to do about it, when the error table knows (e.g. check the key, the base URL)."""

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
        verdict: Verdict | None = None,
        affects_all_requests: bool | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = _excerpt(body)
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        if verdict is None or affects_all_requests is None:
            from ._error_table import kind_of  # the table imports this module

            kind = kind_of(status_code, code, creates=True)
            verdict = verdict or kind.verdict(creates=True)
            affects_all_requests = kind.affects_all if affects_all_requests is None else affects_all_requests
        self.verdict = verdict
        self.affects_all_requests = affects_all_requests
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
    """400 / 422: the relay rejected the request body.

    >>> status_error_class(400, "invalid_request") is BadRequestError
    True
    """


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong.

    >>> status_error_class(401, "invalid_api_key") is AuthenticationError
    True
    """


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this, or a CDN challenge page stood in the way.

    >>> status_error_class(403, None) is PermissionDeniedError
    True
    """


class NotFoundError(APIStatusError):
    """404, or a 400 whose code is ``task_not_exist``: no such task.

    >>> status_error_class(400, "task_not_exist") is NotFoundError
    True
    """


class RateLimitError(APIStatusError):
    """429: the key's rate limit was exceeded. ``retry_after`` is the wait the relay asked for, if any.

    >>> err = RateLimitError(status_code=429, code="rate_limit_exceeded", message="", retry_after=2.0)
    >>> err.retry_after
    2.0
    """


class ServerError(APIStatusError):
    """5xx: the relay or its upstream failed.

    >>> status_error_class(502, None) is ServerError
    True
    """


def status_error_class(status_code: int, code: str | None) -> type[APIStatusError]:
    """The exception class for an HTTP status and relay code (read from the one table)."""
    from ._error_table import kind_of

    return kind_of(status_code, code, creates=True).cls


class AmbiguousSubmissionError(SoraError):
    """A create call failed in a way where the relay may still have created (and billed) the task.

    Examples: a 500/502/504 answer, a timeout after the body was sent, a connection dropped before the
    answer arrived. sora_async does not retry these blindly (that could pay twice). Retry them yourself
    with the same ``idempotency_key`` against a relay that honours it, or pass
    ``RetryPolicy(retry_ambiguous=True)``.

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

    ``address`` is Redis's host:port (or socket path); it never includes a password.

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


def _restore(cls: type[SoraError], args: tuple[Any, ...], state: dict[str, Any]) -> SoraError:
    """Rebuild a pickled exception from its state without calling its constructor."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


def _excerpt(body: str) -> str:
    if len(body) <= BODY_EXCERPT_LIMIT:
        return body
    return body[:BODY_EXCERPT_LIMIT] + f"... [{len(body) - BODY_EXCERPT_LIMIT} more characters]"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
