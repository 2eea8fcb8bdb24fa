"""``sora-async wait TASK_ID...``: poll tasks until they finish, with progress; print their URLs."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import click

from .client import make_client
from .command import SoraCommand, run
from .console import UI
from .options import output_options, pacing_options, relay_options, wait_options
from .tasks import wait_for_all

SUMMARY = "wait for tasks to finish, with progress; print their video URLs"


@click.command(
    "wait",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Poll each task until it finishes, showing its progress; several tasks are polled at once. "
    "On SUCCESS print the video URLs (one per line); on FAILURE print the relay's reason. Exits 0 when "
    "every task succeeded, 1 when one failed, 4 when --wait-timeout passed first (the task keeps "
    "running: wait again later).",
    examples="  sora-async wait task_01jhjnz502ejqsm6r37km2q637\n"
    "  sora-async wait task_01jhjnz502ejqsm6r37km2q637 --wait-timeout 1800 -q | xargs -n1 curl -O\n"
    "  sora-async wait $(cut -d' ' -f1 ids.txt) --json",
)
@click.argument("task_ids", nargs=-1, required=True, metavar="TASK_ID...")
@wait_options
@relay_options
@pacing_options
@output_options
def command(**params: Any) -> int:
    return run(wait, params)


def wait(args: SimpleNamespace, ui: UI) -> int:
    client = make_client(args)

    async def main() -> int:
        async with client:
            return await wait_for_all(client, list(args.task_ids), args, ui, extra={})

    return asyncio.run(main())
