"""Join the results of a sharded batch into one file, in input order, and say what is missing.

Each shard of ``sora-async batch --shard I/N`` writes its own results file. ``merge`` reads them all,
keeps one result per input line (a line that two files both claim is reported, and the one with a
task id wins), writes them sorted by line number, and lists the gaps: input lines that no shard has
answered yet (with ``input_path``), or missing line numbers otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import attrs

from .options import BatchInputError
from .preflight import same_file

__all__ = ["MergeSummary", "merge_results"]


@attrs.frozen(kw_only=True)
class MergeSummary:
    """What a merge found. ``complete`` means every input line has a result with a task id.

    Args:
        lines: Input lines with a result in the merged file.
        with_task_id: Results that carry a task id.
        duplicates: Line numbers that more than one results file claimed (one kept, a task id first).
        gaps: Line numbers with no result in any file: lines still to run.
        out_path: The merged file written.
    """

    lines: int
    with_task_id: int
    duplicates: tuple[int, ...]
    gaps: tuple[int, ...]
    out_path: Path

    @property
    def complete(self) -> bool:
        return not self.gaps and self.with_task_id == self.lines


def merge_results(
    result_paths: Iterable[Path], out_path: Path, *, input_path: Path | None = None
) -> MergeSummary:
    """Merge shard results into ``out_path`` (atomically), one result per line, in input order.

    Args:
        result_paths: The results files of the shards (``sora-async batch --shard I/N --out ...``).
        out_path: Where the merged results go; written to a temporary file and renamed, so a crash
            leaves the old file whole.
        input_path: The batch's input, so that lines no shard answered count as gaps even at the end;
            without it, gaps are the line numbers missing below the highest one seen.

    Raises:
        BatchInputError: A results file that is missing or not a ``sora-async batch`` results file,
            or an ``out_path`` that is one of the files read.
    """
    result_paths = [Path(path) for path in result_paths]
    for path in [*result_paths, *([input_path] if input_path else [])]:
        if same_file(Path(out_path), path):
            raise BatchInputError(
                f"--out {str(out_path)!r} is one of the files read: it would be overwritten"
            )
    by_line: dict[int, tuple[bool, str]] = {}
    duplicates: set[int] = set()
    for path in result_paths:
        for line, has_task, text in _read(Path(path)):
            if line in by_line:
                duplicates.add(line)
                if by_line[line][0] or not has_task:
                    continue
            by_line[line] = (has_task, text)
    _write(out_path, (by_line[line][1] for line in sorted(by_line)))
    expected = _input_lines(input_path) if input_path else range(1, max(by_line, default=0) + 1)
    gaps = tuple(line for line in expected if line not in by_line)
    return MergeSummary(
        lines=len(by_line),
        with_task_id=sum(1 for has_task, _ in by_line.values() if has_task),
        duplicates=tuple(sorted(duplicates)),
        gaps=gaps,
        out_path=out_path,
    )


def _read(path: Path) -> Iterable[tuple[int, bool, str]]:
    if not path.is_file():
        raise BatchInputError(f"results file {str(path)!r} does not exist")
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            try:
                record = json.loads(text)
                line = int(record["line"])
            except (ValueError, KeyError, TypeError):
                raise BatchInputError(f"{path}:{number} is not a result line of sora-async batch") from None
            yield line, bool(record.get("task_id")), text.rstrip("\n")


def _input_lines(path: Path) -> list[int]:
    """The numbers of the non-blank lines of the input, which are the lines a batch answers."""
    if not path.is_file():
        raise BatchInputError(f"input file {str(path)!r} does not exist")
    with path.open("rb") as handle:
        return [number for number, raw in enumerate(handle, start=1) if raw.strip()]


def _write(out_path: Path, lines: Iterable[str]) -> None:
    tmp = out_path.with_name(out_path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for text in lines:
            out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, out_path)
