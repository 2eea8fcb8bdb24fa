"""The load generator: open- or closed-loop traffic through a ``SoraClient``, every request recorded.

* **open loop** (``mode="open"``) - "how does it behave when users arrive at R per second?". Request
  *i* is due at ``t0 + i / rate`` and is started then, whether or not earlier ones have finished.
  Latency is measured from that *intended* send time, so a stall (in the server, the client's
  concurrency gate or its rate limiter) shows up as growing latency, not as fewer, flattering samples:
  no coordinated omission.
* **closed loop** (``mode="closed"``) - "how much can it sustain?". ``concurrency`` workers each send
  the next request as soon as their previous one finished; latency runs from the actual start.

The run stops by itself (a ``duration`` and/or ``requests`` bound, then at most ``drain_timeout`` for
stragglers), and a run that is cancelled (Ctrl-C) still leaves its partial results behind.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from .._client import SoraClient
from .._errors import RateLimitError
from .._retry import OnRetry, RetryEvent
from .._submit import Submission
from ._options import LoadTestOptions
from ._outcomes import OK, UNFINISHED, affects_all_requests, outcome_index
from ._report import LoadTestReport, LoadTestSnapshot
from ._samples import LatencySummary, LoadTestSamples

__all__ = ["LoadTest", "run_load_test"]

logger = logging.getLogger("sora_async")

_YIELD_EVERY = 64
"""An open loop running behind schedule yields to the event loop at least every this many arrivals."""


class LoadTest:
    """One load test run against ``client``; ``run()`` once, ``report()`` at any time (even after a
    cancelled ``run()``), ``snapshot()`` for a live view.

    The client is used as it is (its rate limit, concurrency and retry policy all apply: they are
    part of what is measured). While the test runs, a retry hook is chained onto ``client.on_retry``
    to count 429s; it only counts this test's requests (recognised by their idempotency keys).

    Args:
        client: The client to send through; it stays open (and yours to close) afterwards.
        options: What load to send and when to stop.
        on_tick: Called with a ``LoadTestSnapshot`` every ``options.tick_interval`` seconds and once
            at the end, for a live display. An exception it raises is logged, not propagated: a
            broken display must not spoil the measurement.

    A run cancelled half-way (Ctrl-C) keeps what it measured::

        test = LoadTest(client, LoadTestOptions(mode="open", rate=50, duration=30, request=req))
        try:
            report = await test.run()
        except asyncio.CancelledError:
            report = test.report()  # what was measured until then; report.complete is False

    >>> import asyncio
    >>> import sora_async as sa
    >>> client = sa.SoraClient(api_key="sk-...", base_url="https://relay.example")
    >>> test = LoadTest(client, LoadTestOptions(rate=5, requests=10, request=sa.VideoRequest(prompt="x")))
    >>> test.snapshot().sent  # nothing sent before run()
    0
    >>> asyncio.run(client.aclose())
    """

    def __init__(
        self,
        client: SoraClient,
        options: LoadTestOptions,
        *,
        on_tick: Callable[[LoadTestSnapshot], None] | None = None,
    ) -> None:
        self.client = client
        self._view = client
        self.options = options
        self.on_tick = on_tick
        self._samples = LoadTestSamples()
        self._key_prefix = f"loadtest-{uuid.uuid4().hex}-"
        self._measured_prefix = self._key_prefix + "m"
        self._sent = 0
        self._measured_sent = 0
        self._dropped = 0
        self._measured_dropped = 0
        self._ok = 0
        self._errors = 0
        self._in_flight = 0
        self._rate_limited_retries = 0
        self._outstanding: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._wall0 = 0.0
        self._complete = False
        self._measure_start = options.warmup
        self._previous_hook: OnRetry | None = None
        self._halted: asyncio.Future[Exception] | None = None

    # public surface

    async def run(self) -> LoadTestReport:
        """Send the load, wait for the stragglers (at most ``drain_timeout``), return the report.

        Cancelling it cancels the requests in flight, records them as ``unfinished``, and leaves the
        partial results to ``report()``.

        Returns:
            The report of the measured part of the run (``complete`` True).

        A request failing in a way every further one would (``exc.affects_all_requests``: a
        rejected or forbidden key, an unknown model, a wrong base URL or dialect) stops the run at
        once: the requests in flight are cancelled (``unfinished``) and that error is raised.

        Raises:
            RuntimeError: This ``LoadTest`` already ran; create a new one for another run.
            SoraError: The client cannot send at all (e.g. ``ConfigurationError`` for a closed
                client), or a request failed with ``affects_all_requests``; what was measured until
                then stays available from ``report()`` (``complete`` False).
        """
        if self._loop is not None:
            raise RuntimeError("a LoadTest runs once; create a new one for another run")
        self._loop = asyncio.get_running_loop()
        self._t0, self._wall0 = self._loop.time(), time.time()
        self._install_hook()
        ticker = self._loop.create_task(self._tick_forever()) if self.on_tick is not None else None
        try:
            await self._drive()
            self._complete = True
        finally:
            await self._cancel(self._outstanding)
            if ticker is not None:
                await self._cancel({ticker})
            self._uninstall_hook()
            if self.on_tick is not None:
                self._tick(self.snapshot())
        return self.report()

    def snapshot(self, *, rate: float = 0.0) -> LoadTestSnapshot:
        """Counts so far (warm-up included), for a live view.

        Args:
            rate: The finishing rate to show (the ticker computes it over its last interval).
        """
        done = len(self._samples)
        return LoadTestSnapshot(
            elapsed=self._now(),
            sent=self._sent,
            done=done,
            ok=self._ok,
            errors=self._errors,
            in_flight=self._in_flight,
            dropped=self._dropped,
            rate=rate,
            warming_up=self._now() < self._measure_start,
        )

    def report(self) -> LoadTestReport:
        """The report of what has been measured so far (warm-up left out).

        Callable at any time: during the run, after it, or after a cancelled ``run()``.
        """
        samples = self._samples.measured(self._measure_start)
        outcomes = samples.outcome_counts()
        opts = self.options
        return LoadTestReport(
            mode=opts.mode,
            target_rate=opts.rate,
            concurrency=opts.concurrency if opts.mode == "closed" else None,
            started_at=self._wall0,
            span=max(samples.end, default=0.0),
            sent=len(samples),
            outcomes=outcomes,
            dropped=self._measured_dropped,
            retries=sum(samples.attempts) - len(samples),
            rate_limited_answers=self._rate_limited_retries + outcomes["rate_limited"],
            latency=LatencySummary.of(samples.latencies(ok_only=True)),
            latency_all=LatencySummary.of(samples.latencies(ok_only=False)),
            send_delay=LatencySummary.of(
                [s - i for s, i in zip(samples.start, samples.intended, strict=True)]
            ),
            complete=self._complete,
            samples=samples,
        )

    async def _drive(self) -> None:
        """The mode's loop, until it ends or a request fails the way every further one would."""
        assert self._loop is not None
        halted: asyncio.Future[Exception] = self._loop.create_future()
        self._halted = halted
        sender = asyncio.ensure_future(
            self._open_loop() if self.options.mode == "open" else self._closed_loop()
        )
        either: set[asyncio.Future[Any]] = {sender, halted}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._cancel({sender})
        if halted.done():
            raise halted.result()
        sender.result()

    def _halt(self, error: Exception) -> None:
        """Stop the run on ``error`` (the first one wins): a rejected key or a wrong URL would only
        repeat itself, as a million identical failures measured as if they were the relay's."""
        if self._halted is not None and not self._halted.done():
            self._halted.set_result(error)

    # open loop

    async def _open_loop(self) -> None:
        """Start request i at t0 + i/rate, late ones at once; then give the stragglers ``drain_timeout``."""
        assert self.options.rate is not None
        rate = self.options.rate
        warmup_count, total = self._open_schedule(rate)
        self._measure_start = warmup_count / rate
        for index in range(total):
            intended = index / rate  # a division per arrival: no drift from adding up intervals
            delay = intended - self._now()
            if delay > 0:
                await asyncio.sleep(delay)
            elif index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # behind schedule: still let the requests in flight progress
            self._arrive(index, intended, measured=index >= warmup_count)
        if self._outstanding:
            await asyncio.wait(set(self._outstanding), timeout=self.options.drain_timeout)

    def _open_schedule(self, rate: float) -> tuple[int, int]:
        """Arrivals in the warm-up, and in all; counted, not compared as float times, so that 0.2 s
        at 50/s is exactly 10 arrivals whatever the rounding of 0.2 and 0.02."""
        opts = self.options
        warmup_count = math.ceil(opts.warmup * rate - 1e-9)
        measured = math.inf if opts.duration is None else math.ceil(opts.duration * rate - 1e-9)
        if opts.requests is not None:
            measured = min(measured, opts.requests)
        return warmup_count, warmup_count + int(measured)

    def _arrive(self, index: int, intended: float, *, measured: bool) -> None:
        """One arrival: sent as its own task, or dropped when too many are already outstanding."""
        if len(self._outstanding) >= self.options.max_outstanding:
            self._dropped += 1
            self._measured_dropped += measured
            return
        start = self._now()
        handle = self._submit(index, measured)
        task = asyncio.ensure_future(self._settle(handle, intended, start))
        self._outstanding.add(task)
        task.add_done_callback(self._outstanding.discard)

    # closed loop

    async def _closed_loop(self) -> None:
        """``concurrency`` workers back to back until a bound is hit; the last ones get ``drain_timeout``."""
        opts = self.options
        workers = {asyncio.ensure_future(self._worker()) for _ in range(opts.concurrency)}
        self._outstanding |= workers
        timeout = None if opts.duration is None else opts.warmup + opts.duration + opts.drain_timeout
        done, _ = await asyncio.wait(workers, timeout=timeout)
        for worker in done:
            error = None if worker.cancelled() else worker.exception()
            if error is not None:
                raise error  # e.g. ConfigurationError from submit: the client cannot send at all

    async def _worker(self) -> None:
        opts = self.options
        deadline = math.inf if opts.duration is None else opts.warmup + opts.duration
        while (now := self._now()) < deadline:
            measured = now >= opts.warmup
            if measured and opts.requests is not None and self._measured_sent >= opts.requests:
                return
            handle = self._submit(self._sent, measured)
            await self._settle(handle, now, now)

    # one request

    def _submit(self, index: int, measured: bool) -> Submission:
        self._sent += 1
        self._measured_sent += measured
        self._in_flight += 1
        key = f"{self._key_prefix}{'m' if measured else 'w'}{index}"
        return self._view.submit(self.options.request, idempotency_key=key, retry=self.options.retry)

    async def _settle(self, handle: Submission, intended: float, start: float) -> None:
        """Wait for one submission and record it; if cancelled, cancel it and record it as unfinished."""
        outcome = OK
        try:
            await handle
        except asyncio.CancelledError:
            handle.cancel()
            self._record(intended, start, UNFINISHED, handle.attempts)
            raise
        except Exception as exc:
            outcome = outcome_index(exc)
            if affects_all_requests(exc):
                self._halt(exc)
        self._record(intended, start, outcome, handle.attempts)

    def _record(self, intended: float, start: float, outcome: int, attempts: int) -> None:
        self._in_flight -= 1
        self._ok += outcome == OK
        self._errors += outcome not in (OK, UNFINISHED)
        self._samples.add(intended, start, self._now(), outcome, attempts)

    # plumbing

    def _now(self) -> float:
        """Seconds since the run started, on the event loop's clock."""
        return 0.0 if self._loop is None else self._loop.time() - self._t0

    def _install_hook(self) -> None:
        """Requests go through a view of the client whose retry hook counts this test's 429s first."""
        self._previous_hook = self.client.on_retry
        self._view = self.client.with_options(on_retry=self._on_retry)

    def _uninstall_hook(self) -> None:
        self._view = self.client

    def _on_retry(self, event: RetryEvent) -> None:
        """Count the 429s of this test's measured requests, then pass the event on to the client's hook."""
        key = event.idempotency_key or ""
        if isinstance(event.cause, RateLimitError) and key.startswith(self._measured_prefix):
            self._rate_limited_retries += 1
        if self._previous_hook is not None:
            self._previous_hook(event)

    async def _tick_forever(self) -> None:
        assert self.on_tick is not None
        interval = self.options.tick_interval
        last_done, last_time = 0, self._now()
        while True:
            await asyncio.sleep(interval)
            done, now = len(self._samples), self._now()
            self._tick(self.snapshot(rate=(done - last_done) / max(now - last_time, 1e-9)))
            last_done, last_time = done, now

    def _tick(self, snapshot: LoadTestSnapshot) -> None:
        """Hand a snapshot to ``on_tick``; a broken live display must not stop or spoil the measurement."""
        assert self.on_tick is not None
        try:
            self.on_tick(snapshot)
        except Exception:
            logger.exception("load test on_tick callback failed")

    @staticmethod
    async def _cancel(tasks: set[asyncio.Task[None]]) -> None:
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def run_load_test(
    client: SoraClient,
    options: LoadTestOptions,
    *,
    on_tick: Callable[[LoadTestSnapshot], None] | None = None,
) -> LoadTestReport:
    """Run one load test to its end and return the report.

    Use ``LoadTest`` directly to keep partial results when the run is cancelled.

    Args:
        client: The client to send through (its limits, concurrency and retry policy apply).
        options: What load to send and when to stop.
        on_tick: Called with a ``LoadTestSnapshot`` about every ``options.tick_interval`` seconds.

    Returns:
        The report of the measured part of the run.

    Raises:
        SoraError: The client cannot send at all, or every request would fail the same way (a
            rejected key, a wrong base URL: see ``LoadTest.run``).

    >>> import asyncio
    >>> import sora_async as sa
    >>> from sora_async.mock import MockRelay
    >>> async def main() -> LoadTestReport:
    ...     async with MockRelay(api_key="sk-test-key") as relay, sa.SoraClient(
    ...         api_key="sk-test-key", base_url=relay.url, rate_limit=sa.RateLimit(1000)
    ...     ) as client:
    ...         options = LoadTestOptions(rate=200, requests=20, request=sa.VideoRequest(prompt="x"))
    ...         return await run_load_test(client, options)
    >>> report = asyncio.run(main())
    >>> report.sent, report.ok, report.complete
    (20, 20, True)
    """
    return await LoadTest(client, options, on_tick=on_tick).run()
