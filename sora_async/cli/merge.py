"""``sora-async merge``: one results file from the shards of a fleet batch."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from ..batch import merge_results
from .command import SoraCommand, run
from .console import UI
from .errors import EXIT_FAILED, EXIT_OK

SUMMARY = "join the results of a sharded batch into one file, listing gaps"


@click.command(
    "merge",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Join the results files of a sharded batch (sora-async batch --shard I/N) into one file in "
    "input order. Lines answered by two shards are reported (a task id wins); with --input, input "
    "lines that no shard has answered yet are listed as gaps. Exits 0 only when every line has a task "
    "id and nothing is missing.",
    examples="  sora-async merge results-0.jsonl results-1.jsonl results-2.jsonl --out results.jsonl \\\n"
    "      --input prompts.jsonl",
)
@click.argument("results", nargs=-1, required=True, metavar="RESULTS.jsonl...")
@click.option("--out", required=True, metavar="MERGED.jsonl", help="where to write")
@click.option("--input", "input_path", metavar="INPUT.jsonl", help="the batch input, to find gaps")
@click.option("-v", "--verbose", is_flag=True, help="show the traceback of an unexpected error")
@click.option("-q", "--quiet", is_flag=True, help="no notes: only the summary and errors")
@click.option("--json", "json_mode", is_flag=True, help="print JSON on stdout instead of text (errors too)")
def command(**params: Any) -> int:
    return run(merge, params)


def merge(args: SimpleNamespace, ui: UI) -> int:
    out = Path(args.out)
    input_path = Path(args.input_path) if args.input_path else None
    summary = merge_results([Path(p) for p in args.results], out, input_path=input_path)
    if ui.json_mode:
        ui.emit_json(
            {
                "complete": summary.complete,
                "lines": summary.lines,
                "with_task_id": summary.with_task_id,
                "duplicates": list(summary.duplicates),
                "gaps": list(summary.gaps),
                "out_path": str(out),
            }
        )
    else:
        rows = [
            ("lines", str(summary.lines)),
            ("with task id", str(summary.with_task_id)),
            ("duplicates", _few(summary.duplicates)),
            ("gaps", _few(summary.gaps)),
            ("merged", str(out)),
        ]
        ui.fields(rows, title="merge")
        if summary.gaps:
            ui.note("some lines have no result yet: re-run the shard(s) that own them, then merge again")
    return EXIT_OK if summary.complete else EXIT_FAILED


def _few(lines: tuple[int, ...]) -> str:
    if not lines:
        return "none"
    shown = ", ".join(str(line) for line in lines[:10])
    return f"{len(lines)} (lines {shown}{', ...' if len(lines) > 10 else ''})"
