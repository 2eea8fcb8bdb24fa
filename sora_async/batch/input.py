"""Reading the batch input: one line to a request or to the reason it is invalid, and the pre-scan.

Every line gets an answer, whatever it holds: bytes that are not UTF-8, JSON nested past the parser's
limit, a value of the wrong type, a field the request does not know. ``parse_line`` never raises; a
bad line is reported with its reason and costs no request, and the rest of the batch goes on.

The pre-scan runs before anything is sent: it counts the lines in scope, refuses duplicate
``custom_id`` values (results could not be joined back), and compares each line with the fingerprint
the journal kept from an earlier run, so a line edited since then is never silently joined to the
task made from its old content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs

from .._errors import SoraError
from .._models import VideoRequest
from .journal import JournalState, LineState
from .options import BatchInputError, BatchOptions

__all__ = ["ParsedLine", "Scan", "fingerprint", "input_lines", "parse_line", "prescan"]

_FILTER_BITS = 1 << 27  # a 16 MiB bit set: the duplicate pre-filter's memory, whatever the input size
_KEYED = (LineState.SENT, LineState.DONE, LineState.AMBIGUOUS, LineState.FINISHED)
"""States in which a line's key may have created a task: its content must not change under it."""


@attrs.define
class ParsedLine:
    """A line read: its custom_id (None when the line's own custom_id is unusable) and a request or
    the reason there is none."""

    custom_id: str | None
    request: VideoRequest | None = None
    error: str | None = None


def fingerprint(raw: bytes) -> int:
    """A 64-bit digest of a line's content (line ending excluded), never 0 (0 means "unknown")."""
    digest = int.from_bytes(hashlib.blake2b(raw.rstrip(b"\r\n"), digest_size=8).digest(), "big")
    return digest or 1


def _load(raw: bytes) -> tuple[Any, str | None]:
    """The JSON value of a line, or why it has none. Never raises."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")  # the line ending is no part of the JSON
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 text (bad byte at column {exc.start + 1})"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        where = "at the end of the line" if exc.pos >= len(text) else f"at column {exc.pos + 1}"
        message = exc.msg.removesuffix(" at")  # "Invalid control character at", for one
        return None, f"not valid JSON ({message} {where})"
    except RecursionError:
        return None, "JSON nested too deeply to read"
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        return None, f"not valid JSON ({exc})"


def _custom_id(value: object, line: int) -> tuple[str | None, str | None]:
    """The custom_id to record and, for a value of the wrong type, the reason (never a substitute)."""
    if value is None:
        return str(line), None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        kind = "a boolean" if isinstance(value, bool) else type(value).__name__
        return None, f"'custom_id' must be a string or a whole number (got {kind})"
    if value == "":
        return None, "'custom_id' must not be empty"
    return str(value), None


def parse_line(raw: bytes, line: int) -> ParsedLine:
    """One input line to a request, or to the reason it is invalid (never raises)."""
    data, problem = _load(raw)
    if problem is not None:
        return ParsedLine(str(line), error=problem)
    if not isinstance(data, dict):
        return ParsedLine(str(line), error=f"expected a JSON object, got {_kind(data)}")
    custom_id, problem = _custom_id(data.pop("custom_id", None), line)
    if problem is not None:
        return ParsedLine(None, error=problem)
    try:
        return ParsedLine(custom_id, request=VideoRequest.from_dict(data))
    except SoraError as exc:
        return ParsedLine(custom_id, error=str(exc))
    except RecursionError:
        return ParsedLine(custom_id, error="a field is nested too deeply to read")
    except Exception as exc:  # any other shape the model's converter refuses: still this line's answer
        return ParsedLine(custom_id, error=f"not a request ({type(exc).__name__}: {exc})")


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _custom_id_of(raw: bytes, line: int) -> str | None:
    """The custom_id a line answers to, for the duplicate check; None when it has no usable one."""
    data, problem = _load(raw)
    if problem is not None or not isinstance(data, dict):
        return str(line)
    return _custom_id(data.get("custom_id"), line)[0]


def _numbered(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


async def input_lines(path: Path) -> AsyncIterator[tuple[int, bytes]]:
    """The non-blank lines of the input with their 1-based numbers, read lazily."""
    for number, raw in _numbered(path):
        yield number, raw


@attrs.frozen
class Scan:
    """What the pre-scan found: lines in scope, and lines whose content changed under a key."""

    total: int
    changed: tuple[int, ...]
    """Lines the journal knows under a key whose content now differs (or that are now blank)."""
    edited: tuple[int, ...]
    """Lines that failed or were invalid before and have been edited since: safe to send afresh."""


def prescan(options: BatchOptions, known: JournalState) -> Scan:
    """Count the lines in scope, refuse duplicate custom_ids, find the lines changed since the journal.

    A fixed bit set flags custom_ids that may repeat; only those suspects are checked exactly, in a
    second pass, so memory does not grow with the input beyond the suspects.
    """
    seen = bytearray(_FILTER_BITS // 8)
    suspects: set[int] = set()
    total = 0
    changed: list[int] = []
    edited: list[int] = []
    visited = bytearray(len(known.fingerprints))
    for number, raw in _numbered(options.input_path):
        in_scope = options.in_scope(number)
        total += in_scope
        then = known.fingerprint(number) if in_scope else 0
        if then:
            visited[number] = 1
            if then != fingerprint(raw):
                (changed if known.state(number) in _KEYED else edited).append(number)
        custom_id = _custom_id_of(raw, number)
        if custom_id is None:
            continue
        digest = hash(custom_id)
        bit = digest & (_FILTER_BITS - 1)
        if seen[bit >> 3] & (1 << (bit & 7)):
            suspects.add(digest)
        seen[bit >> 3] |= 1 << (bit & 7)
    gone = [n for n, fp in enumerate(known.fingerprints) if fp and not visited[n] and options.in_scope(n)]
    for number in gone:
        (changed if known.state(number) in _KEYED else edited).append(number)
    if suspects:
        _confirm_duplicates(options.input_path, suspects)
    return Scan(total=total, changed=tuple(sorted(changed)), edited=tuple(sorted(edited)))


def _confirm_duplicates(path: Path, suspects: set[int]) -> None:
    first_line: dict[str, int] = {}
    clashes: list[str] = []
    for number, raw in _numbered(path):
        custom_id = _custom_id_of(raw, number)
        if custom_id is None or hash(custom_id) not in suspects:
            continue
        if custom_id in first_line:
            clashes.append(f"{custom_id!r} on lines {first_line[custom_id]} and {number}")
        else:
            first_line[custom_id] = number
    if clashes:
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise BatchInputError(
            f"duplicate custom_id {'; '.join(clashes[:3])}{more}: every line needs its own custom_id "
            "so that results can be joined back; nothing was sent"
        )


def few(lines: tuple[int, ...], limit: int = 10) -> str:
    """Line numbers as a person reads them: ``3, 7 and 12`` or ``3, 7, ... (25 lines)``."""
    shown = ", ".join(str(n) for n in lines[:limit])
    return shown + (f", ... ({len(lines)} lines)" if len(lines) > limit else "")
