"""``sora-async mock-server``: the embedded mock relay, served until Ctrl-C.

One flag per ``MockConfig`` field, each defaulting to "not given" (None), so ``MockConfig``'s own
defaults stay the only ones (``mock_config_from_args``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .command import SoraCommand, run
from .console import UI
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .options import FRACTION, NON_NEGATIVE, PORT, POSITIVE, POSITIVE_INT, whole_number

if TYPE_CHECKING:
    from ..mock import MockConfig

__all__ = ["command", "mock_config_from_args"]

F = TypeVar("F", bound=Callable[..., Any])
SUMMARY = "run a local Sora-compatible relay to test against"


def _flag(*names: str, help: str) -> Callable[[F], F]:
    """A switch that is None unless given, so the config's default decides."""
    return click.option(*names, default=None, help=help)


@click.command(
    "mock-server",
    cls=SoraCommand,
    short_help=SUMMARY,
    help="Serve the embedded mock relay until Ctrl-C: both endpoints of the API, tasks that progress "
    "with the clock, and, if you ask for them, a per-key rate limit and injected faults. Point any "
    "client at the URL it prints. A prompt containing [fail] always ends in FAILURE. This command "
    "takes none of the client flags: --api-key here is the key the server requires.",
    examples="  sora-async mock-server --port 8000\n"
    "  sora-async mock-server --rate 5 --burst 2 --retry-after ms --fail-503 0.1 --drop-after 0.02\n"
    "  sora-async batch prompts.jsonl --out r.jsonl --base-url http://127.0.0.1:8000 --api-key x",
)
@click.option("--port", type=PORT, default=8000, show_default=True, help="TCP port; 0 picks a free one")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option(
    "--profile",
    type=click.Choice(["sora", "new-api", "openai"]),
    help="relay family to behave like: routes, answers, errors (default: sora; see docs/relays.md)",
)
@click.option(
    "--create-answer",
    type=click.Choice(["envelope", "video", "task_id"]),
    help="shape of a create's 200 (default: the profile's own)",
)
@click.option(
    "--url-location",
    type=click.Choice(
        ["generations", "data_url", "url", "result_url", "fail_reason", "metadata_url", "content"]
    ),
    help="where a finished task's video URL is (default: the profile's own)",
)
@click.option(
    "--limit-body",
    type=click.Choice(["relay", "openai", "empty"]),
    help="body of a rate-limit 429 (default: the profile's own)",
)
@click.option(
    "--saturation", type=FRACTION, metavar="F", help="fraction of creates refused as upstream saturation"
)
@click.option(
    "--models",
    metavar="A,B",
    callback=lambda ctx, param, value: None if value is None else tuple(value.split(",")),
    help="models with a channel (new-api, openai); others get 503 model_not_found (default: any)",
)
@click.option("--video-bytes", type=POSITIVE_INT, metavar="N", help="size of every served video file")
@_flag(
    "--content-ignores-range/--content-honours-range",
    help="serve the whole file with 200 even when asked for a Range",
)
@click.option(
    "--content-cut-after",
    type=whole_number("bytes", 0),
    metavar="N",
    help="close the connection after N body bytes of a file, its Content-Length unmet",
)
@click.option("--api-key", metavar="KEY", help="require this bearer key (default: accept any)")
@click.option("--rate", type=POSITIVE, metavar="PER_S", help="per-key rate limit in requests per second")
@click.option("--burst", type=POSITIVE_INT, metavar="N", help="requests a key may send at once under --rate")
@click.option(
    "--retry-after",
    type=click.Choice(["seconds", "ms", "date", "none"]),
    help="how a 429 says when to come back",
)
@_flag("--limit-queries/--free-queries", help="task queries spend rate-limit tokens too (or not)")
@_flag(
    "--honour-idempotency/--ignore-idempotency",
    "honour_idempotency",
    help="replay the task for a repeated Idempotency-Key, or create a new one (shows what duplicates cost)",
)
@click.option("--queue-time", type=NON_NEGATIVE, metavar="S", help="seconds a task stays NOT_START")
@click.option("--run-time", type=NON_NEGATIVE, metavar="S", help="seconds a task stays IN_PROGRESS")
@click.option("--failure-rate", type=FRACTION, metavar="F", help="fraction of tasks that end in FAILURE")
@click.option("--seed", type=int, metavar="N", help="seed for faults, failures and task ids (reproducible)")
@click.option(
    "--fail-503", type=FRACTION, metavar="F", help="answer 503 before creating the task (safe to retry)"
)
@click.option(
    "--drop-before", type=FRACTION, metavar="F", help="drop the connection before creating the task"
)
@click.option(
    "--fail-500-after", type=FRACTION, metavar="F", help="create the task, then answer 500 (ambiguous)"
)
@click.option("--drop-after", type=FRACTION, metavar="F", help="create the task, then drop the connection")
@click.option("--latency", type=NON_NEGATIVE, metavar="S", help="seconds added to every create")
@click.option("--latency-jitter", type=NON_NEGATIVE, metavar="S", help="extra latency, uniform in [0, S]")
@_flag("--fault-queries/--no-fault-queries", help="faults and latency hit task queries too")
@_flag(
    "--record-tasks/--no-record-tasks",
    help="keep task records (without, queries answer 400): off for benchmarks of millions of creates",
)
@click.option("-v", "--verbose", is_flag=True, help="show the traceback of an unexpected error")
def command(**params: Any) -> int:
    return run(serve, params)


def mock_config_from_args(args: SimpleNamespace) -> MockConfig:
    """The ``MockConfig`` of the mock-server flags: only the flags given, so its defaults stay its own."""
    import attrs

    from ..mock import MockConfig

    given = {
        field.name: getattr(args, field.name)
        for field in attrs.fields(MockConfig)
        if getattr(args, field.name, None) is not None
    }
    try:
        return MockConfig(**given)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc), "fix the mock-server flags", EXIT_USAGE) from exc


def serve(args: SimpleNamespace, ui: UI) -> int:
    from .. import mock

    config = mock_config_from_args(args)
    try:
        mock.run_mock_server(config, port=args.port, host=args.host)
    except OSError as exc:
        raise CliError(
            f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", "pick another --port or --host"
        ) from exc
    return EXIT_OK
