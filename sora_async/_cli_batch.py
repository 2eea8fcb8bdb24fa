"""The ``batch`` command: run a durable batch under a live view, then summarise it."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from ._cli_base import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from ._cli_commands import make_client
from ._client import SoraClient
from ._console import UI, format_seconds

if TYPE_CHECKING:
    from .batch import BatchOptions, BatchSummary


# --- batch -----------------------------------------------------------------------------------------------


def _cmd_batch(args: argparse.Namespace, ui: UI) -> int:
    from .batch import BatchOptions

    options = BatchOptions(
        input_path=args.input,
        out_path=args.out,
        journal_path=args.journal,
        wait=args.wait,
        wait_timeout=args.wait_timeout,
        retry_failed=args.retry_failed,
        shard=args.shard,
    )
    client = make_client(args, fleet=args.redis_url, fleet_size=args.shard[1] if args.shard else 1)
    try:
        summary = asyncio.run(_batch(client, options, ui))
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise CliError(
            "interrupted",
            f"journal intact at {options.journal}; re-run the same command to resume",
            EXIT_INTERRUPTED,
        ) from None
    show_summary(ui, summary, retry_ambiguous=args.retry_ambiguous)
    return EXIT_OK if summary.all_ok else EXIT_FAILED


async def _batch(client: SoraClient, options: BatchOptions, ui: UI) -> BatchSummary:
    try:
        async with client:
            return await run_batch_live(client, options, ui)
    finally:
        close = getattr(client.limiter, "aclose", None)  # a Redis limiter made from --redis-url
        if close is not None:
            await close()


async def run_batch_live(client: SoraClient, options: BatchOptions, ui: UI) -> BatchSummary:
    """``run_batch`` under a live progress view: the one batch code path, shared with the demo."""
    from .batch import BatchInputError, BatchProgress
    from .batch.run import run_batch

    progress = BatchProgress()
    async with ui.batch_watch(progress):
        try:
            return await run_batch(client, options, progress=progress)
        except BatchInputError as exc:
            raise CliError(str(exc), "fix the input file and run again", EXIT_USAGE) from exc


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
    rows.extend(("", f"line {line}: {reason}") for line, reason in summary.failed_examples)
    rows.append(("invalid", str(summary.invalid)))
    rows.extend(("", f"line {line}: {reason}") for line, reason in summary.invalid_examples)
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
