"""The task answer: ``TaskStatus`` and ``VideoTask``, parsed from whatever shape a relay family sends.

Relays of the one-api family answer a task query in several shapes (RELAYS.md, read from new-api's
source): the seed's ``data`` object, new-api's ``TaskDto`` (``result_url``, and on older versions the
video URL written into ``fail_reason``), and the OpenAI-style video object (lower-case statuses,
``progress`` as an int, ``metadata.url``, ``error.message``). ``VideoTask.from_api`` reads all of them,
because a client that misreads a finished task polls it until its timeout, and a client that loses a
URL has paid for a video it cannot fetch.

Parsing never raises: any JSON value of any depth gives a ``VideoTask`` (``UNKNOWN`` when the shape
says nothing), with the task object kept whole in ``raw``. Nothing here recurses into the payload, so
a hostile nesting depth costs nothing.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["STATUS_WORDS", "TaskStatus", "VideoTask", "looks_like_url"]


class TaskStatus(str, enum.Enum):
    """Where a task is. ``UNKNOWN`` stands for a status word no relay family documents.

    ``SUBMITTED`` and ``QUEUED`` are new-api's waiting states (between ``NOT_START`` and
    ``IN_PROGRESS``). Lower-case words of OpenAI-style answers map onto the same members.

    >>> TaskStatus("IN_PROGRESS").is_finished, TaskStatus.SUCCESS.is_finished
    (False, True)
    >>> TaskStatus.from_word("completed"), TaskStatus.from_word("queued")
    (<TaskStatus.SUCCESS: 'SUCCESS'>, <TaskStatus.QUEUED: 'QUEUED'>)
    """

    NOT_START = "NOT_START"
    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    UNKNOWN = "UNKNOWN"

    @property
    def is_finished(self) -> bool:
        """True for SUCCESS and FAILURE, the two states a task never leaves."""
        return self in (TaskStatus.SUCCESS, TaskStatus.FAILURE)

    @property
    def is_waiting(self) -> bool:
        """True while the task exists but has not started running (NOT_START, SUBMITTED, QUEUED)."""
        return self in (TaskStatus.NOT_START, TaskStatus.SUBMITTED, TaskStatus.QUEUED)

    @classmethod
    def from_word(cls, word: object) -> TaskStatus:
        """The member for a relay's status word (any case); a missing or empty one is NOT_START.

        Args:
            word: The ``status`` of a task answer, as sent (any value: a non-string or a word no
                family documents gives ``UNKNOWN``, so a new status never raises).

        >>> TaskStatus.from_word("processing"), TaskStatus.from_word("NEW_STATE")
        (<TaskStatus.IN_PROGRESS: 'IN_PROGRESS'>, <TaskStatus.UNKNOWN: 'UNKNOWN'>)
        """
        if word is None or word == "":
            return cls.NOT_START
        if not isinstance(word, str):
            return cls.UNKNOWN
        return STATUS_WORDS.get(word.strip().lower(), cls.UNKNOWN)


STATUS_WORDS: Mapping[str, TaskStatus] = MappingProxyType(
    {
        # new-api's model/task.go constants (upper-case on the wire, matched in any case)
        "not_start": TaskStatus.NOT_START,
        "submitted": TaskStatus.SUBMITTED,
        "queued": TaskStatus.QUEUED,
        "in_progress": TaskStatus.IN_PROGRESS,
        "success": TaskStatus.SUCCESS,
        "failure": TaskStatus.FAILURE,
        "unknown": TaskStatus.UNKNOWN,
        # OpenAI-style video objects (dto/openai_video.go) and the simple shape of relay_task.go
        "processing": TaskStatus.IN_PROGRESS,
        "completed": TaskStatus.SUCCESS,
        "succeeded": TaskStatus.SUCCESS,
        "failed": TaskStatus.FAILURE,
        # upstream synonyms new-api's sora adaptor normalises (relay/channel/task/sora/adaptor.go)
        "pending": TaskStatus.QUEUED,
        "preparing": TaskStatus.QUEUED,
        "running": TaskStatus.IN_PROGRESS,
        "generating": TaskStatus.IN_PROGRESS,
        "complete": TaskStatus.SUCCESS,
        "finished": TaskStatus.SUCCESS,
        "fail": TaskStatus.FAILURE,
        "error": TaskStatus.FAILURE,
        "cancelled": TaskStatus.FAILURE,
        "canceled": TaskStatus.FAILURE,
    }
)
"""Lower-cased status word -> member, for every word a relay family is known to send."""


@attrs.frozen(kw_only=True)
class VideoTask:
    """What ``get_task`` knows about a task. ``raw`` keeps the relay's task object, unknown fields too.

    ``progress`` is a number from 0 to 100 (the relay's ``"42%"`` or ``42``), or None when the relay
    gave none. ``fail_reason`` is only set for a FAILURE: older new-api writes the video URL into
    ``fail_reason`` on SUCCESS, and that URL is in ``video_urls`` instead.

    Args:
        task_id: The task's id (the relay's, when its answer names one).
        status: Where the task is.
        progress: Percent done, 0 to 100, or None when the relay gave none.
        fail_reason: Why the task failed, as the relay put it; empty unless ``status`` is FAILURE.
        action: The relay's action word for the task (e.g. ``"GENERATE"``), when it sends one.
        submit_time: When the relay accepted the task (UTC), when it says.
        start_time: When the task started running (UTC), when it says.
        finish_time: When the task finished (UTC), when it says.
        video_urls: The finished videos' URLs, absolute once a client has parsed them; empty until
            SUCCESS.
        data: The task's inner ``data`` as sent (shapes differ by family), for fields not parsed.
        raw: The whole task object as sent, unknown fields too (left out of the repr).

    >>> answer = {"status": "SUCCESS", "progress": "100%", "data": {"generations": [{"url": "https://cdn.example/v.mp4"}]}}
    >>> task = VideoTask.from_api("task_1", answer)
    >>> task.status, task.progress, task.video_urls
    (<TaskStatus.SUCCESS: 'SUCCESS'>, 100.0, ('https://cdn.example/v.mp4',))
    >>> VideoTask.from_api("task_2", {"status": "SUCCESS", "fail_reason": "https://cdn.example/w.mp4"}).video_urls
    ('https://cdn.example/w.mp4',)
    """

    task_id: str
    status: TaskStatus
    progress: float | None = None
    fail_reason: str = ""
    action: str | None = None
    submit_time: datetime | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None
    video_urls: tuple[str, ...] = ()
    data: Any = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def is_finished(self) -> bool:
        """True once the task reached SUCCESS or FAILURE."""
        return self.status.is_finished

    @classmethod
    def from_api(cls, task_id: str, payload: object) -> VideoTask:
        """Parse a task object (the ``data`` of an envelope, or a bare video object); never raises.

        ``None`` is a task with no result yet (NOT_START). A value that is not an object gives an
        UNKNOWN task that keeps the value in ``data``.

        Args:
            task_id: The id that was queried; the answer's own id wins when it has one.
            payload: The task object from the answer (any JSON value, of any depth).
        """
        if payload is None:
            return cls(task_id=task_id, status=TaskStatus.NOT_START)
        if not isinstance(payload, Mapping):
            return cls(task_id=task_id, status=TaskStatus.UNKNOWN, data=payload)
        status = TaskStatus.from_word(payload.get("status"))
        finished = status.is_finished
        inner = payload.get("data")
        return cls(
            task_id=_answered_id(payload) or task_id,
            status=status,
            progress=_parse_progress(payload.get("progress")),
            fail_reason=_fail_reason(payload) if status is TaskStatus.FAILURE else "",
            action=_text_or_none(payload.get("action")),
            submit_time=_parse_time(payload.get("submit_time")) or _parse_time(payload.get("created_at")),
            start_time=_parse_time(payload.get("start_time")),
            finish_time=_parse_time(payload.get("finish_time"))
            or (_parse_time(payload.get("completed_at")) if finished else None),
            video_urls=_video_urls(payload, inner, success=status is TaskStatus.SUCCESS),
            data=inner,
            raw=dict(payload),
        )


# --- the fields, each read without trusting its type -------------------------------------------------


def looks_like_url(value: object) -> bool:
    """True for an http(s) URL, a path on the relay itself (``/v1/videos/{id}/content``) or a
    scheme-relative URL (``//cdn.example/v.mp4``: another host, the relay's scheme).

    >>> looks_like_url("https://cdn.example/v.mp4"), looks_like_url("content policy violation")
    (True, False)
    """
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    lowered = value[:8].lower()
    return lowered.startswith(("http://", "https://", "/"))


def _text_or_none(value: object) -> str | None:
    """A string field; anything else (numbers, objects) is left to ``raw``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _answered_id(payload: Mapping[Any, Any]) -> str | None:
    """``task_id`` (seed, TaskDto) or ``id`` (OpenAI video object); TaskDto's integer ``id`` is not it."""
    for key in ("task_id", "id"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _fail_reason(payload: Mapping[Any, Any]) -> str:
    """The reason of a failure: ``fail_reason``, else an OpenAI object's ``error.message`` or ``error``."""
    reason = payload.get("fail_reason")
    if isinstance(reason, str) and reason:
        return reason
    error = payload.get("error")
    if isinstance(error, Mapping):
        message = error.get("message")
        if isinstance(message, str):
            return message
    return error if isinstance(error, str) else ""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_progress(value: object) -> float | None:
    if _is_number(value):
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str) and len(value) <= 64:
        try:
            number = float(value.strip().rstrip("%").strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


_MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can show


def _parse_time(value: object) -> datetime | None:
    """Unix seconds (milliseconds tolerated), 0 meaning "not yet"; junk and out-of-range become None."""
    if not _is_number(value) or not value or value < 0:  # type: ignore[operator]
        return None
    seconds = float(value)  # type: ignore[arg-type]
    if seconds > 1e11:  # some relays send milliseconds
        seconds /= 1000
    if seconds > _MAX_UNIX_SECONDS:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _video_urls(payload: Mapping[Any, Any], inner: object, *, success: bool) -> tuple[str, ...]:
    """Every video URL of the answer, in a stable order and without repeats.

    The upstream record (``data.generations[i].url``, a bare list of records, ``data.url``) and a
    top-level ``url`` are read in any state. ``result_url``, ``fail_reason`` and an OpenAI object's
    ``metadata.url`` only count on SUCCESS and only when they look like URLs: new-api fills
    ``result_url`` and ``metadata.url`` from ``fail_reason`` when it has no URL, so on a failure they
    hold the reason's text.
    """
    found = [*_record_urls(inner)]
    top = payload.get("url")
    if isinstance(top, str) and looks_like_url(top):
        found.append(top)
    if success:
        metadata = payload.get("metadata")
        candidates = [
            payload.get("result_url"),
            payload.get("fail_reason"),
            metadata.get("url") if isinstance(metadata, Mapping) else None,
        ]
        found.extend(c for c in candidates if isinstance(c, str) and looks_like_url(c))
    return tuple(dict.fromkeys(found))


def _record_urls(inner: object) -> list[str]:
    """URLs of the upstream record: ``generations`` (records with ``url``), a bare list, or one ``url``."""
    if isinstance(inner, Mapping):
        generations = inner.get("generations")
        if generations is not None or "generations" in inner:
            inner = generations
        else:
            return _urls_of([inner])
    return _urls_of(inner) if isinstance(inner, list) else []


def _urls_of(records: list[Any]) -> list[str]:
    urls = []
    for record in records:
        if isinstance(record, Mapping):
            url = record.get("url")
            if isinstance(url, str) and url:
                urls.append(url)
    return urls
