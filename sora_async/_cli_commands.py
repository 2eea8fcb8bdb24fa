"""What ``create``, ``status``, ``wait``, ``demo`` and ``mock-server`` do once their flags are parsed."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._cli_base import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, CliError
from ._client import SoraClient
from ._console import UI
from ._errors import (
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ._models import VideoRequest, VideoTask
from ._retry import RetryPolicy
from .limits import Limiter, RateLimit

if TYPE_CHECKING:
    from .mock import MockConfig


# --- building the client and the request -------------------------------------------------------------


def make_client(
    args: argparse.Namespace, *, fleet: str | None = None, fleet_size: int = 1, adaptive: bool | None = None
) -> SoraClient:
    """A client from the common flags, after checking what the SDK would refuse later, in CLI words.

    ``fleet`` is a Redis URL: the rate is then shared by every process that uses the same API key.
    """
    api_key = args.api_key or os.environ.get("SORA_API_KEY")
    base_url = args.base_url or os.environ.get("SORA_BASE_URL")
    if not api_key:
        raise CliError("no API key", "pass --api-key or set SORA_API_KEY", EXIT_CONFIG)
    if not base_url:
        raise CliError(
            "no base URL", "pass --base-url or set SORA_BASE_URL (e.g. https://relay.example)", EXIT_CONFIG
        )
    if args.burst is not None and args.rate is None:
        raise CliError("--burst has no effect without --rate", "add --rate PER_S", EXIT_USAGE)
    rate_limit: RateLimit | Limiter | None = (
        None if args.rate is None else RateLimit(args.rate, burst=args.burst or 1)
    )
    if fleet is not None:
        rate_limit = _fleet_limiter(fleet, api_key, args, fleet_size)
    return SoraClient(
        api_key,
        base_url=base_url,
        rate_limit=rate_limit,
        adaptive=adaptive,
        max_concurrency=args.concurrency,
        retry=RetryPolicy(max_attempts=args.max_attempts, retry_ambiguous=args.retry_ambiguous),
        timeout=args.timeout,
        allow_insecure_http=args.allow_insecure_http,
    )


def _fleet_limiter(url: str, api_key: str, args: argparse.Namespace, fleet_size: int) -> Limiter:
    """A Redis limiter keyed by a hash of the API key: one budget per key, the key itself never stored."""
    if args.rate is None:
        raise CliError("--redis-url shares a rate, but no --rate was given", "add --rate PER_S", EXIT_USAGE)
    from .limits import RedisRateLimiter

    key = "sora-async:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return RedisRateLimiter(
        url, key=key, rate=args.rate, burst=args.burst or 1, fallback="local", expected_fleet_size=fleet_size
    )


_REQUEST_FLAGS = (
    "prompt",
    "size",
    "duration",
    "width",
    "height",
    "n_frames",
    "n_variants",
    "type",
    "style",
    "model",
    "operation",
)
# A friendly field and its wire twin exclude each other: a flag for one drops the file's other.
_TWINS = {
    "size": ("width", "height"),
    "width": ("size",),
    "height": ("size",),
    "duration": ("n_frames",),
    "n_frames": ("duration",),
}
_FIELD_FLAGS = {
    "width/height": "--size (or --width/--height)",
    "n_frames": "--n-frames",
    "actions": "--action",
}


def build_request(args: argparse.Namespace) -> VideoRequest:
    """The request of ``create``: the --request file's fields, overridden by the field flags."""
    fields = _read_request_file(args.request) if args.request else {}
    given = {name: getattr(args, name) for name in _REQUEST_FLAGS if getattr(args, name) is not None}
    if args.action:
        given["actions"] = args.action
    for name in given:
        for twin in _TWINS.get(name, ()):
            fields.pop(twin, None)
    fields.update(given)
    try:
        return VideoRequest.from_dict(fields)
    except ValidationError as exc:
        raise CliError(str(exc), _request_hint(exc.field, given, args.request), EXIT_USAGE) from exc


def _request_hint(field: str, given: dict[str, Any], source: str | None) -> str:
    root = re.split(r"[.\[]", field, maxsplit=1)[0]
    from_flags = root in given or (root == "width/height" and given.keys() & {"size", "width", "height"})
    if source and not from_flags:
        return f"fix the field in {'stdin' if source == '-' else source}"
    return f"check {_FIELD_FLAGS.get(root, '--' + root.replace('_', '-'))}"


def _read_request_file(source: str) -> dict[str, Any]:
    """The JSON object in ``source`` (``-``: stdin), or a ``CliError`` saying what is wrong with it."""
    name = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(
            f"cannot read --request {name}: {exc.strerror or exc}", "check the path", EXIT_USAGE
        ) from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"--request {name} is not UTF-8 text", "save it as UTF-8 JSON", EXIT_USAGE) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"--request {name} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            "fix the JSON",
            EXIT_USAGE,
        ) from exc
    if not isinstance(data, dict):
        raise CliError(
            f"--request {name} must hold one JSON object (got {type(data).__name__})",
            'write it like {"prompt": "a fox in snow"}',
            EXIT_USAGE,
        )
    return data


# --- create, status, wait ------------------------------------------------------------------------------


def _cmd_create(args: argparse.Namespace, ui: UI) -> int:
    request = build_request(args)
    client = make_client(args)
    key = args.idempotency_key or str(uuid.uuid4())
    return asyncio.run(_create(client, request, key, args, ui))


async def _create(
    client: SoraClient, request: VideoRequest, key: str, args: argparse.Namespace, ui: UI
) -> int:
    async with client:
        task_id = await client.create_video(request, idempotency_key=key)
        created = {"task_id": task_id, "idempotency_key": key}
        if not args.wait:
            if ui.json_mode:
                ui.emit_json(created)
            else:
                ui.print(task_id)
            return EXIT_OK
        if not ui.json_mode:
            ui.print(task_id)  # first, so that a failed wait never loses the id
        return await _wait_and_report(client, task_id, args, ui, extra=created)


def _cmd_status(args: argparse.Namespace, ui: UI) -> int:
    client = make_client(args)
    return asyncio.run(_status(client, args.task_id, ui))


async def _status(client: SoraClient, task_id: str, ui: UI) -> int:
    async with client:
        task = await client.get_task(task_id)
    if ui.json_mode:
        ui.emit_json(task_json(task))
    else:
        ui.fields(task_rows(task), title=f"task {task.task_id}")
    return EXIT_OK


def _cmd_wait(args: argparse.Namespace, ui: UI) -> int:
    client = make_client(args)
    return asyncio.run(_wait(client, args, ui))


async def _wait(client: SoraClient, args: argparse.Namespace, ui: UI) -> int:
    async with client:
        return await _wait_and_report(client, args.task_id, args, ui, extra={})


async def _wait_and_report(
    client: SoraClient, task_id: str, args: argparse.Namespace, ui: UI, *, extra: dict[str, Any]
) -> int:
    """Wait with a live view; print the URLs (or, with --json, the task) and let failures raise.

    With --json the last known state goes to stdout even when the wait fails, so a script gets the
    fail reason or the last progress along with the exit code.
    """
    last: VideoTask | None = None
    try:
        with ui.task_watch() as watch:
            task = await client.wait_for_task(
                task_id,
                timeout=args.wait_timeout,
                poll_interval=args.poll_interval,
                max_poll_interval=max(15.0, args.poll_interval),
                on_progress=watch.update,
            )
    except TaskFailedError as exc:
        last = exc.task
        raise
    except TaskTimeoutError as exc:
        last = exc.last_task
        raise
    finally:
        if ui.json_mode and last is not None:
            ui.emit_json({**extra, **task_json(last)})
    if ui.json_mode:
        ui.emit_json({**extra, **task_json(task)})
        return EXIT_OK
    for url in task.video_urls:
        ui.print(url)
    ui.note(f"task {task.task_id} succeeded: {len(task.video_urls)} video(s)")
    return EXIT_OK


def task_json(task: VideoTask) -> dict[str, Any]:
    """A task as the JSON object of --json output."""

    def iso(when: Any) -> str | None:
        return None if when is None else str(when.isoformat())

    return {
        "task_id": task.task_id,
        "status": task.status.value,
        "progress": task.progress,
        "fail_reason": task.fail_reason,
        "submit_time": iso(task.submit_time),
        "start_time": iso(task.start_time),
        "finish_time": iso(task.finish_time),
        "video_urls": list(task.video_urls),
        "data": task.data,
    }


def task_rows(task: VideoTask) -> list[tuple[str, str]]:
    """A task as ``key: value`` rows, the unset ones left out."""
    progress = "-" if task.progress is None else f"{task.progress:g}%"
    rows = [("task_id", task.task_id), ("status", task.status.value), ("progress", progress)]
    if task.fail_reason:
        rows.append(("fail_reason", task.fail_reason))
    for label, when in (
        ("submitted", task.submit_time),
        ("started", task.start_time),
        ("finished", task.finish_time),
    ):
        if when is not None:
            rows.append((label, when.isoformat(timespec="seconds")))
    rows.extend(("video_url", url) for url in task.video_urls)
    return rows


# --- demo and mock-server ----------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace, ui: UI) -> int:
    from ._demo import MIN_COUNT, run_demo

    if args.count < MIN_COUNT:
        raise CliError(
            f"--count must be at least {MIN_COUNT} (got {args.count})", "pass a larger --count", EXIT_USAGE
        )
    return asyncio.run(run_demo(ui, count=args.count, keep=args.keep))


def mock_config_from_args(args: argparse.Namespace) -> MockConfig:
    """The ``MockConfig`` of the mock-server flags: only the flags given, so its defaults stay its own."""
    import attrs

    from .mock import MockConfig

    given = {
        field.name: getattr(args, field.name)
        for field in attrs.fields(MockConfig)
        if getattr(args, field.name, None) is not None
    }
    try:
        return MockConfig(**given)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc), "fix the mock-server flags", EXIT_USAGE) from exc


def _cmd_mock_server(args: argparse.Namespace, ui: UI) -> int:
    from .mock import run_mock_server

    config = mock_config_from_args(args)
    try:
        run_mock_server(config, port=args.port, host=args.host)
    except OSError as exc:
        raise CliError(
            f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", "pick another --port or --host"
        ) from exc
    return EXIT_OK
