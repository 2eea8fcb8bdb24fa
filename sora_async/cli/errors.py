"""The one place for exit codes and hints: every failure phrased for the command line.

A failure becomes a ``CliError``: what went wrong, what to do about it, and which exit code it is
(the table is in the ``sora_async.cli`` docstring and the CLI reference). Commands raise SDK errors
as they come; ``explain`` turns any of them into a ``CliError`` here, so that no command decides an
exit code or a hint of its own.
"""

from __future__ import annotations

import signal
from typing import Any

from .._errors import (
    AmbiguousSubmissionError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SoraError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ..batch import BatchInputError, BatchLockedError

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CliError",
    "explain",
    "signal_exit_code",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def signal_exit_code(signum: int) -> int:
    """The shell's code for a command ended by a signal: 128 + its number (SIGINT 130, SIGTERM 143)."""
    return 128 + int(signum) if signum else EXIT_INTERRUPTED


SIGNAL_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)"}

CLIENT_FLAGS = {
    "rate": "--rate",
    "burst": "--burst",
    "max_concurrency": "--concurrency",
    "max_attempts": "--max-attempts",
    "timeout": "--timeout",
    "task_id": "TASK_ID",
}
"""The flag behind each SDK argument, so an error can say which flag to fix."""


class CliError(Exception):
    """A failure already phrased for the command line: what went wrong, what to do, the exit code."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def line(self) -> str:
        """The one stderr line: ``error: <message>; <hint>``, whitespace folded so it stays one line."""
        text = f"error: {self.message}" + (f"; {self.hint}" if self.hint else "")
        return " ".join(text.split())

    def as_json(self) -> dict[str, Any]:
        """The ``error`` object of ``--json`` output."""
        return {"message": " ".join(self.message.split()), "hint": self.hint, "exit_code": self.code}


def explain(exc: BaseException) -> CliError:
    """Phrase any failure for the command line: what happened, what to do, which exit code."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ValidationError):
        flag = CLIENT_FLAGS.get(exc.field)
        return CliError(str(exc), f"check {flag}" if flag else "check the arguments", EXIT_USAGE)
    if isinstance(exc, ConfigurationError):
        # The SDK speaks Python; say the flag instead of the keyword argument.
        return CliError(
            str(exc).replace("allow_insecure_http=True", "--allow-insecure-http"), code=EXIT_CONFIG
        )
    if isinstance(exc, (TaskFailedError, TaskTimeoutError, AmbiguousSubmissionError)):
        return _explain_task(exc)
    if isinstance(exc, BatchLockedError):
        return CliError(
            str(exc), "wait for that run to end (or stop it), then run the command again", EXIT_USAGE
        )
    if isinstance(exc, BatchInputError):
        return CliError(str(exc), "fix the input file and run again", EXIT_USAGE)
    if isinstance(exc, APIError):
        code = EXIT_CONFIG if exc.affects_all_requests else EXIT_FAILED
        return CliError(str(exc), api_hint(exc), code)
    if isinstance(exc, SoraError):
        return CliError(str(exc), "run again with -v for details")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return CliError(f"{where}{exc.strerror or exc}", "check the path and its permissions")
    return CliError(
        f"internal error: {type(exc).__name__}: {exc}", "run again with -v and report the traceback"
    )


def _explain_task(exc: SoraError) -> CliError:
    if isinstance(exc, TaskFailedError):
        return CliError(str(exc), "change the request and create a new task")
    if isinstance(exc, TaskTimeoutError):
        return CliError(str(exc), f"it may still finish: run 'sora-async wait {exc.task_id}'", EXIT_TIMEOUT)
    assert isinstance(exc, AmbiguousSubmissionError)
    return CliError(
        str(exc),
        "if the relay honours idempotency keys, repeat the command with --idempotency-key "
        f"{exc.idempotency_key} --retry-ambiguous; otherwise check the relay before trying again",
    )


def api_hint(exc: BaseException) -> str:
    """What to do about a relay error, by its kind."""
    hints: list[tuple[type[BaseException], str]] = [
        (AuthenticationError, "check --api-key or $SORA_API_KEY"),
        (NotFoundError, "check the task id and --base-url"),
        (BadRequestError, "the relay rejected the request: check its fields"),
        (PermissionDeniedError, "the key may not do this, or a CDN blocked the call: check --base-url"),
        (DownloadError, "run the same command again (--wait for a task still running): it resumes"),
        (RateLimitError, "the relay kept answering 429: lower --rate or raise --max-attempts"),
        (ServerError, "the relay or its upstream failed: try again later"),
        (APIConnectionError, "check --base-url and the network, or raise --timeout"),
        (ConfigurationError, "check --base-url and --dialect"),
    ]
    for cls, hint in hints:
        if isinstance(exc, cls):
            return hint
    return "check that --base-url points at a Sora relay"


def stopped_batch_error(cause: BaseException) -> CliError:
    """A batch stopped because every further request would fail the same way: exit 3, how to go on."""
    return CliError(
        f"stopped after the relay answered: {str(cause).rstrip('.')}; every further request would "
        "fail the same way",
        f"{api_hint(cause)}, then re-run the same command: the unsent lines go out then, nothing twice",
        EXIT_CONFIG,
    )
