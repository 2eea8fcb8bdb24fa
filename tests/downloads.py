"""What the download tests share: the client's key, the body a CDN serves, where a partial file lies."""

from __future__ import annotations

from pathlib import Path

from sora_async.mock import video_body

KEY = "sk-download-test-key-0123456789"
BODY = video_body("cdn-file", 200_000)


def part_of(path: Path) -> Path:
    """The ``.part`` file a download writes to before it is complete."""
    return path.with_name(path.name + ".part")
