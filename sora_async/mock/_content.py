"""Video files: deterministic bytes per name, served with `Content-Length` and single `Range` requests.

A downloader must be tested against what servers do: honour a `Range` (206 with `Content-Range`),
refuse one past the end (416 with `Content-Range: bytes */size`), ignore it (200, the whole file: a
server without range support), or die mid-body with the promised length unmet. The first two are the
default; `MockConfig.content_ignores_range` and `content_cut_after` ask for the other two.
"""

from __future__ import annotations

import hashlib
import re

from aiohttp import web

from ._config import MockConfig

VIDEO_MAGIC = b"\x00\x00\x00\x18ftypmp42"
"""The start of every served file: an MP4 `ftyp` box, so a sniffing client sees a video."""

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def video_body(name: str, size: int) -> bytes:
    """`size` bytes, the same for the same name: `VIDEO_MAGIC` then a SHA-256 stream of the name.

    A test can compute the file it should have downloaded, byte for byte.

    Args:
        name: The file's name (the task id, for the relay's videos): the same name, the same bytes.
        size: The length in bytes, ``VIDEO_MAGIC`` included (a shorter size cuts it).
    """
    seed = hashlib.sha256(name.encode()).digest()
    blocks = bytearray(VIDEO_MAGIC)
    counter = 0
    while len(blocks) < size:
        blocks += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(blocks[:size])


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """The inclusive byte span `(first, last)` a `Range` header asks for; None to serve it all;
    False when it cannot be satisfied (416).

    Only one span is honoured; several (or a unit other than bytes) are served whole, as RFC 9110 allows.
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # a suffix: the last N bytes
        suffix = int(last_text)
        return (max(size - suffix, 0), size - 1) if suffix > 0 and size > 0 else False
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        return False
    return first, min(last, size - 1)


async def serve_video(request: web.Request, name: str, config: MockConfig) -> web.StreamResponse:
    """The file `name`, honouring `Range` unless configured not to, cut short when configured to."""
    body = video_body(name, config.video_bytes)
    size = len(body)
    span = None if config.content_ignores_range else parse_range(request.headers.get("Range", ""), size)
    headers = {"Content-Type": "video/mp4"}
    if not config.content_ignores_range:
        headers["Accept-Ranges"] = "bytes"
    if span is False:
        headers["Content-Range"] = f"bytes */{size}"
        return web.Response(status=416, headers=headers)
    status = 200
    if isinstance(span, tuple):
        first, last = span
        body = body[first : last + 1]
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        status = 206
    headers["Content-Length"] = str(len(body))
    if config.content_cut_after is None or config.content_cut_after >= len(body):
        return web.Response(status=status, body=body, headers=headers)
    return await _cut_short(request, status, headers, body[: config.content_cut_after])


async def _cut_short(
    request: web.Request, status: int, headers: dict[str, str], sent: bytes
) -> web.StreamResponse:
    """Promise the whole length, send `sent`, then close the connection under the client."""
    response = web.StreamResponse(status=status, headers=headers)
    await response.prepare(request)
    await response.write(sent)
    transport = request.transport
    if transport is not None:
        transport.close()
    return response
