"""The ``merge`` command: one results file from the shards of a fleet batch.

Kept apart from ``cli.py`` because it is about fleets, not single runs; ``cli.py`` registers it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._console import UI

__all__ = ["add_merge"]

EXIT_OK, EXIT_FAILED = 0, 1


def add_merge(commands: Any, parents: list[Any], subparser: Any) -> None:
    """Register ``sora-async merge`` (``subparser`` is cli's helper that adds help and examples)."""
    parser = subparser(
        commands,
        "merge",
        description="Join the results files of a sharded batch (sora-async batch --shard I/N) into one "
        "file in input order. Lines answered by two shards are reported (a task id wins); with --input, "
        "input lines that no shard has answered yet are listed as gaps. Exits 0 only when every line "
        "has a task id and nothing is missing.",
        examples="  sora-async merge results-0.jsonl results-1.jsonl results-2.jsonl --out results.jsonl \\\n"
        "      --input prompts.jsonl",
        parents=parents,
    )
    parser.add_argument("results", type=Path, nargs="+", metavar="RESULTS.jsonl", help="the shards' results")
    parser.add_argument("--out", type=Path, required=True, metavar="MERGED.jsonl", help="where to write")
    parser.add_argument("--input", type=Path, metavar="INPUT.jsonl", help="the batch input, to find gaps")
    parser.set_defaults(handler=run_merge)


def run_merge(args: argparse.Namespace, ui: UI) -> int:
    from .batch import merge_results

    summary = merge_results(args.results, args.out, input_path=args.input)
    if ui.json_mode:
        ui.emit_json(
            {
                "complete": summary.complete,
                "lines": summary.lines,
                "with_task_id": summary.with_task_id,
                "duplicates": list(summary.duplicates),
                "gaps": list(summary.gaps),
                "out_path": str(args.out),
            }
        )
    else:
        rows = [
            ("lines", str(summary.lines)),
            ("with task id", str(summary.with_task_id)),
            ("duplicates", _few(summary.duplicates)),
            ("gaps", _few(summary.gaps)),
            ("merged", str(args.out)),
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
