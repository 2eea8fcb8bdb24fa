"""``sora-async loadtest``: drive a relay (or the embedded mock relay) and report latency and throughput.

The engine is ``sora_async.loadtest``; this module turns flags into ``LoadTestOptions``, shows a live
line, and prints the table, a JSON file and a plot. The plot's optional dependency is checked before
any load is sent. Ctrl-C stops the run and still reports what was measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .._models import VideoRequest
from .client import make_client, require_extra
from .command import SoraCommand, run
from .console import UI
from .errors import EXIT_FAILED, EXIT_OK
from .options import NON_NEGATIVE, POSITIVE, POSITIVE_INT, create_options, pacing_options, relay_options

__all__ = ["command"]

MOCK_KEY = "sk-loadtest-mock"
SUMMARY = "measure a relay (or the client): latency percentiles, throughput, errors"


@click.command(
    "loadtest",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Send create requests at a fixed arrival rate (open loop: latency counts from each request's "
    "intended send time, so a stall shows up) or from N back-to-back workers (closed loop), for a "
    "duration or a request count, and report throughput, latency percentiles, the outcome mix and "
    "retries. Without --base-url (or $SORA_BASE_URL) it runs against the embedded mock relay, which "
    "measures the client itself. Every request is a paid generation on a real relay.",
    examples="  sora-async loadtest --arrival-rate 50 --duration 20                 # the mock relay\n"
    "  sora-async loadtest --mode closed --workers 64 --requests 5000 --plot load.png\n"
    "  sora-async loadtest --base-url https://relay.example --arrival-rate 2 --duration 30 \\\n"
    "      --json-file load.json",
)
@click.option("--mode", type=click.Choice(["open", "closed"]), default="open", help="(default: open)")
@click.option(
    "--arrival-rate",
    type=POSITIVE,
    default=20.0,
    metavar="PER_S",
    help="open loop: requests started per second (default: 20)",
)
@click.option(
    "--workers",
    type=POSITIVE_INT,
    default=32,
    metavar="N",
    help="closed loop: workers sending back to back (default: 32)",
)
@click.option("--duration", type=POSITIVE, metavar="S", help="seconds of measured load")
@click.option("--requests", type=POSITIVE_INT, metavar="N", help="measured requests to send")
@click.option(
    "--warmup",
    type=NON_NEGATIVE,
    default=0.0,
    metavar="S",
    help="seconds of load sent first and left out of the report (default: 0)",
)
@click.option("--prompt", default="a fox in snow", help="the prompt of every request")
@click.option("--json-file", metavar="FILE", help="write the report as JSON")
@click.option(
    "--plot",
    metavar="FILE.png",
    help="draw latency over time and throughput (needs the 'plot' extra: matplotlib)",
)
@relay_options
@pacing_options
@create_options
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="log each HTTP attempt to stderr; show the traceback of an unexpected error",
)
@click.option("-q", "--quiet", is_flag=True, help="no live line, only the report")
def command(**params: Any) -> int:
    return run(loadtest, params)


def loadtest(args: SimpleNamespace, ui: UI) -> int:
    from ..loadtest import LoadTest, LoadTestOptions

    if args.plot:
        require_extra("matplotlib", flag="--plot", extra="plot")
    options = LoadTestOptions(
        mode=args.mode,
        rate=args.arrival_rate if args.mode == "open" else None,
        concurrency=args.workers,
        duration=args.duration if args.duration or args.requests else 10.0,
        requests=args.requests,
        warmup=args.warmup,
        request=VideoRequest(prompt=args.prompt),
    )
    holder: dict[str, Any] = {}
    try:
        asyncio.run(_drive(args, ui, options, LoadTest, holder))
    except KeyboardInterrupt:
        ui.note("interrupted: reporting what was measured so far")
    test = holder.get("test")
    if test is None:
        return EXIT_FAILED
    report = test.report()
    ui.print(report.render_table())
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        ui.note(f"report written to {args.json_file}")
    if args.plot:
        from ..loadtest import plot

        ui.note(f"plot written to {plot(report, Path(args.plot))}")
    return EXIT_OK if report.complete and report.errors == 0 else EXIT_FAILED


async def _drive(args: SimpleNamespace, ui: UI, options: Any, load_test: Any, holder: dict[str, Any]) -> None:
    async with _target(args, ui) as base_url:
        if base_url is not None:
            args.base_url, args.api_key = base_url, MOCK_KEY
        # No --rate means no client-side limit here: an adaptive ramp would be measured as latency.
        async with make_client(args, adaptive=False if args.rate is None else None) as client:
            test = load_test(client, options, on_tick=None if args.quiet else lambda s: _tick(ui, s))
            holder["test"] = test
            await test.run()


@contextlib.asynccontextmanager
async def _target(args: SimpleNamespace, ui: UI) -> AsyncIterator[str | None]:
    """The relay to drive: the one given, or an embedded mock relay started for the run."""
    if args.base_url or os.environ.get("SORA_BASE_URL"):
        yield None
        return
    from ..mock import MockRelay

    async with MockRelay(queue_time=0.0, run_time=0.0) as relay:
        ui.note(f"no --base-url: driving the embedded mock relay at {relay.url}")
        yield relay.url


def _tick(ui: UI, snapshot: Any) -> None:
    phase = " (warm-up)" if snapshot.warming_up else ""
    ui.note(
        f"loadtest{phase}: {snapshot.elapsed:5.1f}s sent {snapshot.sent} done {snapshot.done} "
        f"ok {snapshot.ok} errors {snapshot.errors} in flight {snapshot.in_flight} {snapshot.rate:.0f}/s"
    )
