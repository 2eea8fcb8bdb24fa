"""The relay gave no usable answer: ``APIError`` and its leaves that carry no error status.

A connection that failed or dropped, a timeout, a body we could not understand, a video file that
did not arrive whole. What they share is ``request_sent``: whether the relay may have seen the
request, which is what decides whether repeating a create is safe. The relay's error answers
(``APIStatusError`` and its leaves) are in ``_status_errors``.
"""

from __future__ import annotations

from ._error_base import SoraError, Verdict, home_in_errors

__all__ = [
    "BODY_EXCERPT_LIMIT",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "DownloadError",
    "excerpt",
]

BODY_EXCERPT_LIMIT = 500
"""How much of a response body an exception keeps: enough to debug, never a whole HTML page."""


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

    Args:
        message: What failed, naming the relay's address (never the key).
        request_sent: Whether the request may have reached the relay: True once any of it was sent.
        verdict: Overrides the default, which is ``AMBIGUOUS`` when the request may have been sent
            (a create may have happened) and ``RETRY`` when it cannot have been.

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

    Takes the arguments of ``APIConnectionError``: a connect timeout has ``request_sent=False``.

    >>> err = APITimeoutError("timed out connecting to https://relay.example", request_sent=False)
    >>> isinstance(err, APIConnectionError), err.request_sent
    (True, False)
    """


class APIResponseValidationError(APIError):
    """The relay answered, but the body was not the envelope we expected.

    Ambiguous by default: a create whose answer cannot be read may still have made a task.

    Args:
        message: What was wrong with the body (not JSON, too large, no task id, ...).
        status_code: The HTTP status of the answer.
        body: The body as text; only its first ``BODY_EXCERPT_LIMIT`` characters are kept.
        verdict: Overrides the default ``AMBIGUOUS`` (e.g. ``RETRY`` for a query).

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
        self.body = excerpt(body)
        if verdict is not None:
            self.verdict = verdict


class DownloadError(APIError):
    """A video file did not arrive whole, or could not be saved; ``client.download_video`` raises it.

    The body ended before the length the server promised (``received`` < ``expected``), the server
    answered a resume with bytes we did not ask for, or the file could not be written. A short body
    is retried (``verdict`` RETRY) and the next try resumes from ``received``: the partial file is
    kept as ``part_path`` until it is complete, so nothing already downloaded is fetched again.

    Args:
        message: What went wrong with the file.
        received: Bytes of the file on disk so far, when known.
        expected: The file's full length, when the server said it.
        part_path: The partial file kept for the next try to resume, if any.
        verdict: Overrides the default ``RETRY`` (e.g. ``FATAL`` when the disk refuses the file).

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


home_in_errors(APIError, APIConnectionError, APITimeoutError, APIResponseValidationError, DownloadError)


def excerpt(body: str) -> str:
    """The start of a response body, marked as cut when it was longer than ``BODY_EXCERPT_LIMIT``.

    Args:
        body: The whole body as text.
    """
    if len(body) <= BODY_EXCERPT_LIMIT:
        return body
    return body[:BODY_EXCERPT_LIMIT] + f"... [{len(body) - BODY_EXCERPT_LIMIT} more characters]"
