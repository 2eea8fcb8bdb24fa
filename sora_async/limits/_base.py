"""The ``Limiter`` base class every limiter derives from, and the pause window they share.

A limiter answers "may one more request start now?" (``acquire``, which waits until yes) and hears
what the relay said: "wait this long" (``pause``, a fact about the key, so it holds back every request
of the client, or with Redis of the fleet) and "this attempt was (not) throttled" (``observe``, which
an adaptive limiter learns from). Only ``acquire`` must be written; the rest default to doing nothing,
so the client can call them on any limiter without probing for attributes.
"""

from __future__ import annotations

import abc
import asyncio
from types import TracebackType
from typing import TypeVar

__all__ = ["Limiter", "PauseWindow"]

_L = TypeVar("_L", bound="Limiter")


class Limiter(abc.ABC):
    """Base class of rate limiters. Subclass it and write ``acquire`` to plug in your own.

    ``SoraClient(rate_limit=...)`` accepts any instance. The client calls ``acquire`` before every
    attempt that takes a rate token, ``observe`` after it, and ``pause`` with a relay's
    ``Retry-After``. It closes (``aclose``) only limiters it built itself; yours stay yours.

    >>> class Unlimited(Limiter):
    ...     async def acquire(self) -> None:
    ...         pass
    >>> isinstance(Unlimited(), Limiter)  # then: SoraClient(rate_limit=Unlimited())
    True
    """

    __slots__ = ()

    @abc.abstractmethod
    async def acquire(self) -> None:
        """Wait until one more request may start, then count it as started.

        Must stay cancellable while it waits: the caller's deadline or shutdown cancels it.
        """

    async def pause(self, seconds: float) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Hold back every request for ``seconds`` from now (the relay asked us to wait).

        A wait is a fact about the key, not one request: every request of the client waits it out.

        Args:
            seconds: How long, from now; a shorter pause never cuts a longer one short.
        """

    def observe(self, *, started: float, throttled: bool) -> None:  # noqa: B027 - optional hook
        """Feedback on one attempt, for limiters that learn the key's rate from the relay's answers.

        Called after every attempt that took a token; must return quickly.

        Args:
            started: When the attempt started, on the event loop's clock (``loop.time()``).
            throttled: The relay answered 429 (too fast).
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the limiter holds (connections, timers). Safe to call more than once."""

    async def __aenter__(self: _L) -> _L:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class PauseWindow:
    """The end of the latest pause, on the event loop's clock; waiting on it is cancellation-safe."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until = 0.0

    @property
    def until(self) -> float:
        """Loop time at which the latest pause ends (0 before any pause)."""
        return self._until

    def active(self) -> bool:
        """Cheap check for the fast path: is a pause in force right now?"""
        return self._until > 0 and self._until > asyncio.get_running_loop().time()

    def extend(self, seconds: float) -> None:
        """Make the pause last at least ``seconds`` from now; never shortens a longer one."""
        until = asyncio.get_running_loop().time() + max(0.0, seconds)
        self._until = max(self._until, until)

    async def wait(self) -> None:
        """Sleep until the pause ends, however often it is extended meanwhile."""
        loop = asyncio.get_running_loop()
        while (remaining := self._until - loop.time()) > 0:  # noqa: ASYNC110 - the end moves; re-check it
            await asyncio.sleep(remaining)
