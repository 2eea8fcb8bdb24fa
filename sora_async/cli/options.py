"""The command line's building blocks: flag types that say what they expected, and shared flag sets.

Each command declares the flag sets it uses and nothing more, so its ``--help`` shows only its own
flags: ``status`` and ``wait`` take the relay and pacing flags, ``create`` and ``batch`` also the
create-only ``--retry-ambiguous``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .._dialects import DIALECTS

__all__ = [
    "ACTION",
    "FRACTION",
    "NON_NEGATIVE",
    "PORT",
    "POSITIVE",
    "POSITIVE_INT",
    "SECONDS",
    "SHARD",
    "create_options",
    "output_options",
    "pacing_options",
    "relay_options",
    "wait_options",
]

F = TypeVar("F", bound=Callable[..., Any])


class _Number(click.ParamType):  # type: ignore[type-arg]
    """A float with bounds; the message says what was expected and what was got."""

    def __init__(self, name: str, check: Callable[[float], bool], expected: str) -> None:
        self.name = name
        self._check = check
        self._expected = expected

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"expected {self._expected} (got {value!r})", param, ctx)
        if not math.isfinite(number) or not self._check(number):
            self.fail(f"must be {self._expected} (got {value!r})", param, ctx)
        return number


class _WholeNumber(click.ParamType):  # type: ignore[type-arg]
    def __init__(self, name: str, low: int, high: int | None, expected: str) -> None:
        self.name = name
        self._low, self._high, self._expected = low, high, expected

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"expected a whole number (got {value!r})", param, ctx)
        if number < self._low or (self._high is not None and number > self._high):
            self.fail(f"must be {self._expected} (got {value!r})", param, ctx)
        return number


def whole_number(name: str, low: int) -> click.ParamType:  # type: ignore[type-arg]
    """A whole number >= ``low``."""
    return _WholeNumber(name, low, None, f">= {low}")


POSITIVE = _Number("seconds", lambda v: v > 0, "a number > 0")
SECONDS = _Number("seconds", lambda v: 0 < v < math.inf, "a positive, finite number of seconds")
NON_NEGATIVE = _Number("seconds", lambda v: v >= 0, "a number >= 0")
FRACTION = _Number("fraction", lambda v: 0.0 <= v <= 1.0, "a fraction between 0 and 1")
POSITIVE_INT = _WholeNumber("count", 1, None, ">= 1")
PORT = _WholeNumber("port", 0, 65535, "a port number 0-65535, 0 for a free one")

_ACTION = re.compile(r"^\s*(?P<time>[0-9]+(?:\.[0-9]*)?)\s*:(?P<description>.*\S.*)$", re.DOTALL)


class _Action(click.ParamType):  # type: ignore[type-arg]
    """``TIME:DESCRIPTION`` (e.g. ``2.5:the fox jumps``) to an action object of the wire format."""

    name = "action"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dict):
            return value
        match = _ACTION.match(str(value))
        if match is None:
            self.fail(f"expected TIME:DESCRIPTION, e.g. '2.5:the fox jumps' (got {value!r})", param, ctx)
        return {"time": float(match["time"]), "description": match["description"].strip()}


class _Shard(click.ParamType):  # type: ignore[type-arg]
    """``I/N`` (0-based I) to the ``(index, count)`` pair of ``BatchOptions.shard``."""

    name = "shard"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        index, _, count = str(value).partition("/")
        try:
            pair = int(index), int(count)
        except ValueError:
            pair = (-1, 0)
        if not 0 <= pair[0] < pair[1]:
            self.fail(f"expected I/N with 0 <= I < N, e.g. 0/4 (got {value!r})", param, ctx)
        return pair


ACTION = _Action()
SHARD = _Shard()


def _apply(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def wrap(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return wrap


def output_options(function: F) -> F:
    """-v, -q and --json."""
    return _apply(
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            help="log each HTTP attempt to stderr; show the traceback of an unexpected error",
        ),
        click.option("-q", "--quiet", is_flag=True, help="no progress or notes: only results and errors"),
        click.option(
            "--json", "json_mode", is_flag=True, help="print JSON on stdout instead of text (errors too)"
        ),
    )(function)


def relay_options(function: F) -> F:
    """Where the relay is, the key, and how each HTTP request is made."""
    return _apply(
        click.option(
            "--api-key", metavar="KEY", help="the relay API key (default: $SORA_API_KEY); never printed"
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="the relay, e.g. https://relay.example (default: $SORA_BASE_URL)",
        ),
        click.option(
            "--dialect",
            type=click.Choice(sorted(DIALECTS)),
            default="sora",
            show_default=True,
            help="the relay family: sora (/sora/v1/videos), new-api (/v1/video/generations), "
            "openai (/v1/videos)",
        ),
        click.option(
            "--timeout",
            type=POSITIVE,
            default=60.0,
            metavar="S",
            help="seconds per HTTP request (default: 60)",
        ),
        click.option(
            "--max-attempts",
            type=POSITIVE_INT,
            default=6,
            metavar="N",
            help="attempts per request, the first included (default: 6)",
        ),
        click.option(
            "--allow-insecure-http",
            is_flag=True,
            help="allow sending the key over plain http to a non-local host",
        ),
    )(function)


def pacing_options(function: F) -> F:
    """How fast and how many at once."""
    return _apply(
        click.option(
            "--rate",
            type=POSITIVE,
            metavar="PER_S",
            help="client-side limit in requests per second (default: none; the client finds the "
            "relay's limit)",
        ),
        click.option(
            "--burst",
            type=POSITIVE_INT,
            metavar="N",
            help="requests that may start at once under --rate (default: 1)",
        ),
        click.option(
            "--concurrency",
            type=POSITIVE_INT,
            default=32,
            metavar="N",
            help="requests in flight at once (default: 32)",
        ),
    )(function)


def create_options(function: F) -> F:
    """What only a create needs."""
    return click.option(
        "--retry-ambiguous",
        is_flag=True,
        help="also retry creates that may have succeeded (500s, drops); safe only if the relay honours "
        "Idempotency-Key",
    )(function)


def wait_options(function: F) -> F:
    """How long and how often to poll."""
    return _apply(
        click.option(
            "--wait-timeout",
            type=SECONDS,
            default=600.0,
            metavar="S",
            help="give up waiting after this many seconds (default: 600; exit code 4)",
        ),
        click.option(
            "--poll-interval",
            type=SECONDS,
            default=2.0,
            metavar="S",
            help="seconds between the first polls; it grows by half each poll up to 15 (default: 2)",
        ),
    )(function)
