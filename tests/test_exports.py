"""The public surface: ``__all__``, ``__version__`` and the exception tree drawn in ``_errors.py``."""

from __future__ import annotations

import importlib
import importlib.metadata
import pickle
import re

import pytest

import sora_async
import sora_async.loadtest
from sora_async import _errors

# Written out by hand on purpose: removing or renaming a public name must fail here.
EXPECTED_ALL = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Action",
    "AdaptiveLimiter",
    "AmbiguousSubmissionError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "Dialect",
    "DownloadError",
    "Endpoint",
    "GenerationType",
    "InpaintItem",
    "InpaintType",
    "Limiter",
    "MockTransport",
    "Model",
    "NotFoundError",
    "Operation",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "RedisRateLimiter",
    "RetryEvent",
    "RetryPolicy",
    "SDEdit",
    "ServerError",
    "Size",
    "SoraClient",
    "SoraError",
    "Style",
    "Submission",
    "SubmitItem",
    "SubmitResult",
    "TaskFailedError",
    "TaskStatus",
    "TaskTimeoutError",
    "Transport",
    "TransportRequest",
    "TransportResponse",
    "UnexpectedError",
    "ValidationError",
    "Verdict",
    "VideoRequest",
    "VideoTask",
    "__version__",
    "get_dialect",
]

LOADTEST_ALL = [
    "LatencySummary",
    "LoadTest",
    "LoadTestOptions",
    "LoadTestReport",
    "LoadTestSamples",
    "LoadTestSnapshot",
    "Mode",
    "OUTCOMES",
    "classify_outcome",
    "plot",
    "require_plotting",
    "run_load_test",
]
"""The public names of ``sora_async.loadtest``, by hand for the same reason."""

# (exception, its direct bases) as drawn in the _errors docstring.
TREE: list[tuple[type[BaseException], tuple[type[BaseException], ...]]] = [
    (sora_async.SoraError, (Exception,)),
    (sora_async.ValidationError, (sora_async.SoraError, ValueError)),
    (sora_async.ConfigurationError, (sora_async.SoraError,)),
    (sora_async.APIError, (sora_async.SoraError,)),
    (sora_async.APIConnectionError, (sora_async.APIError,)),
    (sora_async.APITimeoutError, (sora_async.APIConnectionError,)),
    (sora_async.APIResponseValidationError, (sora_async.APIError,)),
    (sora_async.DownloadError, (sora_async.APIError,)),
    (sora_async.APIStatusError, (sora_async.APIError,)),
    (sora_async.BadRequestError, (sora_async.APIStatusError,)),
    (sora_async.AuthenticationError, (sora_async.APIStatusError,)),
    (sora_async.PermissionDeniedError, (sora_async.APIStatusError,)),
    (sora_async.NotFoundError, (sora_async.APIStatusError,)),
    (sora_async.RateLimitError, (sora_async.APIStatusError,)),
    (sora_async.ServerError, (sora_async.APIStatusError,)),
    (sora_async.AmbiguousSubmissionError, (sora_async.SoraError,)),
    (sora_async.TaskFailedError, (sora_async.SoraError,)),
    (sora_async.TaskTimeoutError, (sora_async.SoraError, TimeoutError)),
    (sora_async.UnexpectedError, (sora_async.SoraError,)),
    (sora_async.RateLimiterUnavailableError, (sora_async.SoraError,)),
]


def docstring_tree() -> dict[str, str]:
    """Read the tree drawing of ``_errors.__doc__`` into {class name: parent name}."""
    assert _errors.__doc__ is not None
    lines = _errors.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "SoraError")
    indent = len(lines[start]) - len(lines[start].lstrip())
    parents: dict[str, str] = {}
    stack: list[str] = ["SoraError"]
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        match = re.match(r"^([\s│├└─]*)([A-Za-z]+)", line[indent:])
        assert match is not None, line
        depth = len(match.group(1)) // 4
        name = match.group(2)
        del stack[depth:]
        parents[name] = stack[-1]
        stack.append(name)
    return parents


# --- __all__ ----------------------------------------------------------------------------------------


def test_all_is_exactly_the_documented_names() -> None:
    """``__all__`` lists exactly the documented public names, none missing and none extra."""
    assert sora_async.__all__ == EXPECTED_ALL


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` is sorted and has no duplicates."""
    assert sora_async.__all__ == sorted(sora_async.__all__)
    assert len(set(sora_async.__all__)) == len(sora_async.__all__)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_public_name_is_importable(name: str) -> None:
    """``from sora_async import <name>`` works for every name in ``__all__``."""
    namespace: dict[str, object] = {}
    exec(f"from sora_async import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module("sora_async"), name)


def test_star_import_gives_exactly_all() -> None:
    """``from sora_async import *`` binds the names of ``__all__`` and nothing else."""
    namespace: dict[str, object] = {}
    exec("from sora_async import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == EXPECTED_ALL


def test_loadtest_all_is_exactly_the_documented_names() -> None:
    """``sora_async.loadtest.__all__`` lists exactly its documented names, sorted, each importable."""
    assert sora_async.loadtest.__all__ == LOADTEST_ALL == sorted(LOADTEST_ALL)
    namespace: dict[str, object] = {}
    exec("from sora_async.loadtest import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(LOADTEST_ALL)
    for name in LOADTEST_ALL:
        assert namespace[name] is getattr(sora_async.loadtest, name)


def test_version_matches_the_installed_distribution() -> None:
    """``__version__`` is the version of the installed ``sora-async`` distribution."""
    assert sora_async.__version__ == importlib.metadata.version("sora-async")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", sora_async.__version__)


def test_errors_module_all_matches_its_classes() -> None:
    """``_errors.__all__`` names every exception class of the tree (plus the class picker)."""
    exported = {
        name
        for name in _errors.__all__
        if isinstance(obj := getattr(_errors, name), type) and issubclass(obj, BaseException)
    }
    assert exported == {cls.__name__ for cls, _ in TREE}
    assert "status_error_class" in _errors.__all__


# --- the exception tree -----------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "bases"), TREE, ids=[cls.__name__ for cls, _ in TREE])
def test_exception_has_the_documented_parents(
    cls: type[BaseException], bases: tuple[type[BaseException], ...]
) -> None:
    """Each exception derives directly from exactly the classes the tree shows."""
    assert cls.__bases__ == bases


def test_every_exported_exception_is_in_the_tree() -> None:
    """No exported exception is missing from the table above (a new one needs a place in the tree)."""
    exported = {
        obj
        for name in sora_async.__all__
        if isinstance(obj := getattr(sora_async, name), type) and issubclass(obj, BaseException)
    }
    assert exported == {cls for cls, _ in TREE}


def test_docstring_tree_matches_the_classes() -> None:
    """The drawing in ``_errors``' docstring agrees with the real class hierarchy."""
    drawn = docstring_tree()
    assert set(drawn) == {cls.__name__ for cls, _ in TREE} - {"SoraError"}
    for name, parent in drawn.items():
        cls = getattr(sora_async, name)
        assert cls.__bases__[0] is getattr(sora_async, parent), name


def test_every_error_is_a_sora_error() -> None:
    """Catching SoraError catches everything the SDK raises."""
    for cls, _ in TREE:
        assert issubclass(cls, sora_async.SoraError)


def test_validation_error_is_a_value_error() -> None:
    """Bad input is also a ValueError, for callers that catch the built-in."""
    assert issubclass(sora_async.ValidationError, ValueError)
    assert not issubclass(sora_async.ValidationError, sora_async.APIError)


def test_task_timeout_error_is_a_timeout_error() -> None:
    """Waiting too long is also a TimeoutError, but not an API (connection) timeout."""
    assert issubclass(sora_async.TaskTimeoutError, TimeoutError)
    assert not issubclass(sora_async.TaskTimeoutError, sora_async.APIError)
    assert not issubclass(sora_async.APITimeoutError, sora_async.TaskTimeoutError)


def test_api_timeout_is_a_connection_error_not_a_status_error() -> None:
    """A timeout has no HTTP answer, so it is a connection error and never a status error."""
    assert issubclass(sora_async.APITimeoutError, sora_async.APIConnectionError)
    assert not issubclass(sora_async.APITimeoutError, sora_async.APIStatusError)
    assert not issubclass(sora_async.APIResponseValidationError, sora_async.APIStatusError)


def test_ambiguous_and_task_errors_are_not_api_errors() -> None:
    """The outcome errors sit beside APIError, not under it."""
    for cls in (sora_async.AmbiguousSubmissionError, sora_async.TaskFailedError, sora_async.TaskTimeoutError):
        assert not issubclass(cls, sora_async.APIError)


# --- the outcome errors' messages -------------------------------------------------------------------


def test_task_failed_error_names_task_and_reason() -> None:
    """TaskFailedError keeps the task and says why it failed."""
    task = sora_async.VideoTask(task_id="task_1", status=sora_async.TaskStatus.FAILURE, fail_reason="policy")
    exc = sora_async.TaskFailedError(task)
    assert (exc.task, exc.task_id, exc.fail_reason) == (task, "task_1", "policy")
    assert str(exc) == "task task_1 failed: policy"
    bare = sora_async.VideoTask(task_id="task_2", status=sora_async.TaskStatus.FAILURE)
    assert str(sora_async.TaskFailedError(bare)) == "task task_2 failed: no reason given"


def test_task_timeout_error_reports_the_last_status_and_progress() -> None:
    """TaskTimeoutError says how long it waited and what it last saw."""
    task = sora_async.VideoTask(task_id="task_1", status=sora_async.TaskStatus.IN_PROGRESS, progress=42.0)
    exc = sora_async.TaskTimeoutError("task_1", 30.04, task)
    assert exc.last_task is task
    assert str(exc) == "task task_1 not finished after waiting 30.0s (last status IN_PROGRESS, progress 42%)"
    assert str(sora_async.TaskTimeoutError("task_2", 5, None)) == (
        "task task_2 not finished after waiting 5.0s (last status unknown)"
    )


def test_ambiguous_submission_error_names_key_cause_and_attempts() -> None:
    """AmbiguousSubmissionError carries the idempotency key and the failure that made it ambiguous."""
    cause = sora_async.APITimeoutError("timed out waiting for https://relay.example", request_sent=True)
    exc = sora_async.AmbiguousSubmissionError("key-123", cause, attempts=3)
    assert (exc.idempotency_key, exc.cause, exc.attempts) == ("key-123", cause, 3)
    assert "key-123" in str(exc)
    assert "APITimeoutError: timed out waiting" in str(exc)
    assert "after 3 attempt(s)" in str(exc)


def _every_exception() -> list[BaseException]:
    """One instance of every exception class of the tree, built the way the SDK builds them."""
    task = sora_async.VideoTask(task_id="task_1", status=sora_async.TaskStatus.FAILURE, fail_reason="x")
    status = sora_async.ServerError(status_code=502, code="bad", message="m", request_id="r", body="b")
    return [
        sora_async.SoraError("plain"),
        sora_async.ValidationError("width", "must be one of 1, 2", 3),
        sora_async.ConfigurationError("no key"),
        sora_async.APIError("x"),
        sora_async.APIConnectionError("down", request_sent=False),
        sora_async.APITimeoutError("slow", request_sent=True),
        sora_async.APIResponseValidationError("odd", status_code=200, body="<html>"),
        sora_async.DownloadError("short", received=10, expected=20, part_path="/tmp/v.mp4.part"),
        sora_async.APIStatusError(status_code=418, code="teapot", message="m"),
        sora_async.BadRequestError(status_code=400, code=None, message="m"),
        sora_async.AuthenticationError(status_code=401, code=None, message="m"),
        sora_async.PermissionDeniedError(status_code=403, code=None, message="m"),
        sora_async.NotFoundError(status_code=404, code=None, message="m"),
        sora_async.RateLimitError(status_code=429, code=None, message="m", retry_after=1.5),
        status,
        sora_async.AmbiguousSubmissionError("key-1", status, attempts=2),
        sora_async.TaskFailedError(task),
        sora_async.TaskTimeoutError("task_1", 3.0, task),
        sora_async.UnexpectedError(KeyError("k"), during="create_video"),
        sora_async.RateLimiterUnavailableError("localhost:6379", ConnectionError("refused")),
    ]


def test_every_exception_class_has_an_instance_below() -> None:
    """The pickling test covers the whole tree."""
    assert {type(exc) for exc in _every_exception()} == {cls for cls, _ in TREE}


@pytest.mark.parametrize("exc", _every_exception(), ids=lambda exc: type(exc).__name__)
def test_every_exception_pickles_with_its_attributes(exc: BaseException) -> None:
    """An exception survives pickling (a process pool, a task queue) with its message and attributes."""
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert {k: repr(v) for k, v in vars(copy).items()} == {k: repr(v) for k, v in vars(exc).items()}


@pytest.mark.parametrize("exc", _every_exception(), ids=lambda exc: type(exc).__name__)
def test_every_exception_carries_a_verdict(exc: BaseException) -> None:
    """Every SDK error says whether to retry, so nothing downstream decides again."""
    assert isinstance(exc, sora_async.SoraError)
    assert isinstance(exc.verdict, sora_async.Verdict)
    assert isinstance(exc.affects_all_requests, bool)
