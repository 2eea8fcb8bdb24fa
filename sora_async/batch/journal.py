"""The batch journal: an append-only JSONL log that makes a batch survive crashes and resume exactly.

Before a line's request is handed over to be sent, its idempotency key and the fingerprint of its
content are appended (``sent``) and made durable (``sync``: flushed and fsync'ed, one fsync for a
group of lines); after it ends, its outcome is appended (``done``, ``failed``, ``ambiguous``,
``invalid``, and with ``--wait`` ``finished``). Every record is flushed to the operating system as it
is written, so a SIGKILL loses nothing written; outcomes are fsync'ed at most every
``FSYNC_INTERVAL`` seconds and when the journal is closed, which bounds what a power cut can take.
``changed`` forgets a line whose content was edited (its next ``sent`` starts it afresh).

Reading it back gives, per line, the latest state, the fingerprint of the content that was sent, and,
for the lines that need another go, the key to reuse: a relay that honours ``Idempotency-Key`` then
returns the original task instead of making (and billing) a second one. Memory is nine bytes per input
line plus the keys of unfinished lines. A crash in the middle of a write leaves a torn last record:
reading skips it, and opening the journal to append cuts it, so the next record starts a fresh line.

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

__all__ = ["FINAL_EVENTS", "Journal", "JournalState", "LineState", "read_journal", "write_results"]

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
        "changed": NEW,
    }


class JournalState:
    """What an earlier run left: each line's state and fingerprint, and the records to pick up its work."""

    def __init__(self) -> None:
        self.states = bytearray()
        self.fingerprints = array("Q")
        """line -> the fingerprint of the content last sent under a key (0: none)."""
        self.pending: dict[int, dict[str, Any]] = {}
        """line -> its latest record, for lines a resumed run may act on again (not done and not invalid)."""
        self.task_failures: set[int] = set()
        """Lines whose task was waited for and did not succeed (failed, timed out, not saved): a
        re-run that skips them still counts them, so its exit code says what the results file says."""

    def state(self, line: int) -> int:
        return self.states[line] if line < len(self.states) else LineState.NEW

    def fingerprint(self, line: int) -> int:
        return self.fingerprints[line] if line < len(self.fingerprints) else 0

    def forget(self, line: int) -> None:
        """The line was edited: it starts again as new, under a new key."""
        self.set(line, LineState.NEW)
        self.fingerprints[line] = 0
        self.pending.pop(line, None)

    def set(self, line: int, state: int) -> None:
        if line >= len(self.states):
            grow = line + 1 - len(self.states) + 1024
            self.states.extend(bytes(grow))
            self.fingerprints.extend([0] * grow)
        self.states[line] = state


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete record; a torn last line (the process died mid-write) is skipped."""
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                return
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict) and type(record.get("line")) is int and record["line"] > 0:
                yield record


def read_journal(path: Path, *, keep_done: bool = False, keep_unsaved: bool = False) -> JournalState:
    """Replay a journal into per-line states. ``keep_done`` keeps done lines' records (for --wait);
    ``keep_unsaved`` also keeps finished successes whose videos were not saved (for --download)."""
    result = JournalState()
    if not path.exists():
        return result
    for record in _records(path):
        line, state = record["line"], LineState.BY_EVENT.get(record.get("event", ""))
        if state is None:
            continue
        if state == LineState.NEW:
            result.set(line, state)
            result.forget(line)
            continue
        result.set(line, state)
        fp = record.get("fp")
        if state == LineState.SENT and isinstance(fp, str):
            try:
                result.fingerprints[line] = int(fp, 16)
            except (ValueError, OverflowError):
                result.fingerprints[line] = 0
        if state == LineState.FINISHED and not _succeeded(record):
            result.task_failures.add(line)
        else:
            result.task_failures.discard(line)
        if (
            state in (LineState.SENT, LineState.FAILED, LineState.AMBIGUOUS)
            or (keep_done and state == LineState.DONE)
            or (keep_unsaved and state == LineState.FINISHED and _unsaved(record))
        ):
            result.pending[line] = record
        else:
            result.pending.pop(line, None)
    return result


def _succeeded(record: dict[str, Any]) -> bool:
    """A finished line whose task succeeded and whose videos, if asked for, were saved."""
    return record.get("status") == "SUCCESS" and "error" not in record and "download_error" not in record


def _unsaved(record: dict[str, Any]) -> bool:
    """A finished success whose videos were not saved (no download asked, or it failed)."""
    return record.get("status") == "SUCCESS" and "files" not in record


class Journal:
    """The append side. Open with ``Journal.open(path)`` and ``close()`` when done."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._last_sync = time.monotonic()

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Open for appending, after cutting a torn last record an earlier crash left."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)
        return cls(path.open("ab"))

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and hand it to the OS now (a SIGKILL loses nothing); fsync now and then."""
        self._handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        self._handle.flush()
        if time.monotonic() - self._last_sync >= FSYNC_INTERVAL:
            self.sync()

    def sync(self) -> None:
        """Make every record written so far durable: after this, a power cut cannot take them."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._handle.closed:
            self.sync()
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

    Two passes over the journal keep memory at eight bytes per line (the record number of its last
    outcome). The file is written beside ``out_path`` and renamed over it, so it is never half-written.
    """
    last_final = array("q")
    if journal_path.exists():
        for number, record in enumerate(_records(journal_path)):
            event = record.get("event")
            if event in FINAL_EVENTS or event == "changed":
                line = record["line"]
                if line >= len(last_final):
                    last_final.extend([-1] * (line + 1 - len(last_final) + 1024))
                last_final[line] = number if event != "changed" else -1
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
    for extra in ("status", "video_urls", "fail_reason", "files", "download_error"):
        if extra in record:
            result[extra] = record[extra]
    return result
