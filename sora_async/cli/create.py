"""``sora-async create``: one video task from flags or a JSON request (``--request -`` reads stdin)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .._client import SoraClient
from .._errors import ValidationError
from .._models import GenerationType, Model, Operation, Size, Style, VideoRequest
from .client import make_client
from .command import SoraCommand, run
from .console import UI
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .options import ACTION, create_options, output_options, pacing_options, relay_options, wait_options
from .tasks import wait_for_all

SUMMARY = "create one video task and print its id"

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


def _choices(enum_cls: Any) -> str:
    return "one of " + ", ".join(member.value for member in enum_cls)


@click.command(
    "create",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Create one video task and print its task id. Give the request as flags, or as a JSON object "
    "of the API's wire fields with --request FILE (- for stdin); flags given as well override the "
    "file's fields. The request is validated before anything is sent. With --wait, also wait for the "
    "task like 'sora-async wait' and print its video URLs.",
    examples='  sora-async create --prompt "a fox in snow" --size 1280x720 --duration 5\n'
    '  sora-async create --prompt "a paper boat" --action "2:the boat tips over" --wait\n'
    '  echo \'{"prompt": "a koi pond", "n_frames": 300}\' | sora-async create --request - --json',
)
@click.option("--prompt", metavar="TEXT", help="what the video shows")
@click.option("--size", metavar="WxH", help=_choices(Size))
@click.option("--duration", type=int, metavar="S", help="5 or 10 seconds")
@click.option("--width", type=int, metavar="PX", help="with --height, the size the wire way")
@click.option("--height", type=int, metavar="PX")
@click.option("--n-frames", type=int, metavar="N", help="150 (5 s) or 300 (10 s), the duration the wire way")
@click.option("--n-variants", type=int, metavar="N", help="how many videos to generate (>= 1)")
@click.option("--type", metavar="TYPE", help=_choices(GenerationType))
@click.option("--style", metavar="STYLE", help=_choices(Style))
@click.option("--model", metavar="MODEL", help=_choices(Model))
@click.option("--operation", metavar="OP", help=_choices(Operation))
@click.option(
    "--action",
    type=ACTION,
    multiple=True,
    metavar="TIME:DESCRIPTION",
    help="a timed beat, e.g. '2.5:the fox jumps'; repeat for more",
)
@click.option("--request", metavar="FILE", help="read the request from a JSON object file ('-' for stdin)")
@click.option("--idempotency-key", metavar="KEY", help="reuse a key to retry a create without paying twice")
@click.option("--wait", is_flag=True, help="wait for the task to finish and print its URLs")
@wait_options
@relay_options
@pacing_options
@create_options
@output_options
def command(**params: Any) -> int:
    return run(create, params)


def create(args: SimpleNamespace, ui: UI) -> int:
    request = build_request(args)
    client = make_client(args)
    key = args.idempotency_key or str(uuid.uuid4())
    return asyncio.run(_create(client, request, key, args, ui))


async def _create(client: SoraClient, request: VideoRequest, key: str, args: SimpleNamespace, ui: UI) -> int:
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
        return await wait_for_all(client, [task_id], args, ui, extra=created)


def build_request(args: SimpleNamespace) -> VideoRequest:
    """The request of ``create``: the --request file's fields, overridden by the field flags."""
    fields = _read_request_file(args.request) if args.request else {}
    given = {name: getattr(args, name) for name in _REQUEST_FLAGS if getattr(args, name) is not None}
    if args.action:
        given["actions"] = list(args.action)
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
    except RecursionError:
        raise CliError(f"--request {name} is nested too deeply to read", "fix the JSON", EXIT_USAGE) from None
    if not isinstance(data, dict):
        raise CliError(
            f"--request {name} must hold one JSON object (got {type(data).__name__})",
            'write it like {"prompt": "a fox in snow"}',
            EXIT_USAGE,
        )
    return data
