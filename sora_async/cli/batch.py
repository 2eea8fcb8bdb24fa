"""``sora-async batch``: run a durable batch under a live view, then summarise it.

Everything that can be checked before the first paid request is checked first (the engine's
preflight, plus here: stdin that is the results file, the Redis extra). SIGINT and SIGTERM stop the
run the same way: the requests in flight are cancelled, the results file is written from the
journal, and the exit code says which signal it was (130, 143); the same command then resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .._client import SoraClient
from ..batch import BatchOptions, BatchProgress, BatchSummary
from ..batch.preflight import same_file
from .client import make_client
from .command import SoraCommand, run
from .console import UI, format_seconds
from .errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    SIGNAL_WORDS,
    CliError,
    signal_exit_code,
    stopped_batch_error,
)
from .options import SECONDS, SHARD, create_options, output_options, pacing_options, relay_options

__all__ = ["batch_advice", "run_batch_live", "show_summary", "summary_json", "summary_rows"]

SUMMARY = "submit a JSONL file of requests, resumably, with a results file"


@click.command(
    "batch",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Submit every line of INPUT (a JSON object of request fields, plus an optional custom_id; "
    "'-' reads stdin) and write one result per line to --out, joined back by custom_id. Invalid lines "
    "are reported by line number and cost no request. A journal records every idempotency key before "
    "its request goes out, so after a crash, Ctrl-C or SIGTERM the same command resumes without "
    "creating anything twice; a second run on the same journal is refused while the first runs. "
    "A rejected key, or a base URL or dialect that answers with something other than the API, "
    "stops the run after its first request (exit 3); a relay that cannot be reached is retried like "
    "any failure. "
    "Exits 0 only when every line got a task id.",
    examples="  sora-async batch prompts.jsonl --out results.jsonl --rate 10 --burst 5\n"
    "  sora-async batch prompts.jsonl --out results.jsonl --wait --wait-timeout 3600\n"
    "  sora-async batch prompts.jsonl --out results.jsonl --wait --download videos/\n"
    "  generate-prompts | sora-async batch - --out results.jsonl\n"
    "  # a line of prompts.jsonl:\n"
    '  {"custom_id": "fox-1", "prompt": "a fox in snow", "size": "1280x720", "duration": 5}',
)
@click.argument("input_path", metavar="INPUT.jsonl")
@click.option("--out", required=True, metavar="RESULTS.jsonl", help="where the results go")
@click.option("--journal", metavar="PATH", help="the resume journal (default: RESULTS.jsonl.journal)")
@click.option("--wait", is_flag=True, help="also wait for every task and record its outcome and URLs")
@click.option(
    "--wait-timeout",
    type=SECONDS,
    default=600.0,
    metavar="S",
    help="per task, with --wait (default: 600)",
)
@click.option(
    "--download",
    "download_dir",
    metavar="DIR",
    help="with --wait, save every video into DIR as TASK_ID.mp4 and record its file; a re-run "
    "continues interrupted downloads and skips saved files",
)
@click.option("--retry-failed", is_flag=True, help="on a re-run, send the lines that failed again")
@click.option(
    "--resend-changed",
    is_flag=True,
    help="on a re-run, send lines edited since the first run again under new keys (paying again) "
    "instead of refusing to run",
)
@click.option(
    "--shard",
    type=SHARD,
    metavar="I/N",
    help="take every N-th line starting at line I+1, to split one input over N processes",
)
@click.option(
    "--redis-url",
    metavar="URL",
    help="share --rate with every process using the same key through this Redis (needs --rate); "
    "if Redis goes away, each process slows to rate/N (N from --shard) until it returns",
)
@relay_options
@pacing_options
@create_options
@output_options
def command(**params: Any) -> int:
    return run(batch, params)


class _Stopped(Exception):
    """The run was stopped by a signal; the journal is intact and the results are written."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def batch(args: SimpleNamespace, ui: UI) -> int:
    if args.download_dir and not args.wait:
        raise CliError(
            "--download needs --wait", "add --wait (a video exists once its task ends)", EXIT_USAGE
        )
    with _input_file(args.input_path, Path(args.out)) as source:
        options = BatchOptions(
            input_path=source,
            out_path=Path(args.out),
            journal_path=Path(args.journal) if args.journal else None,
            wait=args.wait,
            wait_timeout=args.wait_timeout,
            retry_failed=args.retry_failed,
            resend_changed=args.resend_changed,
            shard=args.shard,
            download_dir=Path(args.download_dir) if args.download_dir else None,
        )
        client = make_client(args, fleet=args.redis_url, fleet_size=args.shard[1] if args.shard else 1)
        try:
            summary = asyncio.run(_batch(client, options, ui))
        except _Stopped as stop:
            raise _interrupted(options, stop.signum) from None
        except KeyboardInterrupt:
            raise _interrupted(options, signal.SIGINT) from None
    if summary.stopped_by is not None:
        if ui.json_mode:
            ui.json_on_failure(summary_json(summary))
        else:
            ui.fields(summary_rows(summary), title="batch summary")
        return ui.fail(stopped_batch_error(summary.stopped_by))
    show_summary(ui, summary, retry_ambiguous=args.retry_ambiguous)
    return EXIT_OK if summary.all_ok else EXIT_FAILED


def _interrupted(options: BatchOptions, signum: int) -> CliError:
    word = SIGNAL_WORDS.get(signal.Signals(signum), f"stopped by signal {signum}")
    return CliError(
        f"{word}: the results so far are in {options.out_path}",
        f"journal intact at {options.journal}; re-run the same command to resume",
        signal_exit_code(signum) if signum else EXIT_INTERRUPTED,
    )


@contextlib.contextmanager
def _input_file(name: str, out: Path) -> Iterator[Path]:
    """The input as a file: the path given, or stdin (``-``) copied to a file beside the results.

    A batch reads its input more than once (the pre-scan, then the run), so a pipe is copied first;
    what is resumable is the journal, and a re-run with the same lines piped in resumes it.
    """
    if name != "-":
        yield Path(name)
        return
    if sys.stdin is None or sys.stdin.isatty():
        raise CliError(
            "INPUT is '-' but stdin is a terminal",
            "pipe the lines in, e.g. sora-async batch - --out results.jsonl < prompts.jsonl",
            EXIT_USAGE,
        )
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if out.exists() and same_file(Path(f"/dev/fd/{sys.stdin.fileno()}"), out):
            raise CliError(
                f"stdin is the results file {str(out)!r}: it would be overwritten; nothing was sent",
                "write the results to another file",
                EXIT_USAGE,
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.stdin-")
    try:
        with os.fdopen(fd, "wb") as handle:
            shutil.copyfileobj(sys.stdin.buffer, handle)
        yield Path(name)
    finally:
        os.unlink(name)


@contextlib.contextmanager
def _signals_cancel(task: asyncio.Task[Any], received: list[int]) -> Iterator[None]:
    """SIGINT and SIGTERM cancel the run (a SIGINT the parent ignores, as for ``cmd &``, stays ignored)."""
    loop = asyncio.get_running_loop()
    wanted = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        wanted.append(signal.SIGINT)

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = []
    for signum in wanted:
        try:
            loop.add_signal_handler(signum, stop, signum)
            installed.append(signum)
        except (ValueError, RuntimeError):  # not the main thread: the default handling stays
            pass
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _batch(client: SoraClient, options: BatchOptions, ui: UI) -> BatchSummary:
    received: list[int] = []
    task = asyncio.current_task()
    assert task is not None
    try:
        with _signals_cancel(task, received):
            async with client:
                return await run_batch_live(client, options, ui)
    except asyncio.CancelledError:
        if received:
            raise _Stopped(received[0]) from None
        raise
    finally:
        close = getattr(client.limiter, "aclose", None)  # a Redis limiter made from --redis-url
        if close is not None:
            await close()


async def run_batch_live(client: SoraClient, options: BatchOptions, ui: UI) -> BatchSummary:
    """``run_batch`` under a live progress view: the one batch code path, shared with the demo."""
    from ..batch import run as engine

    progress = BatchProgress()
    async with ui.batch_watch(progress):
        return await engine.run_batch(client, options, progress=progress)


def summary_json(summary: BatchSummary) -> dict[str, Any]:
    """A batch summary as the JSON object of --json output."""
    return {
        "all_ok": summary.all_ok,
        "total": summary.total,
        "ok": summary.ok,
        "failed": summary.failed,
        "invalid": summary.invalid,
        "ambiguous": summary.ambiguous,
        "pending": summary.pending,
        "task_failures": summary.task_failures,
        "resumed": summary.resumed,
        "skipped": summary.skipped,
        "elapsed": round(summary.elapsed, 3),
        "results_path": str(summary.results_path),
        "journal_path": str(summary.journal_path),
        "invalid_examples": [{"line": line, "reason": reason} for line, reason in summary.invalid_examples],
        "failed_examples": [{"line": line, "reason": reason} for line, reason in summary.failed_examples],
    }


def summary_rows(summary: BatchSummary) -> list[tuple[str, str]]:
    """The summary table; example rows (key "") sit under the count they explain."""
    rows = [("ok", f"{summary.ok} of {summary.total}"), ("failed", str(summary.failed))]
    rows += _examples(summary.failed_examples, summary.failed, summary.results_path)
    rows.append(("invalid", str(summary.invalid)))
    rows += _examples(summary.invalid_examples, summary.invalid, summary.results_path)
    rows += [
        ("ambiguous", str(summary.ambiguous)),
        ("pending", str(summary.pending)),
        *(
            [("videos failed", f"{summary.task_failures} (see status in the results)")]
            if summary.task_failures
            else []
        ),
        ("resumed", str(summary.resumed)),
        ("skipped", f"{summary.skipped} (finished by an earlier run)"),
        ("elapsed", format_seconds(summary.elapsed)),
        ("results", str(summary.results_path)),
        ("journal", str(summary.journal_path)),
    ]
    return rows


def _examples(examples: tuple[tuple[int, str], ...], count: int, results: Path) -> list[tuple[str, str]]:
    """The example lines under a count, and how many more there are (the list is cut at ten)."""
    rows = [("", f"line {line}: {reason}") for line, reason in examples]
    if count > len(examples):
        more = count - len(examples)
        rows.append(("", f"... {'and ' if examples else ''}{more} more: see {results}"))
    return rows


def show_summary(ui: UI, summary: BatchSummary, *, retry_ambiguous: bool) -> None:
    """The summary on stdout (table or JSON), then advice for what is left, on stderr."""
    if ui.json_mode:
        ui.emit_json(summary_json(summary))
        return
    ui.fields(summary_rows(summary), title="batch summary")
    for advice in batch_advice(summary, retry_ambiguous=retry_ambiguous):
        ui.note(advice)


def batch_advice(summary: BatchSummary, *, retry_ambiguous: bool) -> list[str]:
    """What to do about the lines that did not get a task id."""
    advice = []
    if summary.invalid:
        advice.append(f"{summary.invalid} invalid line(s) cost nothing: fix them and re-run the same command")
    if summary.failed:
        advice.append(f"{summary.failed} line(s) failed: re-run with --retry-failed to send them again")
    if summary.ambiguous and not retry_ambiguous:
        advice.append(
            f"{summary.ambiguous} line(s) may or may not have created a task: if the relay honours "
            "Idempotency-Key, re-run with --retry-ambiguous (same keys, nothing paid twice)"
        )
    if summary.pending:
        advice.append(f"{summary.pending} line(s) unfinished: re-run the same command to resume")
    return advice
