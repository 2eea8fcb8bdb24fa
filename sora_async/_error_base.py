"""The root of the exception tree: ``Verdict``, ``SoraError``, and the two errors raised before any I/O.

``ValidationError`` (bad input) and ``ConfigurationError`` (a client not set up for the call) need
nothing from the relay, so they live here with the base class; the tree itself is drawn in
``_errors``, which every other module imports the exceptions from.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "ERRORS_MODULE",
    "ConfigurationError",
    "SoraError",
    "ValidationError",
    "Verdict",
    "home_in_errors",
]

ERRORS_MODULE = "sora_async._errors"
"""The module every exception of the tree names as its own: the one that draws the tree."""


def home_in_errors(*classes: type) -> None:
    """Make each class name ``sora_async._errors`` as its module, whichever file defines it.

    Tracebacks, doctest outputs and pickles then show one stable home for the whole tree, so moving
    a class between the files behind ``_errors`` changes none of them.

    Args:
        classes: The exception (and enum) classes defined by the calling module.
    """
    for cls in classes:
        cls.__module__ = ERRORS_MODULE


class Verdict(str, enum.Enum):
    """What a failure means for the call that met it: the answer to "may I try again?".

    >>> Verdict.AMBIGUOUS.value
    'ambiguous'
    """

    RETRY = "retry"
    """The relay cannot have acted on it (or the call is free and idempotent): safe to repeat."""
    AMBIGUOUS = "ambiguous"
    """A create the relay may have carried out: repeating it may pay twice."""
    FATAL = "fatal"
    """Repeating the call would get the same answer."""


class SoraError(Exception):
    """Base class of every error raised by sora_async: catch it to catch them all.

    >>> import sora_async as sa
    >>> try:
    ...     sa.VideoRequest(prompt="a fox", duration=7)
    ... except sa.SoraError as exc:
    ...     print(f"{type(exc).__name__}: {exc} [{exc.verdict.value}]")
    ValidationError: 'duration' must be 5 or 10 (seconds) (got 7) [fatal]
    """

    verdict: Verdict = Verdict.FATAL
    """May the call be repeated (``RETRY``), may it have been carried out (``AMBIGUOUS``), or not."""
    affects_all_requests: bool = False
    """True when every further request of the client would fail the same way: stop, fix, re-run."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state, not by constructor arguments (most take keyword-only arguments)."""
        return (_restore, (type(self), self.args, self.__dict__))


class ValidationError(SoraError, ValueError):
    """Input that the API would reject, caught before anything is sent.

    The message is built from the three parts, ``'<field>' <expected> (got <got>)``, so every
    check in the package words its refusal the same way and a caller can read the parts.

    Args:
        field: The offending field or argument, dotted for nested ones (e.g. ``"sdedit.amount"``).
        expected: What is allowed, worded to follow the field name (``"must be an integer >= 1"``).
        got: The value received; shown as its ``repr``, cut to 80 characters.

    >>> import sora_async as sa
    >>> try:
    ...     sa.VideoRequest(prompt="a fox", sdedit={"amount": 9, "source_generation_id": "gen_1"})
    ... except sa.ValidationError as exc:
    ...     print(exc.field, "|", exc.expected, "|", exc.got)
    sdedit.amount | must be between 1 and 8 | 9
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"'{field}' {expected} (got {_short_repr(got)})")


class ConfigurationError(SoraError):
    """The client is not set up to make this call (missing key or URL, closed, insecure).

    Every further call of the client would fail the same way, so ``affects_all_requests`` is True.
    The one argument is the message: what is missing or wrong and how to fix it, never the key.

    >>> import asyncio
    >>> from sora_async import SoraClient, VideoRequest
    >>> client = SoraClient(api_key="sk-...", base_url="https://relay.example")
    >>> asyncio.run(client.aclose())
    >>> client.submit(VideoRequest(prompt="a fox"))
    Traceback (most recent call last):
    ...
    sora_async._errors.ConfigurationError: this SoraClient is closed; create a new one
    """

    affects_all_requests = True


home_in_errors(Verdict, SoraError, ValidationError, ConfigurationError)


def _restore(cls: type[SoraError], args: tuple[Any, ...], state: dict[str, Any]) -> SoraError:
    """Rebuild a pickled exception from its state without calling its constructor."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
