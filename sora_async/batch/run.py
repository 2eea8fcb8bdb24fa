"""A durable, resumable batch: a JSONL file of requests in, one result per line out.

The flow: every check that can fail without spending money first (``preflight``: the paths; an
exclusive lock on the journal; the results file writable; ``input.prescan``: duplicate
``custom_id``s and lines changed since an earlier run), a replay of the journal an earlier run left,
then the input streamed through ``SoraClient.submit_many``. The first line goes alone, so a key the
relay rejects costs one request, not a window of them; an answer that every further request must
share (``affects_all_requests``: a rejected key, a wrong base URL) stops the run there.

Each line's idempotency key is journaled, and made durable, before its request can start, and its
outcome after it ends, so a re-run after a crash, SIGKILL, Ctrl-C or SIGTERM skips finished lines,
re-sends unfinished ones under their original keys, and creates nothing twice on a relay that
honours the key. Memory stays flat: a few bytes per line of state plus the work in flight.

Input line: the fields of a create request plus an optional ``custom_id`` (default: the line
number). Blank lines are ignored. Output line: ``custom_id``, ``line``, ``task_id`` or ``error``,
``attempts``, ``idempotency_key`` (and with ``wait``: ``status``, ``video_urls``, ``fail_reason``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

from .._client import SoraClient
from .._create import new_key
from .._errors import (
    AmbiguousSubmissionError,
    APIStatusError,
    SoraError,
    TaskFailedError,
    TaskTimeoutError,
)
from .._models import VideoTask
from .._submit import SubmitItem, SubmitResult
from .input import ParsedLine, Scan, few, fingerprint, input_lines, parse_line, prescan
from .journal import Journal, JournalState, LineState, read_journal, write_results
from .lock import JournalLock
from .options import BatchInputError, BatchOptions, BatchProgress, BatchSummary
from .preflight import check_input, check_output
from .videos import save_videos

__all__ = ["affects_all_requests", "run_batch"]

_MAX_EXAMPLES = 10
_WAIT_FIELDS = ("status", "video_urls", "fail_reason", "error", "files", "download_error")
"""What a wait records: dropped from an earlier finished record before the wait is done again."""
SYNC_GROUP = 64
"""Lines journaled per fsync: their keys are durable before the first of them is handed over."""


def affects_all_requests(exc: BaseException) -> bool:
    """Whether every further request of this run must fail the same way, so the run stops: the SDK's
    own verdict (a rejected or forbidden key, a model with no channel, a wrong base URL or dialect)."""
    return isinstance(exc, SoraError) and exc.affects_all_requests


def _error_record(exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    cause = exc.cause if isinstance(exc, AmbiguousSubmissionError) else exc
    if isinstance(cause, APIStatusError):
        error["status_code"] = cause.status_code
        error["code"] = cause.code
    return error


class _Run:
    """One run of a batch: owns the counters, the waiters and the decision to stop early."""

    def __init__(
        self,
        client: SoraClient,
        options: BatchOptions,
        progress: BatchProgress,
        state: JournalState,
        journal: Journal,
    ) -> None:
        self.client = client
        self.options = options
        self.progress = progress
        self.retry_ambiguous = client.retry.retry_ambiguous
        self.state = state
        self.journal = journal
        self.invalid_examples: list[tuple[int, str]] = []
        self.failed_examples: list[tuple[int, str]] = []
        self.wait_slots = asyncio.Semaphore(client.max_concurrency)
        self.waiters: set[asyncio.Task[None]] = set()
        self.stopped_by: BaseException | None = None

    async def submit_all(self) -> None:
        """Send every line that needs it: the first alone, then the rest as fast as the client goes."""
        feed = self.feed()
        async with contextlib.aclosing(feed):
            first = await anext(feed, None)
            if first is None:
                return
            await self._consume(self.client.submit_many([first]))
            if self.stopped_by is None:
                await self._consume(self.client.submit_many(feed))
        self.progress.in_flight = 0  # lines cut short by a stop stay "sent": a re-run sends them

    async def _consume(self, results: AsyncGenerator[SubmitResult, None]) -> None:
        async with contextlib.aclosing(results):
            async for result in results:
                await self.outcome(result)
                if self.stopped_by is not None:
                    return  # closing the stream cancels the requests in flight at once

    async def feed(self) -> AsyncGenerator[SubmitItem, None]:
        """The lines still to send, each journaled (key and fingerprint, fsync'ed) before hand-over."""
        ready: list[SubmitItem] = []
        async for number, raw in input_lines(self.options.input_path):
            if self.stopped_by is not None:
                return
            if not self.options.in_scope(number) or not await self._needs_sending(number):
                continue
            parsed = parse_line(raw, number)
            if parsed.request is None:
                self._invalid(number, parsed)
                continue
            prior = self.state.pending.get(number)
            key = prior["key"] if prior and prior.get("key") else new_key()
            self.progress.resumed += prior is not None
            self.journal.append(
                {
                    "line": number,
                    "event": "sent",
                    "custom_id": parsed.custom_id,
                    "key": key,
                    "fp": format(fingerprint(raw), "016x"),
                }
            )
            ready.append(SubmitItem(parsed.request, idempotency_key=key, tag=(number, parsed.custom_id)))
            if len(ready) >= SYNC_GROUP:
                async for item in self._hand_over(ready):
                    yield item
                ready = []
        async for item in self._hand_over(ready):
            yield item

    async def _hand_over(self, ready: list[SubmitItem]) -> AsyncIterator[SubmitItem]:
        """Make the group's keys durable, then give its items out one by one."""
        if not ready:
            return
        self.journal.sync()
        for item in ready:
            if self.stopped_by is not None:
                return
            self.progress.in_flight += 1
            self.progress.sent_this_run += 1
            yield item

    async def _needs_sending(self, number: int) -> bool:
        """Count a line finished by an earlier run (and resume its wait); say whether to send it."""
        state = self.state.state(number)
        progress = self.progress
        if state in (LineState.DONE, LineState.FINISHED):
            progress.skipped += 1
            progress.ok += 1
            prior = self.state.pending.get(number)
            if self.options.wait and prior is not None:  # done, or finished but its videos not saved
                await self._start_wait(prior)
            elif number in self.state.task_failures:  # its task failed in an earlier run: still so
                progress.task_failures += 1
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

    def _invalid(self, number: int, parsed: ParsedLine) -> None:
        assert parsed.error is not None
        self.progress.invalid += 1
        if len(self.invalid_examples) < _MAX_EXAMPLES:
            self.invalid_examples.append((number, parsed.error))
        error = {"type": "ValidationError", "message": parsed.error}
        self.journal.append(
            {"line": number, "event": "invalid", "custom_id": parsed.custom_id, "key": None, "error": error}
        )

    async def outcome(self, result: SubmitResult) -> None:
        number, custom_id = result.tag
        self.progress.in_flight -= 1
        base = {"line": number, "custom_id": custom_id, "key": result.idempotency_key}
        base["attempts"] = result.attempts
        if result.ok:
            self.progress.ok += 1
            record = {**base, "event": "done", "task_id": result.task_id}
            self.journal.append(record)
            if self.options.wait:
                await self._start_wait(record)
            return
        assert result.error is not None
        if affects_all_requests(result.error):
            # Not this line's fault: it stays "sent" (nothing was created), and the run stops here.
            self.stopped_by = self.stopped_by or result.error
            return
        ambiguous = isinstance(result.error, AmbiguousSubmissionError)
        if ambiguous:
            self.progress.ambiguous += 1
        else:
            self.progress.failed += 1
            if len(self.failed_examples) < _MAX_EXAMPLES:
                self.failed_examples.append((number, str(result.error)))
        event = "ambiguous" if ambiguous else "failed"
        self.journal.append({**base, "event": event, "error": _error_record(result.error)})

    async def _start_wait(self, record: dict[str, Any]) -> None:
        """Poll a created task to the end in the background; waits are bounded by a semaphore."""
        await self.wait_slots.acquire()
        task = asyncio.ensure_future(self._wait(record))
        self.waiters.add(task)
        task.add_done_callback(self.waiters.discard)

    async def _wait(self, record: dict[str, Any]) -> None:
        try:
            final: dict[str, Any] = {k: v for k, v in record.items() if k not in _WAIT_FIELDS}
            final["event"] = "finished"
            try:
                task = await self.client.wait_for_task(record["task_id"], timeout=self.options.wait_timeout)
                final.update(status=task.status.value, video_urls=list(task.video_urls))
                if self.options.download_dir is not None:
                    final.update(await self._save(task, self.options.download_dir))
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
            self.journal.append(final)
            self.progress.waited += 1
        finally:
            self.wait_slots.release()

    async def _save(self, task: VideoTask, directory: Path) -> dict[str, Any]:
        """The task's videos saved (``files``), or why not (``download_error``: a re-run tries again)."""
        try:
            files = await save_videos(self.client, task, directory)
        except SoraError as exc:
            self.progress.task_failures += 1
            return {"download_error": _error_record(exc)}
        return {"files": [f["path"] for f in files]}

    async def finish_waits(self) -> None:
        while self.waiters and self.stopped_by is None:
            await asyncio.gather(*list(self.waiters))

    async def cancel_waits(self) -> None:
        for task in self.waiters:
            task.cancel()
        await asyncio.gather(*list(self.waiters), return_exceptions=True)

    def summary(self) -> BatchSummary:
        progress = self.progress
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
            results_path=self.options.out_path,
            journal_path=self.options.journal,
            invalid_examples=tuple(self.invalid_examples),
            failed_examples=tuple(self.failed_examples),
            task_failures=progress.task_failures,
            stopped_by=self.stopped_by,
        )


async def run_batch(
    client: SoraClient, options: BatchOptions, *, progress: BatchProgress | None = None
) -> BatchSummary:
    """Run (or resume) a batch.

    A run stopped early because every request would fail returns a summary whose ``stopped_by`` is
    the error.

    Args:
        client: The client that sends: its rate limit, retry policy and concurrency apply.
        options: What to run.
        progress: Counters to update as the run goes (pass your own to show them on a timer); a new
            one by default.

    Returns:
        How the run ended; ``summary.all_ok`` says whether every line got a task id.

    Raises:
        BatchInputError: The batch cannot run as asked (a bad shard, duplicate ``custom_id``, an
            unwritable output or journal, lines changed since the first run); nothing was sent.
        BatchLockedError: Another run holds the journal.
    """
    if options.shard is not None:
        index, count = options.shard
        if not 0 <= index < count:
            raise BatchInputError(f"shard must be I/N with 0 <= I < N (got {index}/{count})")
    progress = progress if progress is not None else BatchProgress()
    check_input(options)
    _check_download_dir(options)
    try:
        lock = await asyncio.to_thread(JournalLock.acquire, options.journal)
    except OSError as exc:
        raise BatchInputError(
            f"--journal {str(options.journal)!r} cannot be written ({exc.strerror or exc}); nothing was sent"
        ) from exc
    try:
        return await _run_locked(client, options, progress)
    finally:
        lock.release()


async def _run_locked(client: SoraClient, options: BatchOptions, progress: BatchProgress) -> BatchSummary:
    try:
        journal = Journal.open(options.journal)
    except OSError as exc:
        raise BatchInputError(
            f"--journal {str(options.journal)!r} cannot be written ({exc.strerror or exc}); nothing was sent"
        ) from exc
    try:
        check_output(options.out_path)
        state = await asyncio.to_thread(
            read_journal,
            options.journal,
            keep_done=options.wait,
            keep_unsaved=options.wait and options.download_dir is not None,
        )
        scan = await asyncio.to_thread(prescan, options, state)
        _forget_edited(scan, state, journal, resend_changed=options.resend_changed, path=options)
    except BaseException:
        journal.close()
        raise
    progress.total = scan.total
    run = _Run(client, options, progress, state, journal)
    try:
        await run.submit_all()
        await run.finish_waits()
    finally:
        await run.cancel_waits()
        journal.close()
        await asyncio.to_thread(write_results, options.journal, options.out_path)
    return run.summary()


def _forget_edited(
    scan: Scan, state: JournalState, journal: Journal, *, resend_changed: bool, path: BatchOptions
) -> None:
    """Lines edited since the journal saw them: refuse the run, or start them afresh under new keys.

    A line that failed or was invalid created nothing, so its edit is simply taken. A line sent under
    a key may have a task: joining that task to the new content would be wrong, so the run stops
    before anything is sent unless ``resend_changed`` says to pay for the new content.
    """
    if scan.changed and not resend_changed:
        raise BatchInputError(
            f"line(s) {few(scan.changed)} of {str(path.input_path)!r} changed since the journal "
            f"{str(path.journal)!r} recorded them: restore them, or re-send them under new keys "
            "(their old tasks are then forgotten; --resend-changed); nothing was sent"
        )
    for line in (*scan.changed, *scan.edited):
        journal.append({"line": line, "event": "changed"})
        state.forget(line)


def _check_download_dir(options: BatchOptions) -> None:
    """The download directory, made before anything is sent; it only makes sense with ``wait``."""
    if options.download_dir is None:
        return
    if not options.wait:
        raise BatchInputError(
            "download_dir needs wait (a video exists once its task finished); nothing was sent"
        )
    try:
        options.download_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = str(options.download_dir)
        raise BatchInputError(
            f"--download {where!r} cannot be made ({exc.strerror or exc}); nothing was sent"
        ) from exc
