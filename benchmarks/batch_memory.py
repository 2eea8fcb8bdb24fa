"""Peak memory of ``sora-async batch`` as the input grows: it should stay flat.

Each size runs the real command in its own process against a mock relay in another process (which
keeps no task records), and the batch process's peak RSS is read from ``getrusage`` by a small wrapper
whose only child it is. The journal, the results file and the one-byte-per-line state grow on disk
and by a few bytes per line; everything else is bounded by the concurrency.

    python -m benchmarks.batch_memory [--sizes 10000 100000] [--full]   # --full adds 1,000,000 lines
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import print_table, write_result

_WRAPPER = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_input(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for i in range(lines):
            out.write(json.dumps({"custom_id": f"clip-{i}", "prompt": f"a fox in snow, take {i}"}) + "\n")


def _run_batch(url: str, source: Path, out: Path) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB, and the exit code of one batch run."""
    command = [
        sys.executable,
        "-m",
        "sora_async",
        "batch",
        str(source),
        "--out",
        str(out),
        "-q",
        "--base-url",
        url,
        "--api-key",
        "sk-bench",
        "--concurrency",
        "64",
    ]
    started = time.perf_counter()
    wrapper = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - started
    peak_kb, code = wrapper.stdout.splitlines()[-1].split()  # the wrapper speaks last
    return elapsed, int(peak_kb) / 1024, int(code)


def measure(sizes: list[int]) -> list[dict[str, Any]]:
    port = _free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", "sora_async", "mock-server", "--port", str(port), "--no-record-tasks"],
        stdout=subprocess.DEVNULL,
    )
    rows = []
    try:
        time.sleep(1.5)  # the relay binds
        url = f"http://127.0.0.1:{port}"
        for lines in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                source, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
                _write_input(source, lines)
                elapsed, peak_mb, code = _run_batch(url, source, out)
                results = sum(1 for _ in out.open())
            rows.append(
                {
                    "lines": lines,
                    "seconds": round(elapsed, 1),
                    "lines_per_s": round(lines / elapsed),
                    "peak_rss_mb": round(peak_mb, 1),
                    "results": results,
                    "exit": code,
                }
            )
    finally:
        relay.terminate()
        relay.wait()
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="also run 1,000,000 lines (several minutes)")
    args = parser.parse_args(argv)
    sizes = [*args.sizes, 1_000_000] if args.full else args.sizes
    rows = measure(sizes)
    print("sora-async batch: peak RSS of the batch process by input size (mock relay in another process)")
    print_table(rows, ["lines", "seconds", "lines_per_s", "peak_rss_mb", "results", "exit"])
    write_result("batch_memory", {"rows": rows})
    return rows


if __name__ == "__main__":
    main()
