"""What every benchmark shares: the request, the machine description, result files, tables, targets.

Results are JSON files under ``benchmarks/results/`` (one per benchmark), each carrying the machine it
ran on, so that ``python -m benchmarks.report`` can turn them into ``docs/benchmarks.md`` later.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sora_async as sa

RESULTS = Path(__file__).parent / "results"
API_KEY = "sk-bench"
CREATE_PATH = "/sora/v1/videos"
REQUEST = sa.VideoRequest(prompt="a fox in snow", size="1280x720", duration=10)
BODY: dict[str, Any] = {"prompt": "a fox in snow", "width": 1280, "height": 720, "n_frames": 300}
"""The same create body as ``REQUEST``, for the clients that take a plain dict."""
HEADERS = {"Authorization": f"Bearer {API_KEY}"}

PEERS = ("aiohttp", "openai", "aiohttp-retry", "aiolimiter", "tenacity", "matplotlib")


def no_client_limit() -> dict[str, Any]:
    """SoraClient keyword arguments for "no client-side rate limit at all".

    Newer builds discover the rate adaptively when ``rate_limit`` is None; a throughput or scale run
    against an unlimited relay wants the plain path, so switch adaptation off where the switch exists.
    """
    if "adaptive" in inspect.signature(sa.SoraClient).parameters:
        return {"adaptive": False}
    return {}


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """Where the numbers came from: CPU, memory, load, and the versions that matter."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpuinfo("model name") or platform.processor() or "unknown",
        "memory_gb": _mem_total_gb(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sora_async": sa.__version__,
        "peers": {name: version_of(name) for name in PEERS},
    }


def _cpuinfo(field: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    return None


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the machine and the time of the run added."""
    RESULTS.mkdir(exist_ok=True)
    data = {
        "benchmark": name,
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A plain aligned table: numbers right-aligned, text left-aligned."""
    cells = [[_cell(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    numeric = [all(_is_number(row.get(col)) for row in rows) for col in columns]
    print(
        "  ".join(
            col.rjust(w) if num else col.ljust(w)
            for col, w, num in zip(columns, widths, numeric, strict=True)
        )
    )
    for r in cells:
        print(
            "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True))
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def target(description: str, value: float | None, goal: str, met: bool | None) -> dict[str, Any]:
    """One line of the targets table: what is promised, what was measured, and whether it held."""
    return {"target": description, "measured": value, "goal": goal, "met": met}


def print_targets(targets: Sequence[dict[str, Any]]) -> None:
    for t in targets:
        verdict = {True: "MET   ", False: "MISSED", None: "n/a   "}[t["met"]]
        measured = "-" if t["measured"] is None else f"{t['measured']:g}"
        print(f"  [{verdict}] {t['target']}: {measured} (goal {t['goal']})")
