"""Tasks on the command line: their JSON and row views, and waiting for one or several at once.

``status`` and ``wait`` take several task ids: the queries run concurrently under the client's
limits, each task gets its own answer (a JSON object per line with ``--json``, a block of rows or its
URLs otherwise), and one that fails does not hide the others. The exit code is the most serious of
their outcomes (``errors.most_serious``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from .._client import SoraClient
from .._errors import SoraError, TaskFailedError, TaskTimeoutError
from .._models import VideoTask
from .console import UI, TaskWatch
from .errors import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, explain

__all__ = ["most_serious", "report_tasks", "task_json", "task_rows", "wait_for_all"]

_SERIOUSNESS = (EXIT_CONFIG, EXIT_USAGE, EXIT_FAILED, EXIT_TIMEOUT)


def most_serious(codes: Sequence[int]) -> int:
    """The exit code of several outcomes: a configuration error over a failure over a timeout."""
    for code in _SERIOUSNESS:
        if code in codes:
            return code
    return max(codes, default=EXIT_OK)


def task_json(task: VideoTask) -> dict[str, Any]:
    """A task as the JSON object of --json output."""

    def iso(when: Any) -> str | None:
        return None if when is None else str(when.isoformat())

    return {
        "task_id": task.task_id,
        "status": task.status.value,
        "progress": task.progress,
        "fail_reason": task.fail_reason,
        "submit_time": iso(task.submit_time),
        "start_time": iso(task.start_time),
        "finish_time": iso(task.finish_time),
        "video_urls": list(task.video_urls),
        "data": task.data,
    }


def task_rows(task: VideoTask) -> list[tuple[str, str]]:
    """A task as ``key: value`` rows, the unset ones left out."""
    progress = "-" if task.progress is None else f"{task.progress:g}%"
    rows = [("task_id", task.task_id), ("status", task.status.value), ("progress", progress)]
    if task.fail_reason:
        rows.append(("fail_reason", task.fail_reason))
    for label, when in (
        ("submitted", task.submit_time),
        ("started", task.start_time),
        ("finished", task.finish_time),
    ):
        if when is not None:
            rows.append((label, when.isoformat(timespec="seconds")))
    rows.extend(("video_url", url) for url in task.video_urls)
    return rows


Outcome = tuple[str, "VideoTask | None", "SoraError | None"]
"""A task id, its last known state, and the error that ended the call (None: it succeeded)."""


async def _wait_one(client: SoraClient, task_id: str, args: SimpleNamespace, watch: TaskWatch) -> Outcome:
    try:
        task = await client.wait_for_task(
            task_id,
            timeout=args.wait_timeout,
            poll_interval=args.poll_interval,
            max_poll_interval=max(15.0, args.poll_interval),
            on_progress=watch.update,
        )
    except TaskFailedError as exc:
        return task_id, exc.task, exc
    except TaskTimeoutError as exc:
        return task_id, exc.last_task, exc
    except SoraError as exc:
        return task_id, None, exc
    return task_id, task, None


async def wait_for_all(
    client: SoraClient, task_ids: Sequence[str], args: SimpleNamespace, ui: UI, *, extra: dict[str, Any]
) -> int:
    """Wait for every task at once under one live view, then report each; return the exit code."""
    with ui.task_watch() as watch:
        outcomes = await asyncio.gather(*(_wait_one(client, tid, args, watch) for tid in task_ids))
    return report_tasks(ui, outcomes, extra=extra, show=_show_urls)


def _show_urls(ui: UI, task: VideoTask) -> None:
    for url in task.video_urls:
        ui.print(url)
    ui.note(f"task {task.task_id} succeeded: {len(task.video_urls)} video(s)")


def report_tasks(ui: UI, outcomes: Sequence[Outcome], *, extra: dict[str, Any], show: Any) -> int:
    """Each task's answer in order: its view (``show``) or JSON, or its error line; the exit code."""
    codes = []
    for task_id, task, error in outcomes:
        payload = {**extra, **(task_json(task) if task is not None else {"task_id": task_id})}
        if error is None:
            assert task is not None
            if ui.json_mode:
                ui.emit_json(payload)
            else:
                show(ui, task)
            codes.append(EXIT_OK)
            continue
        ui.json_on_failure(payload)
        codes.append(ui.fail(explain(error)))
    return most_serious(codes)
