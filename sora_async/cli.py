"""The ``sora-async`` command: create, watch and batch Sora video tasks from a shell.

    sora-async demo                                       # see it work: no key, no network
    sora-async create --prompt "a fox in snow" --size 1280x720 --duration 5 --wait
    sora-async status TASK_ID
    sora-async wait TASK_ID
    sora-async batch prompts.jsonl --out results.jsonl --rate 10
    sora-async mock-server --port 8000 --rate 5 --fail-503 0.1

Exit codes (stable; scripts may rely on them):

    0    success
    1    a request or task failed: a relay error, a task that ended in FAILURE, a batch whose lines
         did not all get a task id
    2    usage or input error: a bad flag, an invalid request field, an unusable input file
    3    configuration error: no API key, no base URL, a key the relay rejects, plain http to a
         remote host
    4    ``wait`` (or ``create --wait``) timed out; the task is still running: wait for it again
    130  interrupted (Ctrl-C); a batch's journal stays intact and re-running the command resumes it

Errors are one line on stderr, ``error: <what went wrong>; <what to do>``; ``-v`` adds the traceback
and the SDK's debug log. The API key is never printed: not in errors, logs or ``--json`` output.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from ._cli_base import (
    _CLIENT_FLAGS,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    PROG,
    CliError,
    Handler,
    _action,
    _client_flags,
    _fraction,
    _non_negative_float,
    _output_flags,
    _Parser,
    _port,
    _positive_float,
    _positive_int,
    _shard,
    _subparser,
    _wait_flags,
)
from ._cli_batch import _cmd_batch, batch_advice
from ._cli_commands import (
    _cmd_create,
    _cmd_demo,
    _cmd_mock_server,
    _cmd_status,
    _cmd_wait,
    mock_config_from_args,
)
from ._cli_fleet import add_merge
from ._cli_loadtest import add_loadtest
from ._console import UI
from ._errors import (
    AmbiguousSubmissionError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SoraError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ._models import GenerationType, Model, Operation, Size, Style
from .batch import BatchInputError

if TYPE_CHECKING:
    pass

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CliError",
    "batch_advice",
    "build_parser",
    "main",
    "mock_config_from_args",
]


COMMANDS = (
    ("demo", "see it work in ~15 s against a local mock relay; no key needed"),
    ("create", "create one video task and print its id"),
    ("status", "show a task's status, progress, failure reason and video URLs"),
    ("wait", "wait for a task to finish, with progress; print its video URLs"),
    ("batch", "submit a JSONL file of requests, resumably, with a results file"),
    ("merge", "join the results of a sharded batch into one file, listing gaps"),
    ("loadtest", "measure a relay (or the client): latency percentiles, throughput, errors"),
    ("mock-server", "run a local Sora-compatible relay to test against"),
)
"""Each command and its one-line summary, in the order a newcomer needs them."""


def _top_description() -> str:
    """The pitch and the command list; written out by hand because argparse's own list wraps badly."""
    width = max(len(name) for name, _ in COMMANDS) + 2
    listing = "\n".join(f"  {name:<{width}}{summary}" for name, summary in COMMANDS)
    return (
        "Create Sora videos through a relay from the shell: as fast as your key allows,\n"
        "retried safely, nothing lost, nothing paid twice.\n\ncommands:\n" + listing
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the top level and one subparser per command."""
    parser = _Parser(
        prog=PROG,
        usage="%(prog)s [-h] [--version] COMMAND [flags]",
        description=_top_description(),
        epilog="start with: sora-async demo\n"
        "then see 'sora-async COMMAND --help' for a command's flags and an example.\n\n"
        "exit codes: 0 ok, 1 failed, 2 usage or input error, 3 configuration error,\n"
        "4 wait timed out, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND", dest="command", help=argparse.SUPPRESS)
    output, client = _output_flags(), _client_flags()
    _add_demo(commands, [output])
    _add_create(commands, [output, client])
    _add_status(commands, [output, client])
    _add_wait(commands, [output, client])
    _add_batch(commands, [output, client])
    add_merge(commands, [output], _subparser)
    add_loadtest(commands, [client], _subparser)
    _add_mock_server(commands)
    return parser


def _add_demo(commands: Any, parents: list[Any]) -> None:
    parser = _subparser(
        commands,
        "demo",
        description="Start a mock relay in this process (rate-limited, with injected 503s, 500s and "
        "dropped connections), write example prompts to a JSONL file (a few invalid on purpose), submit "
        "them exactly as 'sora-async batch' would, wait for three tasks, and explain what the client "
        "absorbed: rate limits, retries, and no task created twice.",
        examples="  sora-async demo\n  sora-async demo --count 50 --keep ./demo-files",
        parents=parents,
    )
    parser.add_argument(
        "--count",
        type=_positive_int,
        default=200,
        metavar="N",
        help="how many prompts (default: 200, min 10)",
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="write the prompt and result files here and keep them"
    )
    parser.set_defaults(handler=_cmd_demo)


def _add_create(commands: Any, parents: list[Any]) -> None:
    parser = _subparser(
        commands,
        "create",
        description="Create one video task and print its task id. Give the request as flags, or as a JSON "
        "object of the API's wire fields with --request FILE (- for stdin); flags given as well override "
        "the file's fields. The request is validated before anything is sent. With --wait, also wait for "
        "the task like 'sora-async wait' and print its video URLs.",
        examples='  sora-async create --prompt "a fox in snow" --size 1280x720 --duration 5\n'
        '  sora-async create --prompt "a paper boat" --action "2:the boat tips over" --wait\n'
        '  echo \'{"prompt": "a koi pond", "n_frames": 300}\' | sora-async create --request - --json',
        parents=parents,
    )
    fields = parser.add_argument_group("request")
    add = fields.add_argument
    add("--prompt", metavar="TEXT", help="what the video shows")
    add("--size", metavar="WxH", help=f"one of {', '.join(s.value for s in Size)}")
    add("--duration", type=int, metavar="S", help="5 or 10 seconds")
    add("--width", type=int, metavar="PX", help="with --height, the size the wire way")
    add("--height", type=int, metavar="PX")
    add("--n-frames", type=int, metavar="N", help="150 (5 s) or 300 (10 s), the duration the wire way")
    add("--n-variants", type=int, metavar="N", help="how many videos to generate (>= 1)")
    add("--type", metavar="TYPE", help=_choices(GenerationType))
    add("--style", metavar="STYLE", help=_choices(Style))
    add("--model", metavar="MODEL", help=_choices(Model))
    add("--operation", metavar="OP", help=_choices(Operation))
    add(
        "--action",
        type=_action,
        action="append",
        metavar="TIME:DESCRIPTION",
        help="a timed beat, e.g. '2.5:the fox jumps'; repeat for more",
    )
    add("--request", metavar="FILE", help="read the request from a JSON object file ('-' for stdin)")
    add("--idempotency-key", metavar="KEY", help="reuse a key to retry a create without paying twice")
    parser.add_argument("--wait", action="store_true", help="wait for the task to finish and print its URLs")
    _wait_flags(parser, title="waiting (with --wait)")
    parser.set_defaults(handler=_cmd_create)


def _choices(enum_cls: Any) -> str:
    return "one of " + ", ".join(member.value for member in enum_cls)


def _add_status(commands: Any, parents: list[Any]) -> None:
    parser = _subparser(
        commands,
        "status",
        description="Query a task once (free on the relays) and show its status, progress, failure reason, "
        "times and video URLs: a table on a terminal, 'key: value' lines in a pipe, one JSON object with "
        "--json. Exits 0 whatever the task's status; use 'wait' to act on the outcome.",
        examples="  sora-async status task_01jhjnz502ejqsm6r37km2q637\n"
        "  sora-async status task_01jhjnz502ejqsm6r37km2q637 --json | jq -r .status",
        parents=parents,
    )
    parser.add_argument("task_id", metavar="TASK_ID", help="the id that 'create' printed")
    parser.set_defaults(handler=_cmd_status)


def _add_wait(commands: Any, parents: list[Any]) -> None:
    parser = _subparser(
        commands,
        "wait",
        description="Poll a task until it finishes, showing its progress. On SUCCESS print the video URLs "
        "(one per line) and exit 0; on FAILURE print the relay's reason and exit 1; if --wait-timeout "
        "passes first, exit 4 (the task keeps running: wait again later).",
        examples="  sora-async wait task_01jhjnz502ejqsm6r37km2q637\n"
        "  sora-async wait task_01jhjnz502ejqsm6r37km2q637 --wait-timeout 1800 -q | xargs -n1 curl -O",
        parents=parents,
    )
    parser.add_argument("task_id", metavar="TASK_ID", help="the id that 'create' printed")
    _wait_flags(parser, title="waiting")
    parser.set_defaults(handler=_cmd_wait)


def _add_batch(commands: Any, parents: list[Any]) -> None:
    parser = _subparser(
        commands,
        "batch",
        description="Submit every line of INPUT (a JSON object of request fields, plus an optional "
        "custom_id) and write one result per line to --out, joined back by custom_id. Invalid lines are "
        "reported by line number and cost no request. A journal records every idempotency key before its "
        "request goes out, so after a crash or Ctrl-C the same command resumes without creating anything "
        "twice. Exits 0 only when every line got a task id.",
        examples="  sora-async batch prompts.jsonl --out results.jsonl --rate 10 --burst 5\n"
        "  sora-async batch prompts.jsonl --out results.jsonl --wait --wait-timeout 3600\n"
        "  # a line of prompts.jsonl:\n"
        '  {"custom_id": "fox-1", "prompt": "a fox in snow", "size": "1280x720", "duration": 5}',
        parents=parents,
    )
    parser.add_argument("input", type=Path, metavar="INPUT.jsonl", help="one request object per line")
    group = parser.add_argument_group("batch")
    group.add_argument(
        "--out", type=Path, required=True, metavar="RESULTS.jsonl", help="where the results go"
    )
    group.add_argument(
        "--journal", type=Path, metavar="PATH", help="the resume journal (default: RESULTS.jsonl.journal)"
    )
    group.add_argument(
        "--wait", action="store_true", help="also wait for every task and record its outcome and URLs"
    )
    group.add_argument(
        "--wait-timeout",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="per task, with --wait (default: 600)",
    )
    group.add_argument(
        "--retry-failed", action="store_true", help="on a re-run, send the lines that failed again"
    )
    group.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="take every N-th line starting at line I+1, to split one input over N processes",
    )
    group.add_argument(
        "--redis-url",
        metavar="URL",
        help="share --rate with every process using the same key through this Redis (needs --rate); "
        "if Redis goes away, each process slows to rate/N (N from --shard) until it returns",
    )
    parser.set_defaults(handler=_cmd_batch)


def _add_mock_server(commands: Any) -> None:
    parser = _subparser(
        commands,
        "mock-server",
        description="Serve the embedded mock relay until Ctrl-C: both endpoints of the API, tasks that "
        "progress with the clock, and, if you ask for them, a per-key rate limit and injected faults. "
        "Point any client at the URL it prints. A prompt containing [fail] always ends in FAILURE. This "
        "command takes none of the client flags: --api-key here is the key the server requires.",
        examples="  sora-async mock-server --port 8000\n"
        "  sora-async mock-server --rate 5 --burst 2 --retry-after ms --fail-503 0.1 --drop-after 0.02\n"
        "  sora-async batch prompts.jsonl --out r.jsonl --base-url http://127.0.0.1:8000 --api-key x",
        parents=[],
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    server = parser.add_argument_group("server")
    server.add_argument(
        "--port", type=_port, default=8000, help="TCP port; 0 picks a free one (default: 8000)"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    _add_mock_config_flags(parser)
    parser.set_defaults(handler=_cmd_mock_server)


def _add_mock_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ``MockConfig`` field; each ``dest`` is the field name and each default None.

    None means "not given", so ``MockConfig``'s own defaults stay the only ones (see
    ``mock_config_from_args``).
    """
    relay = parser.add_argument_group("relay behaviour (default: a healthy, unlimited relay)")
    add = relay.add_argument
    add(
        "--profile",
        choices=("sora", "new-api", "openai"),
        help="relay family to behave like: routes, answers, errors (default: sora; see docs/relays.md)",
    )
    add("--api-key", dest="api_key", metavar="KEY", help="require this bearer key (default: accept any)")
    add("--rate", type=_positive_float, metavar="PER_S", help="per-key rate limit in requests per second")
    add("--burst", type=_positive_int, metavar="N", help="requests a key may send at once under --rate")
    add(
        "--retry-after",
        choices=("seconds", "ms", "date", "none"),
        help="how a 429 says when to come back (default: seconds)",
    )
    add("--limit-queries", action="store_true", default=None, help="task queries spend rate-limit tokens too")
    add(
        "--ignore-idempotency",
        dest="honour_idempotency",
        action="store_false",
        default=None,
        help="create a new task even for a repeated Idempotency-Key (shows what duplicates cost)",
    )
    add(
        "--queue-time",
        type=_non_negative_float,
        metavar="S",
        help="seconds a task stays NOT_START (default: 0.2)",
    )
    add(
        "--run-time",
        type=_non_negative_float,
        metavar="S",
        help="seconds a task stays IN_PROGRESS (default: 1)",
    )
    add("--failure-rate", type=_fraction, metavar="F", help="fraction of tasks that end in FAILURE")
    add("--seed", type=int, metavar="N", help="seed for faults, failures and task ids (reproducible runs)")
    faults = parser.add_argument_group("injected faults (fractions of create requests, summing to <= 1)")
    add = faults.add_argument
    add("--fail-503", type=_fraction, metavar="F", help="answer 503 before creating the task (safe to retry)")
    add("--drop-before", type=_fraction, metavar="F", help="drop the connection before creating the task")
    add("--fail-500-after", type=_fraction, metavar="F", help="create the task, then answer 500 (ambiguous)")
    add(
        "--drop-after",
        type=_fraction,
        metavar="F",
        help="create the task, then drop the connection (ambiguous)",
    )
    add("--latency", type=_non_negative_float, metavar="S", help="seconds added to every create")
    add("--latency-jitter", type=_non_negative_float, metavar="S", help="extra latency, uniform in [0, S]")
    add("--fault-queries", action="store_true", default=None, help="faults and latency hit task queries too")
    family = parser.add_argument_group("relay family details (default: the --profile's own)")
    add = family.add_argument
    add("--create-answer", choices=("envelope", "video", "task_id"), help="shape of a create's 200 answer")
    add(
        "--url-location",
        choices=("generations", "data_url", "url", "result_url", "fail_reason", "metadata_url", "content"),
        help="where a finished task's video URL is",
    )
    add("--limit-body", choices=("relay", "openai", "empty"), help="body of the rate limiter's 429")
    add(
        "--saturation", type=_fraction, metavar="F", help="fraction of creates refused as upstream saturation"
    )
    add(
        "--models",
        type=lambda text: tuple(name for name in text.split(",") if name),
        metavar="A,B",
        help="models with a channel (new-api): others get 503 model_not_found",
    )
    add(
        "--video-bytes",
        type=_positive_int,
        metavar="N",
        help="size of every served video file (default: 4096)",
    )
    add(
        "--content-ignores-range",
        action="store_true",
        default=None,
        help="serve whole files even when a Range is asked for",
    )
    add(
        "--content-cut-after",
        type=int,
        metavar="N",
        help="close the connection after N bytes of a file, its Content-Length unmet",
    )
    add(
        "--no-record-tasks",
        dest="record_tasks",
        action="store_false",
        default=None,
        help="keep no task records (queries then 400): for benchmarks of millions of creates",
    )


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code (the console script passes it to ``sys.exit``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors end inside argparse
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    ui = UI(json_mode=getattr(args, "json", False), quiet=getattr(args, "quiet", False))
    ui.add_secret(getattr(args, "api_key", None) or os.environ.get("SORA_API_KEY") or "")
    verbose: bool = args.verbose
    with _sdk_logging(verbose=verbose, ui=ui):
        try:
            return handler(args, ui)
        except KeyboardInterrupt:
            return _report(ui, CliError("interrupted", code=EXIT_INTERRUPTED))
        except Exception as exc:
            if verbose:
                ui.error(traceback.format_exc().rstrip())
            return _report(ui, _explain(exc))


def _report(ui: UI, error: CliError) -> int:
    ui.error(error.line())
    return error.code


@contextlib.contextmanager
def _sdk_logging(*, verbose: bool, ui: UI) -> Iterator[None]:
    """Route the ``sora_async`` logger for this run: debug lines to stderr with -v, else nowhere.

    Without -v the SDK's warnings would repeat the one error line we print (Python's last-resort
    handler prints them), so a null handler takes them. Every line passes the UI's redaction.
    """
    logger = logging.getLogger("sora_async")
    handler: logging.Handler = logging.StreamHandler(ui.err) if verbose else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactFilter(ui))
    saved_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)


class _RedactFilter(logging.Filter):
    def __init__(self, ui: UI) -> None:
        super().__init__()
        self._ui = ui

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._ui.redact(record.getMessage()), None
        return True


def _explain(exc: BaseException) -> CliError:
    """Phrase any failure for the command line: what happened, what to do, which exit code."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ValidationError):
        flag = _CLIENT_FLAGS.get(exc.field)
        return CliError(str(exc), f"check {flag}" if flag else "check the arguments", EXIT_USAGE)
    if isinstance(exc, ConfigurationError):
        # The SDK speaks Python; say the flag instead of the keyword argument.
        return CliError(
            str(exc).replace("allow_insecure_http=True", "--allow-insecure-http"), code=EXIT_CONFIG
        )
    if isinstance(exc, (TaskFailedError, TaskTimeoutError, AmbiguousSubmissionError)):
        return _explain_task(exc)
    if isinstance(exc, BatchInputError):
        return CliError(str(exc), "fix the input and run again", EXIT_USAGE)
    if isinstance(exc, APIError):
        return CliError(
            str(exc), _api_hint(exc), EXIT_CONFIG if isinstance(exc, AuthenticationError) else EXIT_FAILED
        )
    if isinstance(exc, SoraError):
        return CliError(str(exc), "run again with -v for details")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return CliError(f"{where}{exc.strerror or exc}", "check the path and its permissions")
    return CliError(
        f"internal error: {type(exc).__name__}: {exc}", "run again with -v and report the traceback"
    )


def _explain_task(exc: SoraError) -> CliError:
    if isinstance(exc, TaskFailedError):
        return CliError(str(exc), "change the request and create a new task")
    if isinstance(exc, TaskTimeoutError):
        return CliError(str(exc), f"it may still finish: run 'sora-async wait {exc.task_id}'", EXIT_TIMEOUT)
    assert isinstance(exc, AmbiguousSubmissionError)
    return CliError(
        str(exc),
        "if the relay honours idempotency keys, repeat the command with --idempotency-key "
        f"{exc.idempotency_key} --retry-ambiguous; otherwise check the relay before trying again",
    )


def _api_hint(exc: APIError) -> str:
    """What to do about a relay error, by its kind."""
    hints: list[tuple[type[APIError], str]] = [
        (AuthenticationError, "check --api-key or $SORA_API_KEY"),
        (NotFoundError, "check the task id and --base-url"),
        (BadRequestError, "the relay rejected the request: check its fields"),
        (PermissionDeniedError, "the key may not do this, or a CDN blocked the call: check --base-url"),
        (RateLimitError, "the relay kept answering 429: lower --rate or raise --max-attempts"),
        (ServerError, "the relay or its upstream failed: try again later"),
        (APIConnectionError, "check --base-url and the network, or raise --timeout"),
    ]
    for cls, hint in hints:
        if isinstance(exc, cls):
            return hint
    return "check that --base-url points at a Sora relay"
