"""What a batch is asked to do, what it reports while it runs, and how it ended.

Kept apart from the engine (``run.py``) so that the command line and the docs can build options and
read summaries without pulling in the run's machinery.
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs

from .._errors import SoraError

__all__ = ["BatchInputError", "BatchOptions", "BatchProgress", "BatchSummary"]


class BatchInputError(SoraError):
    """The batch as a whole cannot be run, and nothing was sent: duplicate custom_ids, an unreadable
    input, an output that is the input or cannot be written, lines changed since the first run."""


@attrs.frozen(kw_only=True)
class BatchOptions:
    """What to run. ``shard=(i, n)`` takes every n-th line starting at line i+1 (0-based i).

    ``download_dir`` (needs ``wait``): every video is saved there and its file recorded with the line;
    a re-run skips saved files and continues interrupted ones, so nothing is downloaded twice.

    ``resend_changed``: a line whose content differs from the one the journal saw is sent again under
    a new key (its old task is forgotten) instead of stopping the run before anything is sent.

    Args:
        input_path: The JSONL input, one request a line (``custom_id`` optional, kept in results).
        out_path: The results file: one JSON line per input line, joined back by ``line`` and
            ``custom_id``.
        journal_path: Where the run journals keys and outcomes (what makes it resumable); default
            ``out_path`` plus ``.journal``.
        wait: Also wait for each created task to finish, and record its status and video URLs.
        wait_timeout: Seconds to wait for one task (with ``wait``) before recording it unfinished.
        retry_failed: Send again the lines an earlier run recorded as failed (not the ambiguous ones:
            those follow the client's ``retry_ambiguous``).
        resend_changed: Send a line changed since the journal saw it under a new key, instead of
            stopping the run.
        shard: ``(i, n)``: run only every n-th line starting at line i+1, so n processes can share
            one input (each with its own results and journal; ``merge_results`` joins them).
        download_dir: With ``wait``: save each finished task's videos here (``<task_id>.mp4``) and
            record the files.
    """

    input_path: Path = attrs.field(converter=Path)
    out_path: Path = attrs.field(converter=Path)
    journal_path: Path | None = None
    wait: bool = False
    wait_timeout: float = 600.0
    retry_failed: bool = False
    resend_changed: bool = False
    shard: tuple[int, int] | None = None
    download_dir: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))

    @property
    def journal(self) -> Path:
        """The journal's path: given, or the results path plus ``.journal``."""
        return (
            Path(self.journal_path)
            if self.journal_path
            else self.out_path.with_name(self.out_path.name + ".journal")
        )

    def in_scope(self, line: int) -> bool:
        """Whether this shard owns input line ``line``.

        Args:
            line: An input line number, 1-based (blank lines count).
        """
        if self.shard is None:
            return True
        index, count = self.shard
        return (line - 1) % count == index


@attrs.define
class BatchProgress:
    """Live counters, updated as the batch runs (render them on a timer). Finished lines of earlier
    runs count in ok/failed/ambiguous/invalid as well as in ``skipped``.

    Args:
        total: Lines in scope (set once the input is counted).
        skipped: Lines an earlier run finished, not sent again.
        resumed: Lines an earlier run sent without an outcome, sent again under their journaled key
            (so a relay that honours the key does not bill twice).
        ok: Lines with a task id.
        failed: Lines the relay refused (no task created).
        invalid: Lines that are not a valid request (nothing sent).
        ambiguous: Lines whose create may or may not have reached the relay.
        in_flight: Lines sent and not yet answered.
        waited: Tasks waited on to the end (with ``wait``), whatever the end.
        task_failures: Tasks that failed, did not finish in time or whose videos could not be saved.
        sent_this_run: Lines handed to the client by this run.
        started: When the run started (``time.monotonic()``), for ``rate`` and ``eta``.
    """

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
    """How a run ended. ``all_ok`` is the exit condition: every line has a task id.

    ``stopped_by`` is the error that stopped the run early because every further request would have
    failed the same way (a rejected key, a wrong base URL); the lines it left are ``pending`` and a
    re-run of the same command, once the cause is fixed, sends them under their journaled keys.

    Args:
        total: Lines in scope.
        skipped: Lines an earlier run had finished.
        resumed: Lines sent again under their journaled key.
        ok: Lines with a task id.
        failed: Lines the relay refused.
        invalid: Lines that are not a valid request.
        ambiguous: Lines whose create may have reached the relay without a clear answer (re-run with
            ``retry_ambiguous`` on a relay that honours ``Idempotency-Key`` to settle them).
        pending: Lines with no outcome yet (a stopped or interrupted run); a re-run sends them.
        elapsed: Seconds the run took.
        results_path: The results file written.
        journal_path: The journal written.
        invalid_examples: A few ``(line, reason)`` of invalid lines, to show.
        failed_examples: A few ``(line, error)`` of failed lines, to show.
        task_failures: With ``wait``: created tasks that ended in FAILURE or did not finish in time.
        stopped_by: The error that stopped the run early, or None.
    """

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
    stopped_by: BaseException | None = attrs.field(default=None, eq=False)

    @property
    def all_ok(self) -> bool:
        """Every line in scope got a task id (and, with ``wait``, every video succeeded)."""
        return self.ok == self.total and self.task_failures == 0 and self.stopped_by is None
