"""The relay answered with an error: ``APIStatusError`` and a leaf per kind of answer.

Each carries what the relay said (status, code, message, request id, a cut copy of the body, the
wait it asked for). The class and the verdict of a status and code come from the one table in
``_error_table``; this module only holds the classes and builds their one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._api_errors import APIError, excerpt
from ._error_base import Verdict, home_in_errors

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "status_error_class",
]


class APIStatusError(APIError):
    """The relay answered with an error status or a non-``success`` code.

    Carries what the relay said: ``status_code``, ``code``, ``message``, ``request_id`` (from
    ``x-request-id`` / ``request-id``), ``body`` (truncated) and ``retry_after`` (seconds the
    relay asked us to wait, if it said).

    Args:
        status_code: The HTTP status of the answer.
        code: The relay's error code (e.g. ``"rate_limit_exceeded"``), or None when it sent none.
        message: The relay's error message; folded onto one line in ``str(err)``.
        request_id: The relay's request id, quoted in the message for its support.
        body: The body as text; only its first ``BODY_EXCERPT_LIMIT`` characters are kept.
        retry_after: Seconds the relay asked us to wait (``Retry-After``), or None.
        headers: The answer's headers, kept as a plain dict.
        verdict: Overrides the verdict the error table gives this status and code (for a create).
        affects_all_requests: Overrides the table's word on whether every request would fail so.

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
        self.body = excerpt(body)
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


home_in_errors(
    APIStatusError,
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    RateLimitError,
    ServerError,
)


def status_error_class(status_code: int, code: str | None) -> type[APIStatusError]:
    """The exception class for an HTTP status and relay code (read from the one table).

    Args:
        status_code: The HTTP status of the answer.
        code: The relay's error code, or None.
    """
    from ._error_table import kind_of

    return kind_of(status_code, code, creates=True).cls
