"""Create a few videos (or take task ids you already have), wait for them, and download the results.

    python examples/wait_for_videos.py --count 3 --out-dir videos/
    python examples/wait_for_videos.py task_01jhjnz502ejqsm6r37km2q637 --out-dir videos/

The relay comes from $SORA_BASE_URL and the key from $SORA_API_KEY (or --base-url and --api-key).
Against the mock relay (``sora-async mock-server --port 8000``) the "videos" are a few bytes each.

What it shows:

* ``client.wait_for_task`` polls one task until it succeeds (returns the task), fails
  (``TaskFailedError``) or the timeout passes (``TaskTimeoutError``); ``on_progress`` sees every poll.
  Polls are free on the relays and take no rate-limit token, so waiting for many tasks at once is fine.
* ``client.download_video`` saves each video: streamed to disk in chunks (never held in memory
  whole), written under ``<name>.part`` and renamed once complete (a half-downloaded file never looks
  done), resumed from the ``.part`` after an interruption, its length checked. The API key goes only
  to the relay's own origin (new-api's ``result_url`` is the relay's own content route, which needs
  it), never to a CDN.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import sora_async as sa


def show_progress(task: sa.VideoTask) -> None:
    """Called by wait_for_task with every answer (an ``async def`` works too)."""
    progress = "-" if task.progress is None else f"{task.progress:g}%"
    print(f"  {task.task_id}: {task.status.value} {progress}", file=sys.stderr)


async def wait_and_download(client: sa.SoraClient, task_id: str, args: argparse.Namespace) -> bool:
    """Wait for one task and download its videos; report and return False if anything failed."""
    try:
        task = await client.wait_for_task(
            task_id, timeout=args.timeout, poll_interval=args.poll_interval, on_progress=show_progress
        )
    except sa.TaskFailedError as exc:
        print(f"{task_id}: failed: {exc.fail_reason}")
        return False
    except sa.TaskTimeoutError as exc:
        print(f"{task_id}: still running after {exc.waited:.0f}s; wait again later")
        return False
    for number in range(len(task.video_urls)):
        target = args.out_dir / f"{task_id}-{number}.mp4"
        try:
            await client.download_video(task, target, index=number)
        except sa.SoraError as exc:  # DownloadError, an expired URL (403/404), ...: run again to resume
            print(f"{task_id}: could not download video {number}: {exc}")
            return False
        print(f"{task_id}: saved {target} ({target.stat().st_size} bytes)")
    return True


async def create(client: sa.SoraClient, request: sa.VideoRequest) -> str | None:
    """Create one task; report a failure (the others carry on) and return None for it."""
    try:
        return await client.create_video(request)
    except sa.AmbiguousSubmissionError as exc:  # the task may exist: keep the key to look for it
        print(f"create may or may not have worked (key {exc.idempotency_key}): {exc.cause}")
    except sa.SoraError as exc:
        print(f"create failed: {exc}")
    return None


async def run(args: argparse.Namespace) -> int:
    async with sa.SoraClient(args.api_key, base_url=args.base_url) as client:
        task_ids = list(args.task_ids)
        created_all = True
        if not task_ids:  # no ids given: create some first, all at once
            requests = [
                sa.VideoRequest(prompt=f"a paper boat on a pond, take {n}", size="480x480", duration=5)
                for n in range(args.count)
            ]
            created = await asyncio.gather(*(create(client, r) for r in requests))
            task_ids = [task_id for task_id in created if task_id is not None]
            created_all = len(task_ids) == len(requests)
            print(f"created {', '.join(task_ids) or 'nothing'}", file=sys.stderr)

        done = await asyncio.gather(*(wait_and_download(client, t, args) for t in task_ids))
    return 0 if created_all and all(done) else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("task_ids", nargs="*", metavar="TASK_ID", help="tasks to wait for (default: create)")
    parser.add_argument("--base-url", help="the relay (default: $SORA_BASE_URL)")
    parser.add_argument("--api-key", help="the API key (default: $SORA_API_KEY)")
    parser.add_argument("--count", type=int, default=2, help="videos to create when no ids are given")
    parser.add_argument(
        "--out-dir", type=Path, default=Path("videos"), help="where to save (default: videos)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait per task (default: 600)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=2.0, help="seconds between the first polls (default: 2)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
