"""Which file to fetch, where to put it, and who may see the key: the inputs of a download.

``download_video`` takes a ``VideoTask``, a task id or a URL; this module turns that into one URL
(a task must have succeeded; a task id is queried first), checks the target path before anything is
sent, and holds the origin rule: the API key goes only to a URL whose scheme, host and port are the
base URL's.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import yarl

from ._dialects import join_url
from ._errors import DownloadError, TaskFailedError, ValidationError, Verdict
from ._models import TaskStatus, VideoTask

__all__ = ["checked_path", "part_path_of", "same_origin", "video_filename", "video_url"]


def same_origin(url: str, other: str) -> bool:
    """Scheme, host and port equal (a default port counts as given; host case does not count).

    >>> same_origin("https://relay.example/v1/videos/t/content", "https://RELAY.example:443/api")
    True
    >>> same_origin("https://relay.example/x", "https://cdn.relay.example/x")
    False
    """
    a, b = yarl.URL(url), yarl.URL(other)
    return (a.scheme.lower(), (a.host or "").lower(), a.port) == (
        b.scheme.lower(),
        (b.host or "").lower(),
        b.port,
    )


def part_path_of(path: Path) -> Path:
    """Where the file grows until it is complete: ``<path>.part``, next to it (same file system)."""
    return path.with_name(path.name + ".part")


def checked_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError("path", "must be a file path (str or os.PathLike)", path)
    target = Path(os.fspath(path))
    if target.is_dir():
        raise ValidationError("path", "must name a file, not a directory", str(target))
    if not target.parent.is_dir():
        raise ValidationError("path", "must be in an existing directory", str(target))
    return target


async def video_url(
    source: object, index: int, get_task: Callable[[str], Awaitable[VideoTask]], base_url: str
) -> str:
    """The URL to fetch: given, or the task's ``video_urls[index]`` (a task id is queried first)."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        if not yarl.URL(source).host:
            raise ValidationError("task_or_url", "must be an http(s) URL with a host", source)
        return source
    if isinstance(source, str):
        source = await get_task(source)  # checks the id
    if not isinstance(source, VideoTask):
        raise ValidationError("task_or_url", "must be a VideoTask, a task id or an http(s) URL", source)
    url = _url_of(source, index)
    if url.startswith("/"):  # a hand-made task with a relay path
        url = join_url(base_url, url)
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"task {source.task_id}'s video URL is not an http(s) URL", verdict=Verdict.FATAL)
    return url


def _url_of(task: VideoTask, index: int) -> str:
    if task.status is TaskStatus.FAILURE:
        raise TaskFailedError(task)
    if task.status is not TaskStatus.SUCCESS:
        raise DownloadError(
            f"task {task.task_id} is {task.status.value}, not SUCCESS: wait for it first (wait_for_task)",
            verdict=Verdict.FATAL,
        )
    if not task.video_urls:
        raise DownloadError(
            f"task {task.task_id} succeeded but names no video URL (is the client's dialect right?)",
            verdict=Verdict.FATAL,
        )
    if index >= len(task.video_urls):
        raise ValidationError("index", f"must be below {len(task.video_urls)} (the task's videos)", index)
    return task.video_urls[index]


def video_filename(task_id: str, index: int = 0) -> str:
    """The file name the command line gives a task's video: ``<task_id>.mp4``, ``<task_id>-<i>.mp4``.

    Task ids are URL-safe (``check_task_id``), so the name never holds a separator; one name per
    video lets a re-run see that the file is already there (a file under its final name is whole).

    >>> video_filename("task_1"), video_filename("task_1", 2)
    ('task_1.mp4', 'task_1-2.mp4')
    """
    return f"{task_id}.mp4" if index == 0 else f"{task_id}-{index}.mp4"
