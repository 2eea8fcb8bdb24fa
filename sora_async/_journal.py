"""The batch journal: an append-only JSONL log that makes a batch survive crashes and resume exactly.

Before a line's request is sent, its idempotency key is appended (``sent``); after it ends, its
outcome is (``done``, ``failed``, ``ambiguous``, ``invalid``, and with ``--wait`` ``finished``).
Every record is flushed to the operating system at once, so a SIGKILL loses nothing written; the
file is fsync'ed at most every ``FSYNC_INTERVAL`` seconds and when it is closed, which bounds what a
power cut can take.

Reading it back gives, per line, the latest state and, for the lines that need another go, the key
to reuse: a relay that honours ``Idempotency-Key`` then returns the original task instead of making
(and billing) a second one. Memory is one byte per input line plus the keys of unfinished lines.

The results file is a view of the journal: the last outcome of each line, rewritten at the end of
every run, so it always has exactly one line per finished input line.
"""

from __future__ import annotations

import json
import os
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

__all__ = ["FINAL_EVENTS", "Journal", "LineState", "read_journal", "write_results"]

FSYNC_INTERVAL = 0.2
FINAL_EVENTS = ("done", "failed", "ambiguous", "invalid", "finished")


class LineState:
    """One byte per line: what the journal last said about it."""

    NEW = 0
    SENT = 1
    DONE = 2
    FAILED = 3
    AMBIGUOUS = 4
    INVALID = 5
    FINISHED = 6

    BY_EVENT: ClassVar[dict[str, int]] = {
        "sent": SENT,
        "done": DONE,
        "failed": FAILED,
        "ambiguous": AMBIGUOUS,
        "invalid": INVALID,
        "finished": FINISHED,
    }


class JournalState:
    """What an earlier run left: each line's state, and the records needed to pick up its work."""

    def __init__(self) -> None:
        self.states = bytearray()
        self.pending: dict[int, dict[str, Any]] = {}
        """line -> its latest record, for lines a resumed run may act on again (not done and not invalid)."""

    def state(self, line: int) -> int:
        return self.states[line] if line < len(self.states) else LineState.NEW

    def _set(self, line: int, state: int) -> None:
        if line >= len(self.states):
            self.states.extend(bytes(line + 1 - len(self.states) + 1024))
        self.states[line] = state


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete record; a torn last line (the process died mid-write) is skipped."""
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                return
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("line"), int):
                yield record


def read_journal(path: Path, *, keep_done: bool = False) -> JournalState:
    """Replay a journal into per-line states. ``keep_done`` keeps done lines' records (for --wait)."""
    result = JournalState()
    if not path.exists():
        return result
    for record in _records(path):
        line, state = record["line"], LineState.BY_EVENT.get(record.get("event", ""))
        if state is None:
            continue
        result._set(line, state)
        if state in (LineState.SENT, LineState.FAILED, LineState.AMBIGUOUS) or (
            keep_done and state == LineState.DONE
        ):
            result.pending[line] = record
        else:
            result.pending.pop(line, None)
    return result


class Journal:
    """The append side. Open with ``Journal.open(path)`` and ``close()`` when done."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._last_sync = time.monotonic()

    @classmethod
    def open(cls, path: Path) -> Journal:
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)
        return cls(path.open("ab"))

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and hand it to the OS now; fsync now and then."""
        self._handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        self._handle.flush()
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_INTERVAL:
            os.fsync(self._handle.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a half-written last record so new records start on a fresh line."""
    if not path.exists():
        return
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(4096, position)
            handle.seek(position - step)
            chunk = handle.read(step)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                handle.truncate(position - step + cut + 1)
                return
            position -= step
        handle.truncate(0)


def write_results(journal_path: Path, out_path: Path) -> int:
    """Rewrite the results file from the journal: each line's last outcome, once. Returns lines written.

    Two passes over the journal keep memory at eight bytes per record number of the last outcome.
    """
    last_final = array("q")
    if journal_path.exists():
        for number, record in enumerate(_records(journal_path)):
            if record.get("event") in FINAL_EVENTS:
                line = record["line"]
                if line >= len(last_final):
                    last_final.extend([-1] * (line + 1 - len(last_final) + 1024))
                last_final[line] = number
    tmp = out_path.with_name(out_path.name + ".tmp")
    written = 0
    with tmp.open("w", encoding="utf-8") as out:
        if journal_path.exists():
            for number, record in enumerate(_records(journal_path)):
                line = record["line"]
                if line < len(last_final) and last_final[line] == number:
                    out.write(json.dumps(_result_line(record), ensure_ascii=False) + "\n")
                    written += 1
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, out_path)
    return written


def _result_line(record: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a result: joinable to the input by ``custom_id``."""
    result = {
        "custom_id": record.get("custom_id"),
        "line": record["line"],
        "task_id": record.get("task_id"),
        "error": record.get("error"),
        "attempts": record.get("attempts", 0),
        "idempotency_key": record.get("key"),
    }
    for extra in ("status", "video_urls", "fail_reason"):
        if extra in record:
            result[extra] = record[extra]
    return result
