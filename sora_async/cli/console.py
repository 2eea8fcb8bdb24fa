"""How the ``sora-async`` command talks: results on stdout, progress and notes on stderr.

Results go to stdout so that ``TASK=$(sora-async create ...)`` and ``--json | jq`` work; everything a
person watches (progress bars, notes) goes to stderr, and ``-q`` silences it. rich is an optional
extra (``sora-async[cli]``): it is imported only when the stream is a terminal and rich is installed,
and every view has a plain fallback that reads well in a pipe or a CI log. Keeping the rendering here
lets the commands say *what* to show and never *how*.

Nothing a user wrote is ever read as rich markup: prompts, failure reasons and paths are passed as
``rich.text.Text`` (or to columns with markup off), so ``[/]``, ``[fail]`` or ``res[final].jsonl``
show as they are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from .._redact import MIN_SECRET, Redactor

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from .._models import VideoTask
    from ..batch import BatchProgress
    from .errors import CliError

__all__ = ["UI", "TaskWatch", "batch_line", "format_seconds", "rich_console"]

RICH_REFRESH = 0.2
"""Seconds between redraws of the live batch bar on a terminal."""
"""The shortest string ``UI.redact`` masks."""
PLAIN_REFRESH = 5.0
"""Seconds between progress lines when stderr is not a terminal: often enough to see life, rarely
enough not to flood a CI log."""


def _isatty(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal; a closed or odd stream counts as not one."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def rich_console(stream: TextIO) -> Console | None:
    """A rich console on ``stream`` when it is a terminal and rich is installed, else None (plain)."""
    if not _isatty(stream):
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream, highlight=False)


def format_seconds(seconds: float) -> str:
    """A duration as a person reads it: ``0.4s``, ``12s``, ``3m05s``, ``1h02m``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def batch_line(progress: BatchProgress) -> str:
    """One line of batch progress: what is done, what went wrong, how fast, how long to go."""
    total = progress.total
    done = f"{progress.done}/{total}" if total else f"{progress.done}"
    parts = [f"{done} done", f"{progress.failed} failed"]
    if progress.invalid:
        parts.append(f"{progress.invalid} invalid")
    if progress.ambiguous:
        parts.append(f"{progress.ambiguous} ambiguous")
    parts.append(f"{progress.in_flight} in flight")
    parts.append(f"{progress.rate:.1f} req/s")
    eta = progress.eta
    parts.append(f"ETA {format_seconds(eta)}" if eta is not None else "ETA -")
    return ", ".join(parts)


class TaskWatch(Protocol):
    """Shows the polls of ``wait_for_task``; pass ``update`` as its ``on_progress``."""

    def update(self, task: VideoTask) -> None: ...


class _SilentWatch:
    def update(self, task: VideoTask) -> None:
        """Quiet mode: nothing to show."""


class _PlainTaskWatch:
    """A stderr line when the status changes or progress moves on a step: a log shows the task moving
    without a line per poll."""

    STEP = 25.0
    """Percentage points of progress worth a new line when the status has not changed."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last: dict[str, tuple[str, float]] = {}

    def update(self, task: VideoTask) -> None:
        seen = (task.status.value, task.progress or 0.0)
        last = self._last.get(task.task_id)
        if last is not None and last[0] == seen[0] and seen[1] - last[1] < self.STEP:
            return
        self._last[task.task_id] = seen
        progress = "" if task.progress is None else f" {task.progress:g}%"
        print(f"task {task.task_id}: {task.status.value}{progress}", file=self._stream, flush=True)


class _RichTaskWatch:
    """A rich bar per task, filled by the relay's progress percentage."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._rows: dict[str, TaskID] = {}

    def update(self, task: VideoTask) -> None:
        row = self._rows.get(task.task_id)
        if row is None:
            row = self._rows[task.task_id] = self._progress.add_task(task.task_id, total=100)
        self._progress.update(
            row,
            completed=100 if task.is_finished else (task.progress or 0),
            description=f"{task.task_id} {task.status.value}",
        )


class _RichBatchBar:
    """The live batch bar on a terminal: a rich Progress redrawn from the counters on a timer."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("batch", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}", markup=False),
            console=console,
            auto_refresh=False,
            transient=False,
        )
        self.row = self.progress.add_task("batch", total=None, detail="scanning the input...")

    def draw(self, counters: BatchProgress) -> None:
        detail = batch_line(counters).split(", ", 1)[1]  # the bar already shows done/total
        self.progress.update(self.row, total=counters.total or None, completed=counters.done, detail=detail)
        self.progress.refresh()


class UI:
    """The command's voice. ``json_mode``: stdout carries one JSON object; ``quiet``: no progress or notes.

    Every text that leaves through it is scrubbed of the registered secrets (the API key), a last line
    of defence behind the SDK's own redaction.
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.out = stdout if stdout is not None else sys.stdout
        self.err = stderr if stderr is not None else sys.stderr
        self._secrets: list[str] = []
        self._redactor = Redactor()
        self._json_pending: dict[str, Any] = {}
        self._json_sent = False

    def add_secret(self, secret: str) -> None:
        """Never let ``secret`` reach the screen, whatever text it hides in.

        Secrets shorter than ``MIN_SECRET`` are ignored: masking a test key like ``k`` would mangle
        every word with a k in it, and such a key protects nothing anyway.
        """
        if len(secret) >= MIN_SECRET and secret not in self._secrets:
            self._secrets.append(secret)
            self._redactor = Redactor(*self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with each secret, and any run of 8 of its characters, blanked (the SDK's rule)."""
        return self._redactor(text)

    # --- plain words -------------------------------------------------------------------------------

    def print(self, text: str = "") -> None:
        """A line of result on stdout."""
        print(self.redact(text), file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A line for the person watching, on stderr; silenced by ``-q``."""
        if not self.quiet:
            print(self.redact(text), file=self.err, flush=True)

    def error(self, text: str) -> None:
        """An error line on stderr; never silenced."""
        print(self.redact(text), file=self.err, flush=True)

    def emit_json(self, payload: dict[str, Any]) -> None:
        """A JSON object of ``--json`` mode, on one line (one per task when a command takes several)."""
        self._json_sent = True
        self.print(json.dumps(payload, ensure_ascii=False, default=str))

    def json_on_failure(self, payload: dict[str, Any]) -> None:
        """What ``--json`` prints beside the error if the command fails (e.g. the task's last state)."""
        self._json_pending = payload

    def fail(self, error: CliError) -> int:
        """Report a failure: the one stderr line, and with ``--json`` a JSON object with an ``error``
        member on stdout too, so a script reading stdout always gets JSON. Returns the exit code."""
        if self.json_mode:
            payload, self._json_pending = {**self._json_pending, "error": error.as_json()}, {}
            self.emit_json(payload)
        self.error(error.line())
        code: int = error.code
        return code

    def fields(self, rows: Sequence[tuple[str, str]], *, title: str | None = None) -> None:
        """``key: value`` rows on stdout: a rich table on a terminal, plain lines otherwise."""
        console = rich_console(self.out)
        if console is None:
            for key, value in rows:
                self.print(f"{key}: {value}" if key else f"  {value}")
            return
        from rich.table import Table
        from rich.text import Text

        heading = None if title is None else Text(self.redact(title))
        table = Table(title=heading, show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in rows:
            table.add_row(Text(key), Text(self.redact(value)))
        console.print(table)

    # --- live views --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def task_watch(self) -> Iterator[TaskWatch]:
        """A view of task polls on stderr: bars on a terminal, a line per change otherwise."""
        console = None if self.quiet else rich_console(self.err)
        if self.quiet:
            yield _SilentWatch()
            return
        if console is None:
            yield _PlainTaskWatch(self.err)
            return
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            yield _RichTaskWatch(progress)

    @contextlib.asynccontextmanager
    async def batch_watch(
        self, counters: BatchProgress, *, plain_interval: float = PLAIN_REFRESH
    ) -> AsyncIterator[None]:
        """Redraw the batch counters on a timer while the body runs (a bar, or a line every few s)."""
        if self.quiet:
            yield
            return
        console = rich_console(self.err)
        bar = _RichBatchBar(console) if console is not None else None
        interval = RICH_REFRESH if bar is not None else plain_interval

        def draw() -> None:
            if bar is not None:
                bar.draw(counters)
            elif counters.total:
                self.note(f"batch: {batch_line(counters)}")

        async def redraw_forever() -> None:
            while True:
                await asyncio.sleep(interval)
                draw()

        ticker = asyncio.ensure_future(redraw_forever())
        if bar is not None:
            bar.progress.start()
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            draw()
            if bar is not None:
                bar.progress.stop()
