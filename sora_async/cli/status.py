"""``sora-async status TASK_ID...``: query tasks once (free on the relays) and show what they are."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import click

from .._client import SoraClient
from .._errors import SoraError
from .._models import VideoTask
from .client import make_client
from .command import SoraCommand, run
from .console import UI
from .options import output_options, pacing_options, relay_options
from .tasks import Outcome, report_tasks, task_rows

SUMMARY = "show tasks' status, progress, failure reason and video URLs"


@click.command(
    "status",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Query each task once (free on the relays) and show its status, progress, failure reason, "
    "times and video URLs: a table on a terminal, 'key: value' lines in a pipe, one JSON object per "
    "task (one per line) with --json. Exits 0 whatever the tasks' statuses, once each was found; use "
    "'wait' to act on the outcome.",
    examples="  sora-async status task_01jhjnz502ejqsm6r37km2q637\n"
    "  sora-async status task_01jhjnz502ejqsm6r37km2q637 task_01jhjp0a1bc2de3fg4hj5km6n --json \\\n"
    "      | jq -r .status",
)
@click.argument("task_ids", nargs=-1, required=True, metavar="TASK_ID...")
@relay_options
@pacing_options
@output_options
def command(**params: Any) -> int:
    return run(show_status, params)


def show_status(args: SimpleNamespace, ui: UI) -> int:
    client = make_client(args)
    return asyncio.run(_status(client, list(args.task_ids), ui))


async def _query(client: SoraClient, task_id: str) -> Outcome:
    try:
        return task_id, await client.get_task(task_id), None
    except SoraError as exc:
        return task_id, None, exc


async def _status(client: SoraClient, task_ids: list[str], ui: UI) -> int:
    async with client:
        outcomes = await asyncio.gather(*(_query(client, task_id) for task_id in task_ids))
    several = len(task_ids) > 1

    def show(ui: UI, task: VideoTask) -> None:
        if several and task.task_id != task_ids[0]:
            ui.print()
        ui.fields(task_rows(task), title=f"task {task.task_id}")

    return report_tasks(ui, outcomes, extra={}, show=show)
