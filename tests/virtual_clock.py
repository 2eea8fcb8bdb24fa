"""A controlled clock for limiter tests: the event loop's time moves only when every task waits.

Limiters read ``loop.time()`` and sleep with the loop's timers. Swapping the loop's clock for a
virtual one, and its selector's wait for "jump the clock to the next timer", makes a test of rates
and pauses exact and instant: ``await asyncio.sleep(2.5)`` returns at exactly +2.5 s, after no wall
time, however loaded the machine is. Only for tests without sockets: waiting for I/O would be skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

__all__ = ["TICK", "VirtualClock", "virtual_time"]

TICK = 1e-7
"""Seconds the clock moves on each turn of the loop; tests compare times to within ``TOLERANCE``."""
TOLERANCE = 1e-4
"""Seconds within which a virtual-clock test compares two times (many ticks, never a real delay)."""


class VirtualClock:
    """The running loop's clock, moved by the loop itself to each next timer when nothing is ready."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: float = 1000.0) -> None:
        self.now = start
        self._loop = loop
        self._selector: Any = getattr(loop, "_selector", None)
        if self._selector is None:  # pragma: no cover - only selector loops are patched
            pytest.skip("the virtual clock needs a selector event loop")
        self._real_select = self._selector.select

    def time(self) -> float:
        return self.now

    def _select(self, timeout: float | None = None) -> list[Any]:
        """Ready I/O if any; else move the clock to the next timer (the loop computed how far).

        Every turn of the loop also moves the clock on by ``TICK``, as a real clock would: a timer
        set for "now plus a rounding error" (aiolimiter computes some) then fires instead of being
        set again forever at the same frozen instant.
        """
        self.now += TICK
        events: list[Any] = self._real_select(0)
        if events or timeout is None or timeout <= 0:
            if not events and timeout is None:
                # Nothing ready and no timer: the test would deadlock. Wait on real I/O briefly and
                # let the per-test timeout report it rather than spinning.
                events = self._real_select(0.05)
            return events
        self.now += timeout
        return events

    @contextmanager
    def installed(self) -> Iterator[VirtualClock]:
        loop: Any = self._loop
        loop.time = self.time
        self._selector.select = self._select
        try:
            yield self
        finally:
            del loop.time
            del self._selector.select


@contextmanager
def virtual_time(start: float = 1000.0) -> Iterator[VirtualClock]:
    """Within the block, the running loop keeps virtual time (see the module docstring)."""
    with VirtualClock(asyncio.get_running_loop(), start).installed() as clock:
        yield clock
