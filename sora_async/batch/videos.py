"""A finished task's videos saved into a directory under fixed names, for ``batch --download`` and
``sora-async download``.

Each video goes to ``<dir>/<task_id>.mp4`` (``<task_id>-<i>.mp4`` for further ones) through
``SoraClient.download_video``, which writes a ``.part`` file and renames it once whole. So a file under
its final name is complete, and a re-run after a crash skips it instead of downloading it twice; a
``.part`` left behind is continued where the server allows ranges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._client import SoraClient
from .._models import VideoTask
from .._video_source import video_filename

__all__ = ["save_videos"]


async def save_videos(
    client: SoraClient, task: VideoTask, directory: Path, *, force: bool = False
) -> list[dict[str, Any]]:
    """Save every video of a finished task; one record per file: ``path``, ``bytes``, ``skipped``
    (it was already saved). ``force`` downloads saved files again. Raises what ``download_video`` raises."""
    files: list[dict[str, Any]] = []
    for index in range(max(1, len(task.video_urls))):  # no URL at all: download_video says why
        path = directory / video_filename(task.task_id, index)
        saved_before = path.is_file() and not force
        if not saved_before:
            await client.download_video(task, path, index=index)
        files.append({"path": str(path), "bytes": path.stat().st_size, "skipped": saved_before})
    return files
