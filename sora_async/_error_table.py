"""The one table of error kinds: what an HTTP status and a relay's error code mean.

Each answer the relay sends back as an error maps to an ``ErrorKind``: the exception class, the
verdict for a create and for a query (a 500 may have created a task, but a query that met one may
just be asked again), and whether every further request must fail too. The retry loop, the batch,
the command line's exit codes and the load test all read the verdict off the exception built here.

Codes come first (relays send some with HTTP 200, and ``model_not_found`` arrives as a 503 that is
not transient), then statuses, then the fallback by status class. Sources: API.md for the seed's
envelope codes, RELAYS.md (new-api's source) for the others.

>>> kind_of(503, "model_not_found", creates=True).verdict(creates=True).value
'fatal'
>>> bad_gateway = kind_of(502, None, creates=True)
>>> bad_gateway.verdict(creates=True).value, bad_gateway.verdict(creates=False).value
('ambiguous', 'retry')
"""

from __future__ import annotations

import attrs

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    Verdict,
)

__all__ = ["BY_CODE", "BY_STATUS", "OVERRIDING", "SATURATION_CODES", "ErrorKind", "kind_of"]

RETRY, AMBIGUOUS, FATAL = Verdict.RETRY, Verdict.AMBIGUOUS, Verdict.FATAL


@attrs.frozen
class ErrorKind:
    """What one kind of error answer means: its class, its verdicts, and its reach."""

    cls: type[APIStatusError]
    on_create: Verdict
    on_query: Verdict
    affects_all: bool = False
    """Every further request of the client would get the same answer (stop a batch at once)."""
    saturated: bool = False
    """The relay's upstream is saturated: wait seconds to minutes, client-wide, before trying again."""
    hint: str = ""
    """What to do about it, for messages and the command line."""

    def verdict(self, *, creates: bool) -> Verdict:
        return self.on_create if creates else self.on_query


def _kind(
    cls: type[APIStatusError],
    on_create: Verdict,
    on_query: Verdict | None = None,
    **more: object,
) -> ErrorKind:
    return ErrorKind(cls, on_create, on_query or on_create, **more)  # type: ignore[arg-type]


_WRONG_KEY = "check the API key ($SORA_API_KEY or --api-key)"
_NO_PERMISSION = "this key may not do this (or its quota is spent): check the key's group, models and balance"

SATURATION_CODES = frozenset({"fail_to_fetch_task"})
"""Relay codes that, with HTTP 429, mean the upstream is saturated (new-api's task routes)."""

# Relay codes. Those in OVERRIDING decide whatever the HTTP status; the others only when the
# status says nothing by itself (a 2xx carrying an error code, or a status outside BY_STATUS).
BY_CODE: dict[str, ErrorKind] = {
    "invalid_request": _kind(BadRequestError, FATAL),
    "invalid_api_key": _kind(AuthenticationError, FATAL, affects_all=True, hint=_WRONG_KEY),
    "invalid_token": _kind(AuthenticationError, FATAL, affects_all=True, hint=_WRONG_KEY),
    "task_not_exist": _kind(NotFoundError, FATAL),
    "rate_limit_exceeded": _kind(RateLimitError, RETRY),
    "model_not_found": _kind(
        BadRequestError,
        FATAL,
        affects_all=True,
        hint="the relay has no channel for this model: check the model name or the relay's channels",
    ),
    "insufficient_user_quota": _kind(PermissionDeniedError, FATAL, affects_all=True, hint=_NO_PERMISSION),
    "do_request_failed": _kind(ServerError, AMBIGUOUS, RETRY),
    "get_task_failed": _kind(ServerError, AMBIGUOUS, RETRY),
}

OVERRIDING = frozenset(
    {"invalid_api_key", "invalid_token", "task_not_exist", "rate_limit_exceeded", "model_not_found"}
)

# HTTP statuses, when the code says nothing more.
BY_STATUS: dict[int, ErrorKind] = {
    400: _kind(BadRequestError, FATAL),
    401: _kind(AuthenticationError, FATAL, affects_all=True, hint=_WRONG_KEY),
    402: _kind(PermissionDeniedError, FATAL, affects_all=True, hint=_NO_PERMISSION),
    403: _kind(PermissionDeniedError, FATAL, affects_all=True, hint=_NO_PERMISSION),
    404: _kind(NotFoundError, FATAL),
    405: _kind(APIStatusError, FATAL, affects_all=True, hint="check base_url and the relay dialect"),
    408: _kind(APIStatusError, RETRY),
    413: _kind(BadRequestError, FATAL),
    422: _kind(BadRequestError, FATAL),
    425: _kind(APIStatusError, RETRY),
    429: _kind(RateLimitError, RETRY),
    # Refused before any work was done (service unavailable, CDN cannot reach the origin).
    503: _kind(ServerError, RETRY),
    521: _kind(ServerError, RETRY),
    522: _kind(ServerError, RETRY),
    523: _kind(ServerError, RETRY),
}

_SATURATED = _kind(
    RateLimitError,
    RETRY,
    saturated=True,
    hint="the relay's upstream is saturated; it usually clears within minutes",
)
_WRONG_CREATE_ROUTE = _kind(
    NotFoundError, FATAL, affects_all=True, hint="no such route: check base_url and the relay dialect"
)
_SERVER = _kind(ServerError, AMBIGUOUS, RETRY)
_CLIENT = _kind(APIStatusError, FATAL)


def kind_of(status: int, code: str | None, *, creates: bool) -> ErrorKind:
    """The kind of an error answer: by code first, then status, then the status class."""
    if status == 429 and code in SATURATION_CODES:
        return _SATURATED
    by_code = BY_CODE.get(code) if code else None
    if by_code is not None and (code in OVERRIDING or status < 300):
        return by_code
    if status == 404 and creates:
        return _WRONG_CREATE_ROUTE  # a create route that does not exist: every create will fail
    by_status = BY_STATUS.get(status)
    if by_status is not None:
        return by_status
    if by_code is not None:
        return by_code
    return _SERVER if status >= 500 else _CLIENT
