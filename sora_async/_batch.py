"""A durable, resumable batch: a JSONL file of requests in, one result per line out.

The flow: a streaming pre-scan (counts the lines, refuses duplicate ``custom_id``s before anything
is sent), a replay of the journal an earlier run left (``_journal.py``), then the input streamed
through ``SoraClient.submit_many``. Each line's idempotency key is journaled before its request can
start, and its outcome after it ends, so a re-run after a crash, SIGKILL or Ctrl-C skips finished
lines, re-sends unfinished ones under their original keys, and creates nothing twice on a relay that
honours the key. Memory stays flat: one byte per line of state plus the work in flight.

Input line: the fields of a create request plus an optional ``custom_id`` (default: the line
number). Blank lines are ignored. Output line: ``custom_id``, ``line``, ``task_id`` or ``error``,
``attempts``, ``idempotency_key`` (and with ``wait``: ``status``, ``video_urls``, ``fail_reason``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs

from ._client import SoraClient, new_key
from ._errors import AmbiguousSubmissionError, APIStatusError, SoraError, TaskFailedError, TaskTimeoutError
from ._journal import Journal, JournalState, LineState, read_journal, write_results
from ._models import VideoRequest
from ._submit import SubmitItem, SubmitResult

__all__ = ["BatchInputError", "BatchOptions", "BatchProgress", "BatchSummary", "run_batch"]

_FILTER_BITS = 1 << 27  # a 16 MiB bit set: the duplicate pre-filter's memory, whatever the input size
_MAX_EXAMPLES = 10


class BatchInputError(SoraError):
    """The input as a whole cannot be run (duplicate custom_ids, unreadable file, bad shard)."""


@attrs.frozen(kw_only=True)
class BatchOptions:
    """What to run. ``shard=(i, n)`` takes every n-th line starting at line i+1 (0-based i)."""

    input_path: Path = attrs.field(converter=Path)
    out_path: Path = attrs.field(converter=Path)
    journal_path: Path | None = None
    wait: bool = False
    wait_timeout: float = 600.0
    retry_failed: bool = False
    shard: tuple[int, int] | None = None

    @property
    def journal(self) -> Path:
        """The journal's path: given, or the results path plus ``.journal``."""
        return (
            Path(self.journal_path)
            if self.journal_path
            else self.out_path.with_name(self.out_path.name + ".journal")
        )

    def in_scope(self, line: int) -> bool:
        if self.shard is None:
            return True
        index, count = self.shard
        return (line - 1) % count == index


@attrs.define
class BatchProgress:
    """Live counters, updated as the batch runs (render them on a timer). Finished lines of earlier
    runs count in ok/failed/ambiguous/invalid as well as in ``skipped``."""

    total: int = 0
    skipped: int = 0
    resumed: int = 0
    ok: int = 0
    failed: int = 0
    invalid: int = 0
    ambiguous: int = 0
    in_flight: int = 0
    waited: int = 0
    task_failures: int = 0
    sent_this_run: int = 0
    started: float = attrs.field(factory=time.monotonic)

    @property
    def done(self) -> int:
        """Lines with a final outcome."""
        return self.ok + self.failed + self.invalid + self.ambiguous

    @property
    def rate(self) -> float:
        """Lines finished per second by this run."""
        elapsed = time.monotonic() - self.started
        return (self.done - self.skipped) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before there is a rate."""
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 and self.total else None


@attrs.frozen(kw_only=True)
class BatchSummary:
    """How a run ended. ``all_ok`` is the exit condition: every line has a task id."""

    total: int
    skipped: int
    resumed: int
    ok: int
    failed: int
    invalid: int
    ambiguous: int
    pending: int
    elapsed: float
    results_path: Path
    journal_path: Path
    invalid_examples: tuple[tuple[int, str], ...] = ()
    failed_examples: tuple[tuple[int, str], ...] = ()
    task_failures: int = 0
    """With ``wait``: created tasks that ended in FAILURE or did not finish in time."""

    @property
    def all_ok(self) -> bool:
        return self.ok == self.total and self.task_failures == 0


@attrs.define
class _ParsedLine:
    custom_id: str
    request: VideoRequest | None = None
    error: str | None = None


def parse_line(raw: bytes, line: int) -> _ParsedLine:
    """One input line to a request, or to the reason it is invalid (never raises)."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _ParsedLine(str(line), error=f"not valid JSON ({exc.msg} at column {exc.colno})")
    except ValueError:  # bytes that are not UTF-8
        return _ParsedLine(str(line), error="not valid UTF-8 text")
    if not isinstance(data, dict):
        return _ParsedLine(str(line), error=f"expected a JSON object, got {type(data).__name__}")
    custom_id = _custom_id(data.pop("custom_id", None), line)
    try:
        return _ParsedLine(custom_id, request=VideoRequest.from_dict(data))
    except SoraError as exc:
        return _ParsedLine(custom_id, error=str(exc))


def _custom_id(value: object, line: int) -> str:
    if value is None:
        return str(line)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return str(line)  # reported by the pre-scan; kept stable here
    return str(value)


def _custom_id_of(raw: bytes, line: int) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return str(line)
    return _custom_id(data.get("custom_id") if isinstance(data, dict) else None, line)


def _input_lines(path: Path) -> AsyncIterator[tuple[int, bytes]]:
    async def lines() -> AsyncIterator[tuple[int, bytes]]:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    yield number, raw

    return lines()


def prescan(options: BatchOptions) -> int:
    """Count the lines in scope and refuse duplicate custom_ids, in flat memory.

    A fixed bit set flags custom_ids that may repeat; only those suspects are checked exactly, in a
    second pass, so the cost does not grow with the input beyond the suspects.
    """
    if not options.input_path.is_file():
        raise BatchInputError(f"input file {str(options.input_path)!r} does not exist or is not a file")
    seen = bytearray(_FILTER_BITS // 8)
    suspects: set[int] = set()
    total = 0
    with options.input_path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            total += options.in_scope(number)
            digest = hash(_custom_id_of(raw, number))
            bit = digest & (_FILTER_BITS - 1)
            if seen[bit >> 3] & (1 << (bit & 7)):
                suspects.add(digest)
            seen[bit >> 3] |= 1 << (bit & 7)
    if suspects:
        _confirm_duplicates(options.input_path, suspects)
    return total


def _confirm_duplicates(path: Path, suspects: set[int]) -> None:
    first_line: dict[str, int] = {}
    clashes: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            custom_id = _custom_id_of(raw, number)
            if hash(custom_id) not in suspects:
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


def _error_record(exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    cause = exc.cause if isinstance(exc, AmbiguousSubmissionError) else exc
    if isinstance(cause, APIStatusError):
        error["status_code"] = cause.status_code
        error["code"] = cause.code
    return error


class _Run:
    """One run of a batch: owns the journal, the counters and the waiters."""

    def __init__(self, client: SoraClient, options: BatchOptions, progress: BatchProgress) -> None:
        self.client = client
        self.options = options
        self.progress = progress
        self.retry_ambiguous = client.retry.retry_ambiguous
        self.state = JournalState()
        self.journal: Journal | None = None
        self.invalid_examples: list[tuple[int, str]] = []
        self.failed_examples: list[tuple[int, str]] = []
        self.wait_slots = asyncio.Semaphore(client.max_concurrency)
        self.waiters: set[asyncio.Task[None]] = set()

    def record(self, record: dict[str, Any]) -> None:
        assert self.journal is not None
        self.journal.append(record)

    async def feed(self) -> AsyncIterator[SubmitItem]:
        """The lines still to send, each journaled with its key before it is handed over."""
        async for number, raw in _input_lines(self.options.input_path):
            if not self.options.in_scope(number):
                continue
            if not await self._needs_sending(number):
                continue
            parsed = parse_line(raw, number)
            if parsed.request is None:
                self._invalid(number, parsed)
                continue
            prior = self.state.pending.get(number)
            key = prior["key"] if prior and prior.get("key") else new_key()
            self.progress.resumed += prior is not None
            self.record({"line": number, "event": "sent", "custom_id": parsed.custom_id, "key": key})
            self.progress.in_flight += 1
            self.progress.sent_this_run += 1
            yield SubmitItem(parsed.request, idempotency_key=key, tag=(number, parsed.custom_id))

    async def _needs_sending(self, number: int) -> bool:
        """Count a line finished by an earlier run (and resume its wait); say whether to send it."""
        state = self.state.state(number)
        progress = self.progress
        if state in (LineState.DONE, LineState.FINISHED):
            progress.skipped += 1
            progress.ok += 1
            prior = self.state.pending.get(number)
            if state == LineState.DONE and self.options.wait and prior is not None:
                await self._start_wait(prior)
            return False
        if state == LineState.AMBIGUOUS and not self.retry_ambiguous:
            progress.skipped += 1
            progress.ambiguous += 1
            return False
        if state == LineState.FAILED and not self.options.retry_failed:
            progress.skipped += 1
            progress.failed += 1
            return False
        return True

    def _invalid(self, number: int, parsed: _ParsedLine) -> None:
        assert parsed.error is not None
        self.progress.invalid += 1
        if len(self.invalid_examples) < _MAX_EXAMPLES:
            self.invalid_examples.append((number, parsed.error))
        error = {"type": "ValidationError", "message": parsed.error}
        self.record(
            {"line": number, "event": "invalid", "custom_id": parsed.custom_id, "key": None, "error": error}
        )

    async def outcome(self, result: SubmitResult) -> None:
        number, custom_id = result.tag
        self.progress.in_flight -= 1
        base = {
            "line": number,
            "custom_id": custom_id,
            "key": result.idempotency_key,
            "attempts": result.attempts,
        }
        if result.ok:
            self.progress.ok += 1
            record = {**base, "event": "done", "task_id": result.task_id}
            self.record(record)
            if self.options.wait:
                await self._start_wait(record)
            return
        assert result.error is not None
        ambiguous = isinstance(result.error, AmbiguousSubmissionError)
        if ambiguous:
            self.progress.ambiguous += 1
        else:
            self.progress.failed += 1
            if len(self.failed_examples) < _MAX_EXAMPLES:
                self.failed_examples.append((number, str(result.error)))
        event = "ambiguous" if ambiguous else "failed"
        self.record({**base, "event": event, "error": _error_record(result.error)})

    async def _start_wait(self, record: dict[str, Any]) -> None:
        """Poll a created task to the end in the background; waits are bounded by a semaphore."""
        await self.wait_slots.acquire()
        task = asyncio.ensure_future(self._wait(record))
        self.waiters.add(task)
        task.add_done_callback(self.waiters.discard)

    async def _wait(self, record: dict[str, Any]) -> None:
        try:
            final: dict[str, Any] = {**record, "event": "finished"}
            try:
                task = await self.client.wait_for_task(record["task_id"], timeout=self.options.wait_timeout)
                final.update(status=task.status.value, video_urls=list(task.video_urls))
            except TaskFailedError as exc:
                final.update(status="FAILURE", video_urls=[], fail_reason=exc.fail_reason)
                self.progress.task_failures += 1
            except TaskTimeoutError as exc:
                status = exc.last_task.status.value if exc.last_task else "UNKNOWN"
                final.update(status=status, error={"type": "TaskTimeoutError", "message": str(exc)})
                self.progress.task_failures += 1
            except SoraError as exc:
                final.update(error=_error_record(exc))
                self.progress.task_failures += 1
            self.record(final)
            self.progress.waited += 1
        finally:
            self.wait_slots.release()

    async def finish_waits(self) -> None:
        while self.waiters:
            await asyncio.gather(*list(self.waiters))

    async def cancel_waits(self) -> None:
        for task in self.waiters:
            task.cancel()
        await asyncio.gather(*list(self.waiters), return_exceptions=True)


async def run_batch(
    client: SoraClient, options: BatchOptions, *, progress: BatchProgress | None = None
) -> BatchSummary:
    """Run (or resume) a batch; raises ``BatchInputError``, before sending anything, on unusable input."""
    if options.shard is not None:
        index, count = options.shard
        if not 0 <= index < count:
            raise BatchInputError(f"shard must be I/N with 0 <= I < N (got {index}/{count})")
    progress = progress if progress is not None else BatchProgress()
    progress.total = await asyncio.to_thread(prescan, options)
    run = _Run(client, options, progress)
    run.state = await asyncio.to_thread(read_journal, options.journal, keep_done=options.wait)
    run.journal = Journal.open(options.journal)
    try:
        async for result in client.submit_many(run.feed()):
            await run.outcome(result)
        await run.finish_waits()
    finally:
        await run.cancel_waits()
        run.journal.close()
        await asyncio.to_thread(write_results, options.journal, options.out_path)
    return BatchSummary(
        total=progress.total,
        skipped=progress.skipped,
        resumed=progress.resumed,
        ok=progress.ok,
        failed=progress.failed,
        invalid=progress.invalid,
        ambiguous=progress.ambiguous,
        pending=progress.total - progress.done,
        elapsed=time.monotonic() - progress.started,
        results_path=options.out_path,
        journal_path=options.journal,
        invalid_examples=tuple(run.invalid_examples),
        failed_examples=tuple(run.failed_examples),
        task_failures=progress.task_failures,
    )
