"""The command line's building blocks: exit codes, the one-line error, flag types and shared flags."""

from __future__ import annotations

import argparse
import math
import re
import textwrap
from collections.abc import Callable
from typing import Any, NoReturn

from ._console import UI

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
        help="client-side limit in requests per second (default: none; the client finds the relay's limit)",
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


# --- the flag behind each SDK argument, so an error can say which flag to fix ---------------------------

_CLIENT_FLAGS = {
    "rate": "--rate",
    "burst": "--burst",
    "max_concurrency": "--concurrency",
    "max_attempts": "--max-attempts",
    "timeout": "--timeout",
    "task_id": "TASK_ID",
}
