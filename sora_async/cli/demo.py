"""``sora-async demo``: the SDK at work in about fifteen seconds, with no key and no network.

It starts the embedded mock relay in this process, rate-limited and with a few injected faults, writes
a JSONL file of example prompts (three invalid on purpose, a few that fail at generation time), and
submits them through the very code path of ``sora-async batch``. Then it waits for three tasks and
reads the relay's own counters to say what the client absorbed: 429s, retried faults, and no task
created twice. A demo that shows the promises kept is also a smoke test of them, so it exits 1 when
something did not go as expected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .._client import SoraClient
from .._errors import TaskFailedError
from .._models import TaskStatus, VideoTask
from .._retry import RetryEvent, RetryPolicy
from ..batch import BatchOptions, BatchSummary
from ..limits import RateLimit
from ..mock import MockConfig, MockRelay, RelayStats
from .batch import run_batch_live, summary_json, summary_rows
from .command import SoraCommand, run
from .console import UI
from .demo_input import MIN_COUNT, DemoPlan, demo_records, write_demo_input
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from .options import POSITIVE_INT, output_options
from .tasks import task_json

__all__ = [
    "MIN_COUNT",
    "DemoPlan",
    "command",
    "demo_records",
    "demo_relay_config",
    "run_demo",
    "write_demo_input",
]

SUMMARY = "see it work in ~15 s against a local mock relay; no key needed"

DEMO_KEY = "sk-demo"
DEMO_RATE = RateLimit(20, burst=5)
INPUT_NAME = "demo-prompts.jsonl"
RESULTS_NAME = "demo-results.jsonl"
WAIT_TIMEOUT = 30.0
EXPLAIN_WIDTH = 100


@click.command(
    "demo",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Start a mock relay in this process (the seed's /sora/v1/videos relay family, rate-limited, "
    "with injected 503s, 500s and dropped connections, and, unlike any real relay, honouring "
    "Idempotency-Key), write example prompts to a JSONL file (a few invalid on purpose), submit them "
    "exactly as 'sora-async batch' would, wait for three tasks, and explain what the client absorbed: "
    "rate limits, retries, and no task created twice.",
    examples="  sora-async demo\n  sora-async demo --count 50 --keep ./demo-files",
)
@click.option(
    "--count", type=POSITIVE_INT, default=200, metavar="N", help="how many prompts (default: 200, min 10)"
)
@click.option("--keep", metavar="DIR", help="write the prompt and result files here and keep them")
@output_options
def command(**params: Any) -> int:
    return run(_demo, params)


def _demo(args: Any, ui: UI) -> int:
    if args.count < MIN_COUNT:
        raise CliError(
            f"--count must be at least {MIN_COUNT} (got {args.count})", "pass a larger --count", EXIT_USAGE
        )
    return asyncio.run(run_demo(ui, count=args.count, keep=Path(args.keep) if args.keep else None))


def demo_relay_config() -> MockConfig:
    """A relay that is realistic and a little hostile: a rate limit, a few faults, tasks that take time."""
    return MockConfig(
        api_key=DEMO_KEY,
        rate=DEMO_RATE.per_second,
        burst=DEMO_RATE.burst,
        fail_503=0.05,
        drop_before=0.01,
        fail_500_after=0.01,
        drop_after=0.01,
        latency=0.02,
        queue_time=0.5,
        run_time=2.0,
        seed=1,
        honour_idempotency=True,
        retry_after="seconds",
    )


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    """A temporary directory, or ``keep`` cleared of an earlier demo's files (a new relay would not
    know their tasks, so resuming them would only confuse)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="sora-async-demo-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=True)
    for name in (INPUT_NAME, RESULTS_NAME, RESULTS_NAME + ".journal"):
        (keep / name).unlink(missing_ok=True)
    yield keep


class _RetryCounter:
    """Counts the client's retries (its ``on_retry`` hook) for the explanation."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: RetryEvent) -> None:
        self.count += 1


async def run_demo(ui: UI, *, count: int, keep: Path | None) -> int:
    """The whole demo; returns the exit code (0 when every promise was seen kept)."""
    with _workdir(keep) as workdir:
        plan = write_demo_input(workdir / INPUT_NAME, count)
        async with MockRelay(demo_relay_config()) as relay:
            retries = _RetryCounter()
            client = SoraClient(
                DEMO_KEY,
                base_url=relay.url,
                rate_limit=DEMO_RATE,
                retry=RetryPolicy(retry_ambiguous=True),
                on_retry=retries,
            )
            _introduce(ui, relay, plan)
            async with client:
                options = BatchOptions(input_path=plan.input_path, out_path=workdir / RESULTS_NAME)
                summary = await run_batch_live(client, options, ui)
                waited = await _watch_tasks(client, plan, summary, ui)
            return _conclude(ui, plan, summary, waited, relay.stats, retries.count, kept=keep is not None)


def _introduce(ui: UI, relay: MockRelay, plan: DemoPlan) -> None:
    config = relay.config
    ui.note(
        f"mock relay at {relay.url}, of the seed's /sora/v1/videos family: {config.rate:g} req/s per key "
        f"(burst {config.burst}), "
        f"{config.fail_503:.0%} 503s, ~{config.drop_before + config.fail_500_after + config.drop_after:.0%} "
        "dropped connections and 500s"
    )
    ui.note(
        f"wrote {plan.count} requests to {plan.input_path} ({len(plan.invalid_lines)} invalid on purpose, "
        f"{len(plan.fail_lines)} that fail at generation)"
    )
    ui.note(
        "this relay honours Idempotency-Key, so retrying an ambiguous create is safe here; no real relay "
        "does (docs: concepts/idempotency), so leave --retry-ambiguous off against yours"
    )
    ui.note(
        f"submitting them like 'sora-async batch --rate {DEMO_RATE.per_second:g} --burst {DEMO_RATE.burst} "
        "--retry-ambiguous' would:"
    )


async def _watch_tasks(client: SoraClient, plan: DemoPlan, summary: BatchSummary, ui: UI) -> list[VideoTask]:
    """Wait for the planned tasks together, with a live view, and return their final states."""
    task_ids = _task_ids(summary.results_path)
    picks = [task_ids[line] for line in plan.watch_lines if line in task_ids]
    ui.note(f"waiting for {len(picks)} of the tasks, like 'sora-async wait' does:")
    with ui.task_watch() as watch:
        return list(await asyncio.gather(*(_final_state(client, task_id, watch.update) for task_id in picks)))


def _task_ids(results_path: Path) -> dict[int, str]:
    """Input line -> task id, from the results file."""
    ids = {}
    with results_path.open(encoding="utf-8") as handle:
        for raw in handle:
            result = json.loads(raw)
            if result.get("task_id"):
                ids[int(result["line"])] = str(result["task_id"])
    return ids


async def _final_state(client: SoraClient, task_id: str, on_progress: Any) -> VideoTask:
    try:
        return await client.wait_for_task(
            task_id, timeout=WAIT_TIMEOUT, poll_interval=0.25, max_poll_interval=0.5, on_progress=on_progress
        )
    except TaskFailedError as exc:
        return exc.task


def _conclude(
    ui: UI,
    plan: DemoPlan,
    summary: BatchSummary,
    waited: list[VideoTask],
    stats: RelayStats,
    retries: int,
    *,
    kept: bool,
) -> int:
    """Show the outcome and what it means; say so, and exit 1, if a promise was not kept."""
    problems = _surprises(plan, summary, waited, stats)
    if ui.json_mode:
        ui.emit_json(
            {
                "as_expected": not problems,
                "problems": problems,
                "summary": summary_json(summary),
                "waited": [task_json(task) for task in waited],
                "relay": _stats_json(stats),
                "client_retries": retries,
                "files_kept": kept,
            }
        )
    else:
        ui.fields(summary_rows(summary), title="batch summary")
        ui.print()
        _show_waited(ui, waited)
        ui.print()
        for line in _explanation(plan, summary, stats, retries, kept=kept):
            ui.print(line)
    if problems:
        failure = CliError(f"the demo did not go as expected: {'; '.join(problems)}", "please report it")
        ui.error(failure.line())
        return EXIT_FAILED
    return EXIT_OK


def _surprises(
    plan: DemoPlan, summary: BatchSummary, waited: list[VideoTask], stats: RelayStats
) -> list[str]:
    """Everything that differs from what the demo promises; empty when all went as planned."""
    problems = []
    expected_ok = plan.count - len(plan.invalid_lines)
    if summary.invalid != len(plan.invalid_lines):
        problems.append(f"{summary.invalid} invalid lines reported, {len(plan.invalid_lines)} planted")
    if summary.ok != expected_ok:
        problems.append(f"{summary.ok} of {expected_ok} valid lines got a task id")
    if stats.duplicates:
        problems.append(f"{len(stats.duplicates)} task(s) created twice")
    outcomes = [task.status for task in waited]
    if outcomes != [TaskStatus.SUCCESS, TaskStatus.SUCCESS, TaskStatus.FAILURE]:
        problems.append(f"the waited tasks ended {', '.join(s.value for s in outcomes) or 'nowhere'}")
    return problems


def _show_waited(ui: UI, waited: list[VideoTask]) -> None:
    ui.print("waited for:")
    for task in waited:
        detail = ", ".join(task.video_urls) if task.status is TaskStatus.SUCCESS else task.fail_reason
        ui.print(f"  {task.task_id}  {task.status.value}  {detail}")


def _stats_json(stats: RelayStats) -> dict[str, Any]:
    return {
        "requests": stats.requests,
        "create_requests": stats.create_requests,
        "query_requests": stats.query_requests,
        "rate_limited": stats.rate_limited,
        "accepted": stats.accepted,
        "replayed": stats.replayed,
        "faults": dict(stats.faults),
        "tasks_created_twice": len(stats.duplicates),
    }


def _explanation(
    plan: DemoPlan, summary: BatchSummary, stats: RelayStats, retries: int, *, kept: bool
) -> list[str]:
    """What just happened, in the relay's own numbers, and what to try next."""
    faults = stats.faults
    before = faults["fail_503"] + faults["drop_before"]
    after = faults["fail_500_after"] + faults["drop_after"]
    files = "kept in " + str(plan.input_path.parent) if kept else "deleted now; pass --keep DIR to keep them"
    facts = [
        f"the relay saw {stats.create_requests} create requests for {stats.accepted} tasks: the client kept "
        f"to the key's {DEMO_RATE.per_second:g} req/s, so {_throttled(stats.rate_limited)}, and "
        f"{before + after} had faults injected",
        f"the client retried {retries} times: {before} faults struck before a task existed (safe to retry) "
        f"and {after} after one did, where the same idempotency key got the original task back; tasks "
        f"created twice: {len(stats.duplicates)}",
        f"{summary.invalid} invalid lines were refused before sending, at no cost, and reported by line "
        f"number; {len(plan.fail_lines)} prompts with [fail] were accepted and end in FAILURE at generation",
        f"input and results files: {files}",
    ]
    return [
        "what happened:",
        *(
            textwrap.fill(fact, EXPLAIN_WIDTH, initial_indent="  - ", subsequent_indent="    ")
            for fact in facts
        ),
        "try next:",
        "  sora-async batch your.jsonl --out results.jsonl --base-url https://your.relay --rate 10 --burst 5",
        "  sora-async mock-server --port 8000 --rate 5 --fail-503 0.1    # a relay to experiment against",
    ]


def _throttled(count: int) -> str:
    """How many 429s the relay sent, said plainly (none is the usual answer)."""
    if count == 0:
        return "none got a 429"
    return f"only {count} got a 429 (each paused the whole client for its Retry-After)"
