"""What the answer to a download request allows: where its body goes in the file, or start over.

A request asks for the file from byte ``start`` (``Range: bytes=<start>-``, or no Range from 0). The
answer may continue it (206 with exactly that ``Content-Range``), be the whole file (200: the server
ignores ranges), say the partial file was already whole (416 with ``bytes */<start>``), or give a range
that was not asked for, in which case the partial file cannot be trusted and the download starts over.

>>> plan_body(206, {"Content-Range": "bytes 1000-4095/4096"}, 1000, "https://cdn.example")
Plan(start=1000, end=4096, size=4096)
>>> plan_body(200, {"Content-Length": "4096"}, 1000, "https://cdn.example")
Plan(start=0, end=4096, size=4096)
>>> plan_body(206, {"Content-Range": "bytes 0-4095/4096"}, 1000, "https://cdn.example") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from ._errors import DownloadError, Verdict

__all__ = ["Plan", "plan_body"]

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_UNSATISFIED = re.compile(r"bytes\s+\*/(\d+)", re.IGNORECASE)


@attrs.frozen
class Plan:
    """Where an answer's body goes: from byte ``start`` up to ``end`` of a file of ``size`` bytes."""

    start: int
    end: int | None  # None: the server did not say; read to the end of the body
    size: int | None


def plan_body(status: int, headers: Mapping[str, str], start: int, where: str) -> Plan | None:
    """What the answer to a request from byte ``start`` allows; None when the partial file must go."""
    if status == 416:
        unsatisfied = _UNSATISFIED.fullmatch(headers.get("Content-Range", "").strip())
        if start and unsatisfied is not None and int(unsatisfied[1]) == start:
            return Plan(start, start, start)  # the partial file was already whole
        if start:
            return None
        raise DownloadError(f"{where} answered 416 to a request for the whole file", verdict=Verdict.FATAL)
    if status != 206:  # the whole file (a server that ignores Range answers so too)
        encoded = headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        length = None if encoded else _whole_number(headers.get("Content-Length"))
        return Plan(0, length, length)
    span = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
    if span is not None and int(span[1]) == start and int(span[2]) >= start:
        size = None if span[3] == "*" else int(span[3])
        return Plan(start, int(span[2]) + 1, size)
    if start:
        return None
    raise DownloadError(f"{where} answered 206 with a range that was not asked for", verdict=Verdict.FATAL)


def _whole_number(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None
