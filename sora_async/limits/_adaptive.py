"""``AdaptiveLimiter``: no client-side limit until the relay first says "too fast", then its rate, found.

The default limiter when no rate is given, because most users do not know their key's limit. It has
two phases:

* **open** - until the first 429, ``acquire`` only counts: no lock, no sleep, no allocation. Starts
  are bounded only by a slow-start window, clocked by the relay's answers as in TCP: ``INITIAL_WINDOW``
  starts, then two more for every start the relay accepted. Against an unlimited relay the window
  grows twice as fast as it is used, and once it is ``OPEN_AHEAD`` starts ahead it is dropped for good;
  against a limited one the first wave of 429s is a few requests, not the whole concurrency gate.
* **paced** - from the first 429, starts are spaced ``1 / rate`` apart (each caller reserves the next
  slot, no lock). The rate is seeded from what the relay accepted so far, grows while it is what holds
  requests back (doubling per round trip until a second 429 gives an upper bound), and at each 429 is
  set to the rate the relay has *shown* it allows: the GCRA bound of the starts it accepted, read
  backwards (``_estimate``), with the burst measured by the first wave. Then it climbs slowly, so that
  a raised limit is found again.

A relay's ``Retry-After`` holds every start back for the part of it that is certain: all of a wait in
milliseconds, or ``n - 1`` seconds of a whole-second ``Retry-After: n`` (which says only that the wait
is at most n seconds; ``1`` is what a relay sends for 20 ms). The refused request itself waits the whole
time (the retry loop does that). The design follows botocore's adaptive retry mode (no client-side
limit until the first throttle, then a rate controller) and TCP's slow start.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math

from ._base import Limiter, PauseWindow
from ._estimate import shown_rate
from ._rate import RateLimit

__all__ = ["AdaptiveLimiter"]

logger = logging.getLogger("sora_async")


class AdaptiveLimiter(Limiter):
    """A limiter that discovers the rate a relay allows. Default for ``SoraClient(rate_limit=None)``.

    Give ``ceiling`` (a ``RateLimit``) to start paced at that rate and never exceed it.

    Args:
        ceiling: A ``RateLimit`` to start paced at and never exceed (its rate only: its ``burst`` is
            not used); None (the default) to start unlimited until the first 429.
        growth_interval: The least time, in seconds, between two steps up of the paced rate; the
            measured round trip, when longer, is used instead, so the rate grows once per round
            trip at most (doubling each step until a second 429 bounds it, then slowly).

    >>> AdaptiveLimiter().rate  # no limit until the relay answers 429
    inf
    >>> AdaptiveLimiter(ceiling=RateLimit(20)).rate
    20.0
    """

    INITIAL_WINDOW = 4
    """Starts allowed before any answer: fewer than most relays' burst, so the first wave is small."""
    OPEN_AHEAD = 512
    """Once the slow-start window is this far ahead of the starts, the open phase stops counting."""
    STALL = 1.0
    """Seconds a start waits for the window at most: if no answers come at all, starts still go on."""
    SEED_RATE = 4.0
    """The lowest rate pacing starts at after the first 429 (starts per second)."""
    MIN_RATE = 0.5
    """The rate never falls below this (starts per second): a pause-free crawl, not a halt."""
    SEEK_GROWTH = 2.0
    """Growth per round trip (at least ``growth_interval``) before a second 429 bounds the rate."""
    CLIMB = 0.01
    """Growth per second once the rate is measured: a raised limit is found, at few 429s."""
    APPROACH = 2.0
    """Once measured, the share of the gap to 0.9x the lowest 429'd rate closed per second (while below)."""
    MARGIN = 0.995
    """The measured rate times this is where the rate settles after a 429."""
    BACKOFF = 0.8
    """The cut when 429s go on at a rate the relay has accepted in full: the key is shared."""
    CROWDED = 2.0
    """Seconds: a 429 that soon after the last change, at an accepted rate, means a shared key."""
    HISTORY = 128
    """Accepted starts kept for the estimate (the newest ones)."""
    MIN_SPAN = 0.1
    """Seconds: runs of accepted starts shorter than this are too jittery to estimate from."""

    __slots__ = (
        "_accepted",
        "_allowance",
        "_answers",
        "_burst",
        "_ceiling",
        "_first_start",
        "_last_change",
        "_last_cut",
        "_last_start",
        "_latency",
        "_measured",
        "_next_slot",
        "_open",
        "_pause",
        "_queue",
        "_started",
        "_timer",
        "_upper",
        "_waiters",
        "growth_interval",
        "rate",
    )

    def __init__(self, *, ceiling: RateLimit | None = None, growth_interval: float = 0.05) -> None:
        self._ceiling = ceiling.per_second if ceiling is not None else math.inf
        self.rate = self._ceiling  # inf: open
        self.growth_interval = growth_interval
        self._open = ceiling is None  # the slow-start window still counts
        self._allowance = self.INITIAL_WINDOW
        self._started = 0
        self._first_start = -1.0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._burst = 1.0  # accepted in the first wave: what the relay lets through at once
        self._measured = False  # a 429 after the seed bounds the rate from above
        self._accepted: collections.deque[float] = collections.deque(maxlen=self.HISTORY)
        self._latency = 0.0
        self._answers = 0  # accepted answers since the rate last grew: growth is clocked by them
        self._next_slot = 0.0
        self._last_start = -math.inf
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self._upper = math.inf  # the lowest rate that drew a 429 lately
        self._last_change = 0.0
        self._last_cut = -math.inf
        self._pause = PauseWindow()

    def __repr__(self) -> str:
        return f"AdaptiveLimiter(rate={self.rate:.2f}/s)"

    async def aclose(self) -> None:
        """Stop the pacing timer (waiting callers are the client's to cancel)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- acquire -----------------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Wait for this request's start; nearly free until the first 429."""
        if self._pause.until and self._pause.active():
            await self._pause.wait()
        if self._open:
            if self._started >= self._allowance:
                await self._wait_for_window()
            if self._open:  # still open (not ended by a 429 while this call waited)
                if self._started == 0:
                    self._first_start = asyncio.get_running_loop().time()
                self._started += 1
                return
        if math.isinf(self.rate):
            return
        await self._paced_start()

    async def _wait_for_window(self) -> None:
        """Wait for the window to grow (an accepted answer), at most STALL seconds."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        # No answers for a while: go on rather than wait for ever. A timer, not asyncio.wait_for,
        # which before Python 3.12 can swallow a cancellation that races the result.
        stall = loop.call_later(self.STALL, _set_done, waiter)
        try:
            await waiter
        finally:
            stall.cancel()

    async def _paced_start(self) -> None:
        """Take the next slot: at once if it is free and nobody queues, else queue for the timer."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._queue and now >= self._next_slot and not self._pause.active():
            self._take(now, bottleneck=False)
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._queue.append(waiter)
        self._schedule()
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():
                self._schedule()  # granted, then cancelled: that slot is lost (slower, never faster)
            raise

    def _schedule(self) -> None:
        """(Re)arm the one timer that releases the head of the queue at the next slot."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue and self._queue[0].done():
            self._queue.popleft()
        if self._queue:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(max(self._next_slot, self._pause.until), self._release)

    def _release(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        if now >= self._next_slot and not self._pause.active():
            while self._queue:
                waiter = self._queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    self._take(now, bottleneck=True)
                    break
        self._schedule()

    def _take(self, now: float, *, bottleneck: bool) -> None:
        """Count a start at ``now``: the next slot is one interval after this one's.

        After this one's *slot*, not after ``now``: the timer fires a little late, and counting from
        the late moment would make every wake-up's latency a permanent loss of rate (4-8% at 50/s).
        A relay that allows bursts absorbs a start that comes up to one interval early; one with
        burst 1 refuses any, so there no lateness is taken back.
        """
        interval = 1.0 / self.rate
        catch_up = interval if self._burst >= 2 else 0.0
        base = self._next_slot if now - self._next_slot <= catch_up else now
        self._last_start = now
        self._next_slot = base + interval
        self._grow(now, bottleneck=bottleneck)

    # --- feedback ----------------------------------------------------------------------------------

    async def pause(self, seconds: float) -> None:
        """Hold starts back for the certain part of a relay's wait (see the module docstring).

        Args:
            seconds: The relay's wait. A whole number n >= 1 is taken for a whole-second
                ``Retry-After: n`` and held for n - 1 seconds, the part that is certain; any other
                wait is held in full.
        """
        if seconds >= 1.0 and float(seconds).is_integer():
            seconds -= 1.0  # "Retry-After: n" in whole seconds: the wait is in (n - 1, n]
        if seconds > 0:
            self._pause.extend(seconds)

    def observe(self, *, started: float, throttled: bool) -> None:
        """An attempt that started at ``started`` was (not) answered 429.

        Args:
            started: When the attempt started, on the event loop's clock.
            throttled: The relay answered 429.
        """
        if not throttled:
            if self._open:
                self._allowance += 2
                if self._allowance - self._started >= self.OPEN_AHEAD:
                    self._open = False  # the relay keeps up: stop counting
                self._wake()
            elif not math.isinf(self.rate):
                self._accepted.append(started)
                self._answers += 1
                now = asyncio.get_running_loop().time()
                self._latency += (now - started - self._latency) * 0.2
            return
        now = asyncio.get_running_loop().time()
        if math.isinf(self.rate):
            self._latency = now - started  # the round trip, before paced answers measure it
            self._seed(now)
        elif started >= self._last_cut:
            self._cut(now)

    def _wake(self) -> None:
        """Let queued starts through as far as the window now allows."""
        free = self._allowance - self._started
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def _seed(self, now: float) -> None:
        """The first 429: the wave that drew it measured the burst; start paced, from a low rate."""
        accepted = max(1, (self._allowance - self.INITIAL_WINDOW) // 2)
        self._burst = float(accepted)
        elapsed = max(1.0, now - self._first_start) if self._first_start >= 0 else 1.0
        self._set_rate(now, max(self.SEED_RATE, accepted / elapsed))
        self._open = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
        logger.info("first 429 after %d accepted starts: pacing at %.1f/s", accepted, self.rate)

    def _cut(self, now: float) -> None:
        """A 429 at the current rate: settle at the rate the relay has shown it allows."""
        drew_429 = self.rate
        self._upper = min(self._upper, drew_429)
        shown = shown_rate(self._accepted, self._burst, self.MIN_SPAN)
        if shown > 0:
            self._measured = True
            rate = min(drew_429, shown) * self.MARGIN
            if shown >= drew_429 * 0.97 and now - self._last_change < self.CROWDED:
                # The relay took all we sent and still refuses, again: others share the key (a fleet,
                # another client). What we were shown is our share, not the limit: back off.
                rate = drew_429 * self.BACKOFF
            self._set_rate(now, rate)
        else:
            self._set_rate(now, drew_429 / 2)
        logger.info("429 at %.1f/s (the relay has shown %.1f/s): now %.1f/s", drew_429, shown, self.rate)

    def _set_rate(self, now: float, rate: float) -> None:
        self.rate = min(self._ceiling, max(self.MIN_RATE, rate))
        self._last_change = now
        self._next_slot = max(now, self._last_start) + 1.0 / self.rate
        # 429s of attempts that started before the first slot at the new rate describe the old one.
        self._last_cut = self._next_slot - 1e-9
        if self._queue:
            self._schedule()

    def _grow(self, now: float, *, bottleneck: bool) -> None:
        """Grow the rate when it has held long enough and it is what holds requests back.

        Only with answers since the last step: a relay that answers nothing gives no reason to speed
        up. Before a measurement: double per round trip. After: close the gap to 0.9x the lowest rate
        that drew a 429 quickly (``APPROACH``) while below it, and creep (``CLIMB``) near and above it.
        """
        elapsed = now - self._last_change
        if not bottleneck or not self._answers or elapsed < max(self.growth_interval, self._latency):
            return
        self._last_change = now
        self._answers = 0
        if not self._measured:
            rate = self.rate * self.SEEK_GROWTH
        elif self.rate < self._upper * 0.9:
            rate = self.rate + (self._upper * 0.9 - self.rate) * min(1.0, self.APPROACH * elapsed)
        else:
            rate = self.rate * (1.0 + self.CLIMB * elapsed)
        self.rate = min(self._ceiling, rate)
        if self._queue:
            self._next_slot = self._last_start + 1.0 / self.rate
            self._schedule()


def _set_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
