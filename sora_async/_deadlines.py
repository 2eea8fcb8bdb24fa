"""Attempt deadlines for every request in flight, kept by one coarse timer instead of one each.

A timer per request is the largest cost a request pays that it almost never needs: aiohttp's
per-request timeout (or ``asyncio.timeout``) schedules a timer handle, enters a timer context at
every read and cancels the handle at the end, which measured 10-15% of a client's CPU per request
against a fast relay. Deadlines of a minute are not worth that precision. ``DeadlineWatch`` keeps
the deadline of each request in flight in a dict and looks at them every ``tick`` seconds with a
single timer (armed only while something is in flight); a request past its deadline has its task
cancelled, and the transport turns that cancellation into ``APITimeoutError``. Such a deadline
ends at most ``tick`` seconds late, which is why only timeouts of ``COARSE_FROM`` seconds or more
are kept here; shorter ones keep an exact timer of their own.

The cancellation is told apart from anybody else's: the watch remembers whom it cancelled, takes
its own request back with ``Task.uncancel``, and a caller who cancelled in the same instant (its own
deadline) still gets its ``CancelledError``. That needs Python 3.11: on 3.10 the transport keeps
aiohttp's timer for every deadline.
"""

from __future__ import annotations

import asyncio

__all__ = ["COARSE_FROM", "DeadlineWatch"]

COARSE_FROM = 2.5
"""Timeouts of this many seconds or more are watched coarsely (at most ``tick`` late: 10% or less)."""


class DeadlineWatch:
    """Deadlines of requests in flight, one per task, checked every ``tick`` seconds by one timer.

    >>> DeadlineWatch().tick
    0.25
    """

    __slots__ = ("_deadlines", "_expired", "_timer", "loop", "tick")

    def __init__(self, *, tick: float = 0.25, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.tick = tick
        self.loop = loop
        """The event loop whose requests this watch keeps (None: not bound to one yet)."""
        self._deadlines: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[object], deadline: float) -> bool:
        """Keep ``deadline`` (event loop time) for the request ``task`` is making now.

        False if the task already has a request watched (then the caller times this one itself).
        """
        deadlines = self._deadlines
        if task in deadlines:
            return False
        deadlines[task] = deadline
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.tick, self._check)
        return True

    def release(self, task: asyncio.Task[object]) -> None:
        """The request of ``task`` is over, one way or another: forget its deadline.

        A cancellation of ours that never arrived as ``CancelledError`` (something swallowed it) is
        taken back, so that it cannot linger in the task's count of cancel requests.
        """
        del self._deadlines[task]
        if task in self._expired:
            self._expired.discard(task)
            _uncancel(task)

    def timed_out(self, task: asyncio.Task[object]) -> bool:
        """Whether the ``CancelledError`` that ``task`` just met was this watch's deadline.

        True only if nobody else asked the task to stop: a caller's own cancellation wins.
        """
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return _uncancel(task) == 0

    def close(self) -> None:
        """Stop the timer (the requests still in flight are their callers' to end)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        late = [task for task, deadline in self._deadlines.items() if deadline <= now]
        for task in late:
            if task not in self._expired and not task.done():
                self._expired.add(task)
                task.cancel()
        self._timer = loop.call_later(self.tick, self._check) if self._deadlines else None


def _uncancel(task: asyncio.Task[object]) -> int:
    """Take one cancel request back; the ones left (Python 3.10 keeps no count: 0)."""
    uncancel = getattr(task, "uncancel", None)
    return int(uncancel()) if uncancel is not None else 0
