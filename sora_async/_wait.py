"""Waiting for a task to end: the polling loop behind ``SoraClient.wait_for_task``.

Polls ``get_task`` with a growing interval until the task succeeds (returned) or fails
(``TaskFailedError``), within one overall deadline (``TaskTimeoutError``, carrying the last answer).
A status word no relay family documents is tolerated a few polls in a row, then is an error: a
task whose end cannot be recognised would otherwise be polled until the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from ._compat import timeout_after
from ._dialects import Dialect
from ._errors import APIResponseValidationError, TaskFailedError, TaskTimeoutError
from ._models import TaskStatus, VideoTask

__all__ = ["UNKNOWN_STATUS_POLLS", "ProgressCallback", "poll_until_done"]

UNKNOWN_STATUS_POLLS = 5
"""Polls in a row with a status word nobody documents before ``wait_for_task`` stops with an error."""

ProgressCallback = Callable[[VideoTask], object]


async def poll_until_done(
    get_task: Callable[[str], Awaitable[VideoTask]],
    task_id: str,
    *,
    dialect: Dialect,
    timeout: float,
    poll_interval: float,
    max_poll_interval: float,
    on_progress: ProgressCallback | None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> VideoTask:
    """The finished task, polled with ``get_task``; the arguments are ``wait_for_task``'s, and
    ``sleep`` waits between polls (the request core's ends early when the client closes, and the
    next poll then refuses)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    interval = poll_interval
    last: VideoTask | None = None
    unknown_in_a_row = 0
    try:
        async with timeout_after(timeout):
            while True:
                last = await get_task(task_id)
                if on_progress is not None:
                    outcome = on_progress(last)
                    if isinstance(outcome, Awaitable):
                        await outcome
                if last.status is TaskStatus.SUCCESS:
                    return last
                if last.status is TaskStatus.FAILURE:
                    raise TaskFailedError(last)
                unknown_in_a_row = unknown_in_a_row + 1 if last.status is TaskStatus.UNKNOWN else 0
                if unknown_in_a_row >= UNKNOWN_STATUS_POLLS:
                    raise _unknown_status(last, unknown_in_a_row, dialect)
                await sleep(interval)
                interval = min(max_poll_interval, interval * 1.5)
    except asyncio.TimeoutError:
        raise TaskTimeoutError(task_id, loop.time() - started, last) from None


def _unknown_status(task: VideoTask, polls: int, dialect: Dialect) -> APIResponseValidationError:
    word = task.raw.get("status") if isinstance(task.raw, Mapping) else None
    error = APIResponseValidationError(
        f"task {task.task_id} reported the status {word!r} {polls} times in a row; no relay family "
        f"documents it, so its end cannot be told (dialect {dialect.name!r}: is it the right one?)",
        status_code=200,
    )
    error.verdict = error.verdict.FATAL
    return error
