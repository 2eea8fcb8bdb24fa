"""The concurrency gate: at most ``slots`` requests in flight per client, first come, first served.

A semaphore, written for the case ``gather`` of thousands of calls makes: most of them wait. A call
that must wait holds one future and nothing else (``asyncio.Semaphore.acquire`` is a coroutine, one
more object per waiting call for the garbage collector to walk over and over), and a slot that
comes free is handed straight to the next waiter, so no newcomer can overtake the queue.

    async with gate:                # or, on the hot path, with no coroutine held while waiting:
        ...

    if not gate.try_enter():
        turn = gate.queue()
        try:
            await turn
        except asyncio.CancelledError:
            gate.abandon(turn)      # a slot granted to a cancelled waiter passes on
            raise
    try:
        ...
    finally:
        gate.leave()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from types import TracebackType

__all__ = ["Gate"]


class Gate:
    """At most ``slots`` holders at once; ``async with gate:`` or ``try_enter``/``wait_turn``/``leave``."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def free(self) -> int:
        """Slots nobody holds right now."""
        return self._free

    def locked(self) -> bool:
        """True when a newcomer would have to wait."""
        return self._free == 0 or bool(self._waiters)

    def try_enter(self) -> bool:
        """Take a slot if one is free and nobody queues for it; never waits."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    def queue(self) -> asyncio.Future[None]:
        """A place in the queue (after ``try_enter`` said no): the slot is held once it is done."""
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        return turn

    def abandon(self, turn: asyncio.Future[None]) -> None:
        """The waiter of ``turn`` was cancelled: if the slot was granted in that same instant, pass it on."""
        if turn.done() and not turn.cancelled():
            self.leave()
            return
        turn.cancel()
        with contextlib.suppress(ValueError):  # ``leave`` may have dropped it already
            self._waiters.remove(turn)  # rare, so a linear search is fine

    async def wait_turn(self) -> None:
        """Queue for a slot (after ``try_enter`` said no); it is held once this returns."""
        turn = self.queue()
        try:
            await turn
        except asyncio.CancelledError:
            self.abandon(turn)
            raise

    def leave(self) -> None:
        """Give a slot back: to the first live waiter, else to the pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    async def __aenter__(self) -> None:
        if not self.try_enter():
            await self.wait_turn()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.leave()
