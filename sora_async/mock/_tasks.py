"""Simulated video tasks: ids, small records, and their status computed from the clock.

A task's state is a pure function of the time elapsed since it was created, so the relay needs no
background work: waiting for `queue_time` (NOT_START; new-api also passes through SUBMITTED and
QUEUED), IN_PROGRESS (progress growing to 99%) for `run_time`, then SUCCESS or FAILURE, decided once
at creation. Records are `__slots__` objects of a few fields so a benchmark's million tasks stay
affordable. The view here is the seed's shape; `_profiles` turns it into each family's.
"""

from __future__ import annotations

import base64
import random
from typing import Any

_RFC4648 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = b"0123456789abcdefghjkmnpqrstvwxyz"
_TO_CROCKFORD = bytes.maketrans(_RFC4648, _CROCKFORD)

FAIL_REASON_PROMPT = "simulated failure: the prompt contains [fail]"
FAIL_REASON_RANDOM = "simulated failure: upstream generation failed"


class TaskRecord:
    """What the relay remembers of one task: `created` is `time.monotonic()` at creation, and
    `fail_reason` is empty for a task that will succeed (the outcome is decided at creation)."""

    __slots__ = ("created", "fail_reason", "height", "model", "n_variants", "number", "width")

    def __init__(
        self,
        created: float,
        width: int,
        height: int,
        n_variants: int,
        fail_reason: str,
        *,
        model: str | None = None,
        number: int = 0,
    ) -> None:
        self.created = created
        self.width = width
        self.height = height
        self.n_variants = n_variants
        self.fail_reason = fail_reason
        self.model = model
        self.number = number


class TaskStore:
    """Task records by id, and the seeded generator of new ids."""

    __slots__ = ("_rng", "_tasks")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._tasks: dict[str, TaskRecord] = {}

    def new_id(self) -> str:
        """`task_` and 26 lowercase Crockford base32 characters, like the relays' ULID-style ids."""
        text = base64.b32encode(self._rng.randbytes(17))[:26].translate(_TO_CROCKFORD)
        return "task_" + text.decode("ascii")

    def add(self, task_id: str, record: TaskRecord) -> None:
        self._tasks[task_id] = record

    def get(self, task_id: str) -> TaskRecord | None:
        return self._tasks.get(task_id)

    def __len__(self) -> int:
        return len(self._tasks)


def describe_task(
    task_id: str,
    record: TaskRecord,
    *,
    now: float,
    queue_time: float,
    run_time: float,
    unix_offset: float,
    video_origin: str,
    queue_words: tuple[str, ...] = ("NOT_START",),
) -> dict[str, Any]:
    """The `data` object of GET /sora/v1/videos/{task_id} at monotonic time `now`.

    `unix_offset` turns monotonic seconds into Unix seconds; `video_origin` is the scheme://host:port the
    fake video URLs point at. While waiting, the task walks through `queue_words` in equal parts of
    `queue_time`, its progress 0%, 10%, 20%... as new-api reports SUBMITTED and QUEUED.
    """
    started = record.created + queue_time
    finished = started + run_time
    view: dict[str, Any] = {
        "task_id": task_id,
        "action": "sora-video",
        "status": "NOT_START",
        "fail_reason": "",
        "submit_time": int(record.created + unix_offset),
        "start_time": 0,
        "finish_time": 0,
        "progress": "0%",
        "data": None,
    }
    if queue_time > 0 and len(queue_words) > 1 and now < started:
        step = min(int(len(queue_words) * (now - record.created) / queue_time), len(queue_words) - 1)
        view["status"] = queue_words[max(step, 0)]
        view["progress"] = f"{10 * max(step, 0)}%"
    if now >= started:
        view["start_time"] = int(started + unix_offset)
        view["status"] = "IN_PROGRESS"
        view["progress"] = _progress(now - started, run_time)
    if now >= finished:
        view["finish_time"] = int(finished + unix_offset)
        view["progress"] = "100%"
        if record.fail_reason:
            view["status"] = "FAILURE"
            view["fail_reason"] = record.fail_reason
        else:
            view["status"] = "SUCCESS"
            view["data"] = {"generations": _generations(task_id, record, video_origin)}
    return view


def _progress(running_for: float, run_time: float) -> str:
    """A percentage growing with time, capped at 99% while the task is still running."""
    percent = int(100 * running_for / run_time) if run_time > 0 else 99
    return f"{min(max(percent, 0), 99)}%"


def _generations(task_id: str, record: TaskRecord, video_origin: str) -> list[dict[str, Any]]:
    """One generation per variant; ids derive from the task id so nothing more is stored."""
    suffix = task_id.removeprefix("task_")
    generations = []
    for index in range(record.n_variants):
        gen_id = f"gen_{suffix}_{index}"
        generations.append(
            {
                "id": gen_id,
                "url": f"{video_origin}/videos/{gen_id}.mp4",
                "width": record.width,
                "height": record.height,
            }
        )
    return generations
