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
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import sys
import textwrap
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from ._batch import BatchInputError
from ._cli_fleet import add_merge
from ._client import SoraClient
from ._console import UI, format_seconds
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
from ._limits import Limiter, RateLimit
from ._models import GenerationType, Model, Operation, Size, Style, VideoRequest, VideoTask
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from ._batch import BatchOptions, BatchSummary
    from .mock import MockConfig

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CliError",
    "build_parser",
    "main",
    "mock_config_from_args",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

PROG = "sora-async"
HELP_WIDTH = 88
Handler = Callable[[argparse.Namespace, UI], int]


class CliError(Exception):
    """A failure already phrased for the command line: what went wrong, what to do, the exit code."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def line(self) -> str:
        """The one stderr line: ``error: <message>; <hint>``, whitespace folded so it stays one line."""
        text = f"error: {self.message}" + (f"; {self.hint}" if self.hint else "")
        return " ".join(text.split())


# --- argument types: each rejects bad input with a message that names what was expected -------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0 (got {text!r})")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (got {text!r})")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 (got {text!r})") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1 (got {text!r})")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {text!r})")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, 0 for a free one (got {text!r})")
    return value


_ACTION = re.compile(r"^\s*(?P<time>[0-9]+(?:\.[0-9]*)?)\s*:(?P<description>.*\S.*)$", re.DOTALL)


def _action(text: str) -> dict[str, Any]:
    """``TIME:DESCRIPTION`` (e.g. ``2.5:the fox jumps``) to an action object of the wire format."""
    match = _ACTION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected TIME:DESCRIPTION, e.g. '2.5:the fox jumps' (got {text!r})"
        )
    return {"time": float(match["time"]), "description": match["description"].strip()}


def _shard(text: str) -> tuple[int, int]:
    """``I/N`` (0-based I) to the ``(index, count)`` pair of ``BatchOptions.shard``."""
    index, _, count = text.partition("/")
    try:
        pair = int(index), int(count)
    except ValueError:
        pair = (-1, 0)
    if not 0 <= pair[0] < pair[1]:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, e.g. 0/4 (got {text!r})")
    return pair


# --- the parser ---------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error that points at the right ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, CliError(message, f"see '{self.prog} --help'").line() + "\n")


def _output_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output")
    group.add_argument(
        "-v", "--verbose", action="store_true", help="log the SDK's debug messages to stderr; show tracebacks"
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress or notes: only results and errors"
    )
    group.add_argument(
        "--json", action="store_true", help="print one machine-readable JSON object on stdout instead of text"
    )
    return parent


def _client_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("relay and pacing")
    add = group.add_argument
    add("--api-key", metavar="KEY", help="the relay API key (default: $SORA_API_KEY); never printed")
    add("--base-url", metavar="URL", help="the relay, e.g. https://relay.example (default: $SORA_BASE_URL)")
    add(
        "--rate",
        type=_positive_float,
        metavar="PER_S",
        help="client-side limit in requests per second (default: none; 429s still slow the client)",
    )
    add(
        "--burst",
        type=_positive_int,
        metavar="N",
        help="requests that may start at once under --rate (default: 1)",
    )
    add(
        "--concurrency",
        type=_positive_int,
        default=32,
        metavar="N",
        help="requests in flight at once (default: 32)",
    )
    add(
        "--max-attempts",
        type=_positive_int,
        default=6,
        metavar="N",
        help="attempts per request, the first included (default: 6)",
    )
    add(
        "--retry-ambiguous",
        action="store_true",
        help="also retry creates that may have succeeded (500s, drops); safe only if the relay "
        "honours Idempotency-Key",
    )
    add(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="seconds per HTTP request (default: 60)",
    )
    add(
        "--allow-insecure-http",
        action="store_true",
        help="allow sending the key over plain http to a non-local host",
    )
    return parent


def _wait_flags(parser: argparse.ArgumentParser, *, title: str) -> None:
    group = parser.add_argument_group(title)
    group.add_argument(
        "--wait-timeout",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="give up waiting after this many seconds (default: 600; exit code 4)",
    )
    group.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=2.0,
        metavar="S",
        help="seconds between the first polls; it grows by half each poll up to 15 (default: 2)",
    )


def _subparser(
    commands: Any, name: str, *, description: str, examples: str, parents: list[Any]
) -> argparse.ArgumentParser:
    """A subcommand whose --help is a paragraph, its flags, and examples to copy."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        prog=f"{PROG} {name}",
        description=textwrap.fill(description, HELP_WIDTH),
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    return parser


COMMANDS = (
    ("demo", "see it work in ~15 s against a local mock relay; no key needed"),
    ("create", "create one video task and print its id"),
    ("status", "show a task's status, progress, failure reason and video URLs"),
    ("wait", "wait for a task to finish, with progress; print its video URLs"),
    ("batch", "submit a JSONL file of requests, resumably, with a results file"),
    ("merge", "join the results of a sharded batch into one file, listing gaps"),
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


# --- errors: every failure becomes one line and an exit code -----------------------------------------

_CLIENT_FLAGS = {
    "rate": "--rate",
    "burst": "--burst",
    "max_concurrency": "--concurrency",
    "max_attempts": "--max-attempts",
    "timeout": "--timeout",
    "task_id": "TASK_ID",
}


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


# --- building the client and the request -------------------------------------------------------------


def make_client(args: argparse.Namespace, *, fleet: str | None = None, fleet_size: int = 1) -> SoraClient:
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
        max_concurrency=args.concurrency,
        retry=RetryPolicy(max_attempts=args.max_attempts, retry_ambiguous=args.retry_ambiguous),
        timeout=args.timeout,
        allow_insecure_http=args.allow_insecure_http,
    )


def _fleet_limiter(url: str, api_key: str, args: argparse.Namespace, fleet_size: int) -> Limiter:
    """A Redis limiter keyed by a hash of the API key: one budget per key, the key itself never stored."""
    if args.rate is None:
        raise CliError("--redis-url shares a rate, but no --rate was given", "add --rate PER_S", EXIT_USAGE)
    from ._redis import RedisRateLimiter

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


# --- batch -----------------------------------------------------------------------------------------------


def _cmd_batch(args: argparse.Namespace, ui: UI) -> int:
    from ._batch import BatchOptions

    options = BatchOptions(
        input_path=args.input,
        out_path=args.out,
        journal_path=args.journal,
        wait=args.wait,
        wait_timeout=args.wait_timeout,
        retry_failed=args.retry_failed,
        shard=args.shard,
    )
    client = make_client(args, fleet=args.redis_url, fleet_size=args.shard[1] if args.shard else 1)
    try:
        summary = asyncio.run(_batch(client, options, ui))
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise CliError(
            "interrupted",
            f"journal intact at {options.journal}; re-run the same command to resume",
            EXIT_INTERRUPTED,
        ) from None
    show_summary(ui, summary, retry_ambiguous=args.retry_ambiguous)
    return EXIT_OK if summary.all_ok else EXIT_FAILED


async def _batch(client: SoraClient, options: BatchOptions, ui: UI) -> BatchSummary:
    try:
        async with client:
            return await run_batch_live(client, options, ui)
    finally:
        close = getattr(client.limiter, "aclose", None)  # a Redis limiter made from --redis-url
        if close is not None:
            await close()


async def run_batch_live(client: SoraClient, options: BatchOptions, ui: UI) -> BatchSummary:
    """``run_batch`` under a live progress view: the one batch code path, shared with the demo."""
    from ._batch import BatchInputError, BatchProgress, run_batch

    progress = BatchProgress()
    async with ui.batch_watch(progress):
        try:
            return await run_batch(client, options, progress=progress)
        except BatchInputError as exc:
            raise CliError(str(exc), "fix the input file and run again", EXIT_USAGE) from exc


def summary_json(summary: BatchSummary) -> dict[str, Any]:
    """A batch summary as the JSON object of --json output."""
    return {
        "all_ok": summary.all_ok,
        "total": summary.total,
        "ok": summary.ok,
        "failed": summary.failed,
        "invalid": summary.invalid,
        "ambiguous": summary.ambiguous,
        "pending": summary.pending,
        "task_failures": summary.task_failures,
        "resumed": summary.resumed,
        "skipped": summary.skipped,
        "elapsed": round(summary.elapsed, 3),
        "results_path": str(summary.results_path),
        "journal_path": str(summary.journal_path),
        "invalid_examples": [{"line": line, "reason": reason} for line, reason in summary.invalid_examples],
        "failed_examples": [{"line": line, "reason": reason} for line, reason in summary.failed_examples],
    }


def summary_rows(summary: BatchSummary) -> list[tuple[str, str]]:
    """The summary table; example rows (key "") sit under the count they explain."""
    rows = [("ok", f"{summary.ok} of {summary.total}"), ("failed", str(summary.failed))]
    rows.extend(("", f"line {line}: {reason}") for line, reason in summary.failed_examples)
    rows.append(("invalid", str(summary.invalid)))
    rows.extend(("", f"line {line}: {reason}") for line, reason in summary.invalid_examples)
    rows += [
        ("ambiguous", str(summary.ambiguous)),
        ("pending", str(summary.pending)),
        *(
            [("videos failed", f"{summary.task_failures} (see status in the results)")]
            if summary.task_failures
            else []
        ),
        ("resumed", str(summary.resumed)),
        ("skipped", f"{summary.skipped} (finished by an earlier run)"),
        ("elapsed", format_seconds(summary.elapsed)),
        ("results", str(summary.results_path)),
        ("journal", str(summary.journal_path)),
    ]
    return rows


def show_summary(ui: UI, summary: BatchSummary, *, retry_ambiguous: bool) -> None:
    """The summary on stdout (table or JSON), then advice for what is left, on stderr."""
    if ui.json_mode:
        ui.emit_json(summary_json(summary))
        return
    ui.fields(summary_rows(summary), title="batch summary")
    for advice in batch_advice(summary, retry_ambiguous=retry_ambiguous):
        ui.note(advice)


def batch_advice(summary: BatchSummary, *, retry_ambiguous: bool) -> list[str]:
    """What to do about the lines that did not get a task id."""
    advice = []
    if summary.invalid:
        advice.append(f"{summary.invalid} invalid line(s) cost nothing: fix them and re-run the same command")
    if summary.failed:
        advice.append(f"{summary.failed} line(s) failed: re-run with --retry-failed to send them again")
    if summary.ambiguous and not retry_ambiguous:
        advice.append(
            f"{summary.ambiguous} line(s) may or may not have created a task: if the relay honours "
            "Idempotency-Key, re-run with --retry-ambiguous (same keys, nothing paid twice)"
        )
    if summary.pending:
        advice.append(f"{summary.pending} line(s) unfinished: re-run the same command to resume")
    return advice


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
