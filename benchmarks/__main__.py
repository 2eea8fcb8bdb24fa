"""Run the whole suite, then write docs/benchmarks.md: ``python -m benchmarks [--quick] [--only NAME ...]``.

The sections run one after another (never two at once: on a small machine they would measure each
other). The full suite takes about 15 minutes on 2 cores; ``--quick`` about 4.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks import hostile, limiter, loadtest, report, resilience, scale, throughput

SECTIONS: dict[str, Callable[[list[str] | None], Any]] = {
    "throughput": throughput.main,
    "resilience": resilience.main,
    "scale": scale.main,
    "limiter": limiter.main,
    "loadtest": loadtest.main,
    "hostile": hostile.main,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs of every section")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run these sections only")
    parser.add_argument("--no-report", action="store_true", help="do not regenerate docs/benchmarks.md")
    args = parser.parse_args(argv)
    for name in args.only or SECTIONS:
        started = time.perf_counter()
        print(f"\n===== {name} =====", flush=True)
        SECTIONS[name](["--quick"] if args.quick else [])
        print(f"===== {name}: {time.perf_counter() - started:.0f} s =====", flush=True)
    if not args.no_report:
        report.main([])


if __name__ == "__main__":
    main()
