"""``sora-async download TASK_ID... --dir DIR``: save finished tasks' videos, resumably.

Each video goes to ``DIR/<task_id>.mp4`` (``<task_id>-<i>.mp4`` for a task's further videos)
through ``SoraClient.download_video``: streamed to a ``.part`` file and renamed once whole, resumed
from the ``.part`` after an interruption, and sent with the key only when the URL is the relay's own.
A file already under its final name is whole, so a re-run skips it (``--force`` fetches it again).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .._client import SoraClient
from .._errors import SoraError
from ..batch.videos import save_videos
from .client import make_client
from .command import SoraCommand, run
from .console import UI
from .errors import EXIT_OK, EXIT_USAGE, CliError, explain
from .options import output_options, pacing_options, relay_options, wait_options
from .tasks import most_serious

__all__ = ["command"]

SUMMARY = "save finished tasks' videos to a directory, resuming interrupted downloads"


@click.command(
    "download",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Save each task's videos into --dir as TASK_ID.mp4 (TASK_ID-1.mp4, ... for further videos). "
    "A file is written under a .part name and renamed once complete; an interrupted download resumes "
    "from its .part file when run again, and a file already saved is skipped. The API key is sent "
    "only when a video URL is on the relay's own origin, never to a CDN. With --wait, a task still "
    "running is waited for first. Prints each saved file; exits 0 when every video was saved.",
    examples="  sora-async download task_01jhjnz502ejqsm6r37km2q637 --dir videos/\n"
    "  sora-async download $(cut -d' ' -f1 ids.txt) --dir videos/ --wait --json",
)
@click.argument("task_ids", nargs=-1, required=True, metavar="TASK_ID...")
@click.option("--dir", "directory", default=".", metavar="DIR", help="where to save (default: .)")
@click.option("--wait", is_flag=True, help="wait for tasks that are still running")
@click.option("--force", is_flag=True, help="download again files that are already saved")
@wait_options
@relay_options
@pacing_options
@output_options
def command(**params: Any) -> int:
    return run(download, params)


def download(args: SimpleNamespace, ui: UI) -> int:
    directory = Path(args.directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        message = f"--dir {str(directory)!r} cannot be made: {exc.strerror or exc}"
        raise CliError(message, "choose another directory", EXIT_USAGE) from exc
    client = make_client(args)

    async def main() -> list[tuple[str, list[dict[str, Any]], SoraError | None]]:
        async with client:
            jobs = (_one(client, task_id, directory, args) for task_id in args.task_ids)
            return list(await asyncio.gather(*jobs))

    codes = []
    for task_id, files, error in asyncio.run(main()):
        payload = {"task_id": task_id, "files": files}
        if error is None:
            _show(ui, task_id, files, payload)
            codes.append(EXIT_OK)
        else:
            ui.json_on_failure(payload)
            codes.append(ui.fail(explain(error)))
    return most_serious(codes)


def _show(ui: UI, task_id: str, files: list[dict[str, Any]], payload: dict[str, Any]) -> None:
    """The saved files in the order the tasks were given: paths on stdout, or one JSON per task."""
    if ui.json_mode:
        ui.emit_json(payload)
        return
    for record in files:
        ui.print(record["path"])
        state = "already saved" if record["skipped"] else "saved"
        ui.note(f"task {task_id}: {state} ({record['bytes']} bytes)")


async def _one(
    client: SoraClient, task_id: str, directory: Path, args: SimpleNamespace
) -> tuple[str, list[dict[str, Any]], SoraError | None]:
    files: list[dict[str, Any]] = []
    try:
        if args.wait:
            task = await client.wait_for_task(
                task_id, timeout=args.wait_timeout, poll_interval=args.poll_interval
            )
        else:
            task = await client.get_task(task_id)
        files = await save_videos(client, task, directory, force=args.force)
    except SoraError as exc:
        return task_id, files, exc
    return task_id, files, None
