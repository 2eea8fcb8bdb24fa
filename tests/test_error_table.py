"""The one table of error kinds: each status and relay code gets its class, verdict and reach."""

from __future__ import annotations

import pytest

import sora_async as sa
from sora_async._error_table import kind_of

R, A, F = sa.Verdict.RETRY, sa.Verdict.AMBIGUOUS, sa.Verdict.FATAL

ROWS = [
    # status, code, class, verdict on create, verdict on query, affects all requests
    (400, "invalid_request", sa.BadRequestError, F, F, False),
    (200, "invalid_request", sa.BadRequestError, F, F, False),
    (401, None, sa.AuthenticationError, F, F, True),
    (401, "invalid_request", sa.AuthenticationError, F, F, True),
    (400, "invalid_api_key", sa.AuthenticationError, F, F, True),
    (403, None, sa.PermissionDeniedError, F, F, True),
    (400, "task_not_exist", sa.NotFoundError, F, F, False),
    (503, "model_not_found", sa.BadRequestError, F, F, True),
    (429, None, sa.RateLimitError, R, R, False),
    (200, "rate_limit_exceeded", sa.RateLimitError, R, R, False),
    (429, "fail_to_fetch_task", sa.RateLimitError, R, R, False),
    (500, "do_request_failed", sa.ServerError, A, R, False),
    (500, None, sa.ServerError, A, R, False),
    (502, None, sa.ServerError, A, R, False),
    (504, None, sa.ServerError, A, R, False),
    (503, None, sa.ServerError, R, R, False),
    (522, None, sa.ServerError, R, R, False),
    (408, None, sa.APIStatusError, R, R, False),
    (418, "teapot", sa.APIStatusError, F, F, False),
]


@pytest.mark.parametrize(("status", "code", "cls", "on_create", "on_query", "affects_all"), ROWS)
def test_each_answer_has_its_kind(
    status: int,
    code: str | None,
    cls: type[sa.APIStatusError],
    on_create: sa.Verdict,
    on_query: sa.Verdict,
    affects_all: bool,
) -> None:
    """Class, verdicts and reach per row; a 404 is only 'every request' on a create route."""
    kind = kind_of(status, code, creates=False)
    assert kind.cls is cls
    assert kind.verdict(creates=True) is on_create
    assert kind.verdict(creates=False) is on_query
    assert kind.affects_all is affects_all


def test_upstream_saturation_is_its_own_kind() -> None:
    """new-api's 429 ``fail_to_fetch_task`` means a saturated upstream, not the key's rate limit."""
    assert kind_of(429, "fail_to_fetch_task", creates=True).saturated
    assert not kind_of(429, None, creates=True).saturated
    assert not kind_of(500, "fail_to_fetch_task", creates=True).saturated


def test_a_missing_create_route_stops_everything_but_a_missing_task_does_not() -> None:
    """404 on a create means a wrong base URL or dialect; on a query, a wrong task id."""
    assert kind_of(404, None, creates=True).affects_all
    assert not kind_of(404, None, creates=False).affects_all


def test_exceptions_built_by_hand_take_their_kind_from_the_table() -> None:
    """An APIStatusError made without a verdict still carries the table's (for a create)."""
    err = sa.ServerError(status_code=502, code=None, message="bad gateway")
    assert err.verdict is A and not err.affects_all_requests
    auth = sa.AuthenticationError(status_code=401, code=None, message="no")
    assert auth.verdict is F and auth.affects_all_requests
