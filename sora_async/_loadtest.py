"""Load testing a relay (or the SDK itself): open- or closed-loop traffic, exact latency percentiles.

Two ways to drive load, because they answer different questions:

* **open loop** (``mode="open"``) - "how does it behave when users arrive at R per second?". Request
  *i* is due at ``t0 + i / rate`` and is started then, whether or not earlier ones have finished.
  Latency is measured from that *intended* send time, so a stall (in the server, the client's
  concurrency gate or its rate limiter) shows up as growing latency, not as fewer, flattering samples:
  no coordinated omission.
* **closed loop** (``mode="closed"``) - "how much can it sustain?". ``concurrency`` workers each send
  the next request as soon as their previous one finished; latency runs from the actual start.

Every request is kept (intended, start and end time, outcome class, attempts) in compact arrays, about
30 bytes a request, so the percentiles are exact rather than estimated. The run stops by itself (a
``duration`` and/or ``requests`` bound, then at most ``drain_timeout`` for stragglers), and a run that
is cancelled (Ctrl-C) still leaves its partial results behind::

    test = LoadTest(client, LoadTestOptions(mode="open", rate=50, duration=30, request=req))
    try:
        report = await test.run()
    except asyncio.CancelledError:
        report = test.report()          # what was measured until then; report.complete is False
    print(report.render_table())
    plot(report, "loadtest.png")       # needs matplotlib (the 'plot' extra)
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from ._client import SoraClient
from ._errors import (
    AmbiguousSubmissionError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    ValidationError,
)
from ._models import VideoRequest
from ._retry import OnRetry, RetryEvent, RetryPolicy
from ._submit import Submission

__all__ = [
    "OUTCOMES",
    "LatencySummary",
    "LoadTest",
    "LoadTestOptions",
    "LoadTestReport",
    "LoadTestSamples",
    "LoadTestSnapshot",
    "Mode",
    "classify_outcome",
    "plot",
    "run_load_test",
]

logger = logging.getLogger("sora_async")

Mode = Literal["open", "closed"]

OUTCOMES: tuple[str, ...] = (
    "ok",
    "rate_limited",
    "server_error",
    "ambiguous",
    "timeout",
    "connection",
    "other",
    "unfinished",
)
"""Outcome classes, in the order tables list them. ``unfinished``: cut off by cancellation or the drain."""

_OK, _RATE_LIMITED, _SERVER_ERROR, _AMBIGUOUS, _TIMEOUT, _CONNECTION, _OTHER, _UNFINISHED = range(8)
_YIELD_EVERY = 64
"""An open loop running behind schedule yields to the event loop at least every this many arrivals."""
_PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9))


# --- options ---------------------------------------------------------------------------------------


def _positive_or_none(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(attribute.name, "must be a positive number or None", value)


def _positive(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError(attribute.name, "must be a positive number", value)


def _non_negative(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValidationError(attribute.name, "must be a number >= 0", value)


def _optional_count(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _count(inst, attribute, value)


def _count(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(attribute.name, "must be an integer >= 1", value)


def _request(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, VideoRequest):
        raise ValidationError("request", "must be a VideoRequest", value)


@attrs.frozen(kw_only=True)
class LoadTestOptions:
    """What load to send and when to stop. At least one of ``duration`` and ``requests`` is required;
    with both, the run stops at whichever comes first.

    >>> LoadTestOptions(mode="open", rate=20, duration=10, request=VideoRequest(prompt="x")).mode
    'open'
    """

    mode: Mode = "open"
    rate: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Open loop: arrivals per second. Must be None in closed loop."""
    concurrency: int = attrs.field(default=32, validator=_count)
    """Closed loop: the number of workers. (In open loop the client's ``max_concurrency`` governs.)"""
    duration: float | None = attrs.field(default=None, validator=_positive_or_none)
    """Seconds of measured load (after the warm-up)."""
    requests: int | None = attrs.field(default=None, validator=_optional_count)
    """Measured requests to send (warm-up requests not counted)."""
    request: VideoRequest = attrs.field(validator=_request)
    warmup: float = attrs.field(default=0.0, validator=_non_negative)
    """Seconds of load sent first and left out of the report: connections opened, the relay warmed up."""
    retry: RetryPolicy | None = None
    """Retry policy per request; None uses the client's own. ``RetryPolicy.none()`` measures raw answers."""
    max_outstanding: int = attrs.field(default=10_000, validator=_count)
    """Open loop: requests in flight at most; arrivals beyond it are counted as dropped, not sent."""
    drain_timeout: float = attrs.field(default=30.0, validator=_non_negative)
    """Seconds to wait, once sending stopped, for requests still in flight; the rest are 'unfinished'."""
    tick_interval: float = attrs.field(default=0.5, validator=_positive)
    """Seconds between two ``on_tick`` snapshots."""

    def __attrs_post_init__(self) -> None:
        """Cross-field rules: each mode has what it needs, and the run is bounded."""
        if self.mode not in ("open", "closed"):
            raise ValidationError("mode", "must be 'open' or 'closed'", self.mode)
        if self.mode == "open" and self.rate is None:
            raise ValidationError("rate", "is required in open loop (arrivals per second)", self.rate)
        if self.mode == "closed" and self.rate is not None:
            raise ValidationError(
                "rate", "only applies to mode='open'; closed loop uses 'concurrency'", self.rate
            )
        if self.duration is None and self.requests is None:
            raise ValidationError("duration/requests", "at least one must be set to bound the run", None)


# --- live view -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LoadTestSnapshot:
    """The state of a running test, handed to ``on_tick`` about every ``tick_interval`` seconds.

    Counts include the warm-up (``warming_up`` says whether it is still on).
    """

    elapsed: float
    sent: int
    done: int
    ok: int
    errors: int
    in_flight: int
    dropped: int
    rate: float
    """Requests finished per second over the last tick."""
    warming_up: bool


# --- samples and report ----------------------------------------------------------------------------


class LoadTestSamples:
    """Every finished request, column-wise in typed arrays (8+8+8+1+4 bytes a request).

    Times are seconds relative to the start of the measurement (warm-up samples are negative).
    """

    __slots__ = ("attempts", "end", "intended", "outcome", "start")

    def __init__(self) -> None:
        self.intended = array("d")
        self.start = array("d")
        self.end = array("d")
        self.outcome = array("B")
        self.attempts = array("I")

    def add(self, intended: float, start: float, end: float, outcome: int, attempts: int) -> None:
        self.intended.append(intended)
        self.start.append(start)
        self.end.append(end)
        self.outcome.append(outcome)
        self.attempts.append(attempts)

    def __len__(self) -> int:
        return len(self.outcome)

    def measured(self, since: float) -> LoadTestSamples:
        """A copy holding the samples intended at or after ``since``, shifted so that ``since`` is 0."""
        kept = LoadTestSamples()
        for i, intended in enumerate(self.intended):
            if intended >= since:
                start, end = self.start[i] - since, self.end[i] - since
                kept.add(intended - since, start, end, self.outcome[i], self.attempts[i])
        return kept

    def latencies(self, *, ok_only: bool) -> list[float]:
        """Latency of each finished request: end minus intended time (equal to the start in closed loop)."""
        return [
            end - intended
            for end, intended, outcome in zip(self.end, self.intended, self.outcome, strict=True)
            if (outcome == _OK if ok_only else outcome != _UNFINISHED)
        ]

    def outcome_counts(self) -> dict[str, int]:
        counts = [0] * len(OUTCOMES)
        for outcome in self.outcome:
            counts[outcome] += 1
        return dict(zip(OUTCOMES, counts, strict=True))


@attrs.frozen(kw_only=True)
class LatencySummary:
    """Exact latency percentiles (nearest rank on the sorted samples), in seconds; zeros when empty.

    >>> LatencySummary.of([0.3, 0.1, 0.2, 0.4]).p50
    0.2
    """

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p99: float
    p999: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencySummary:
        ordered = sorted(values)
        if not ordered:
            return cls(count=0, min=0.0, mean=0.0, p50=0.0, p90=0.0, p99=0.0, p999=0.0, max=0.0)
        p50, p90, p99, p999 = (_nearest_rank(ordered, q) for _, q in _PERCENTILES)
        return cls(
            count=len(ordered),
            min=ordered[0],
            mean=math.fsum(ordered) / len(ordered),
            p50=p50,
            p90=p90,
            p99=p99,
            p999=p999,
            max=ordered[-1],
        )

    def to_ms(self) -> dict[str, float]:
        """Milliseconds, rounded to microseconds, keyed as tables show them (``p99.9``)."""
        values = (self.min, self.mean, self.p50, self.p90, self.p99, self.p999, self.max)
        names = ("min", "mean", "p50", "p90", "p99", "p99.9", "max")
        return {name: round(value * 1000, 3) for name, value in zip(names, values, strict=True)}


def _nearest_rank(ordered: Sequence[float], percentile: float) -> float:
    """The smallest sample with at least ``percentile`` % of the samples at or below it."""
    rank = max(1, math.ceil(percentile / 100 * len(ordered) - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@attrs.frozen(kw_only=True)
class LoadTestReport:
    """The result of a load test (or of its part so far): throughput, latency, outcome mix, retries.

    ``latency`` covers successful requests and ``latency_all`` every finished one; both run from the
    intended send time. ``send_delay`` is how late requests actually started (open loop: the load
    generator's own lag; large values mean this machine, not the server, was the bottleneck).
    """

    mode: Mode
    target_rate: float | None
    concurrency: int | None
    started_at: float
    """Unix time the run started (warm-up included)."""
    span: float
    """Seconds from the start of the measurement to the last finished request."""
    sent: int
    """Measured requests recorded: finished, or cut off (``unfinished``). Dropped arrivals were never sent."""
    outcomes: dict[str, int]
    dropped: int
    retries: int
    rate_limited_answers: int
    """429 answers seen: retried ones (via the retry hook) plus requests that ended on a 429."""
    latency: LatencySummary
    latency_all: LatencySummary
    send_delay: LatencySummary
    complete: bool
    """False when the run was cancelled or is still going."""
    samples: LoadTestSamples = attrs.field(repr=False, eq=False)

    @property
    def ok(self) -> int:
        return self.outcomes["ok"]

    @property
    def errors(self) -> int:
        """Finished requests that did not get a task id (unfinished ones are not errors)."""
        return sum(n for name, n in self.outcomes.items() if name not in ("ok", "unfinished"))

    @property
    def throughput(self) -> float:
        """Successful requests per second over the measured span."""
        return self.ok / self.span if self.span > 0 else 0.0

    def to_dict(self, *, include_samples: bool = False) -> dict[str, Any]:
        """Plain JSON-serialisable data (latencies in milliseconds), e.g. for ``--json FILE``."""
        data: dict[str, Any] = {
            "mode": self.mode,
            "target_rate": self.target_rate,
            "concurrency": self.concurrency,
            "started_at": self.started_at,
            "span_s": round(self.span, 6),
            "complete": self.complete,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "dropped": self.dropped,
            "throughput_ok_per_s": round(self.throughput, 3),
            "outcomes": dict(self.outcomes),
            "retries": self.retries,
            "rate_limited_answers": self.rate_limited_answers,
            "latency_ms": self.latency.to_ms(),
            "latency_all_ms": self.latency_all.to_ms(),
            "send_delay_ms": self.send_delay.to_ms(),
        }
        if include_samples:
            s = self.samples
            data["samples"] = {
                "intended": s.intended.tolist(),
                "start": s.start.tolist(),
                "end": s.end.tolist(),
                "outcome": [OUTCOMES[o] for o in s.outcome],
                "attempts": s.attempts.tolist(),
            }
        return data

    def render_table(self) -> str:
        """A plain-text summary: what was run, the outcome mix, and a latency row in milliseconds."""
        lines = [self._headline(), ""]
        lines.append(f"  {'throughput':<14}{self.throughput:,.1f} ok/s over {self.span:.2f} s")
        for name in OUTCOMES:
            count = self.outcomes[name]
            if count or name == "ok":
                share = f"  ({100 * count / max(1, self.sent):.1f}%)"
                lines.append(f"  {name:<14}{count:,}{share}")
        if self.dropped:
            lines.append(f"  {'dropped':<14}{self.dropped:,}  (over max_outstanding, never sent)")
        lines.append(f"  {'retries':<14}{self.retries:,}  (429 answers seen: {self.rate_limited_answers:,})")
        lines.append("")
        lines.extend(_latency_rows({"latency (ok)": self.latency, "latency (all)": self.latency_all}))
        if self.mode == "open":
            lines.append(_latency_rows({"send delay": self.send_delay})[1])
        return "\n".join(lines)

    def _headline(self) -> str:
        if self.mode == "open":
            what = f"open loop at {self.target_rate:g} req/s"
        else:
            what = f"closed loop, {self.concurrency} workers"
        status = "complete" if self.complete else "partial"
        return f"Load test: {what}, {self.sent:,} requests sent ({status})"


def _latency_rows(summaries: dict[str, LatencySummary]) -> list[str]:
    names = ("min", "p50", "p90", "p99", "p99.9", "max")
    rows = [f"  {'ms':<16}" + "".join(f"{name:>10}" for name in names)]
    for label, summary in summaries.items():
        ms = summary.to_ms()
        rows.append(f"  {label:<16}" + "".join(f"{ms[name]:>10.1f}" for name in names))
    return rows


# --- outcome classes -------------------------------------------------------------------------------


def classify_outcome(exc: BaseException | None) -> str:
    """The outcome class of a finished request: None is ``ok``; see ``OUTCOMES`` for the others.

    >>> classify_outcome(None), classify_outcome(TimeoutError())
    ('ok', 'timeout')
    """
    return OUTCOMES[_outcome_index(exc)]


def _outcome_index(exc: BaseException | None) -> int:
    # Order matters: APITimeoutError is an APIConnectionError, RateLimitError an APIStatusError.
    if exc is None:
        return _OK
    if isinstance(exc, AmbiguousSubmissionError):
        return _AMBIGUOUS
    if isinstance(exc, RateLimitError):
        return _RATE_LIMITED
    if isinstance(exc, APIStatusError) and exc.status_code >= 500:
        return _SERVER_ERROR
    if isinstance(exc, (APITimeoutError, asyncio.TimeoutError, TimeoutError)):
        return _TIMEOUT
    if isinstance(exc, (APIConnectionError, OSError)):
        return _CONNECTION
    return _OTHER


# --- the engine ------------------------------------------------------------------------------------


class LoadTest:
    """One load test run against ``client``; ``run()`` once, ``report()`` at any time (even after a
    cancelled ``run()``), ``snapshot()`` for a live view.

    The client is used as it is (its rate limit, concurrency and retry policy all apply: they are
    part of what is measured). While the test runs, a retry hook is chained onto ``client.on_retry``
    to count 429s; it only counts this test's requests (recognised by their idempotency keys).
    """

    def __init__(
        self,
        client: SoraClient,
        options: LoadTestOptions,
        *,
        on_tick: Callable[[LoadTestSnapshot], None] | None = None,
    ) -> None:
        self.client = client
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

    # public surface

    async def run(self) -> LoadTestReport:
        """Send the load, wait for the stragglers (at most ``drain_timeout``), return the report.

        Cancelling it cancels the requests in flight, records them as ``unfinished``, and leaves the
        partial results to ``report()``.
        """
        if self._loop is not None:
            raise RuntimeError("a LoadTest runs once; create a new one for another run")
        self._loop = asyncio.get_running_loop()
        self._t0, self._wall0 = self._loop.time(), time.time()
        self._install_hook()
        ticker = self._loop.create_task(self._tick_forever()) if self.on_tick is not None else None
        try:
            if self.options.mode == "open":
                await self._open_loop()
            else:
                await self._closed_loop()
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
        """Counts so far (warm-up included)."""
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
        """The report of what has been measured so far (warm-up left out)."""
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
        return self.client.submit(self.options.request, idempotency_key=key, retry=self.options.retry)

    async def _settle(self, handle: Submission, intended: float, start: float) -> None:
        """Wait for one submission and record it; if cancelled, cancel it and record it as unfinished."""
        outcome = _OK
        try:
            await handle
        except asyncio.CancelledError:
            handle.cancel()
            self._record(intended, start, _UNFINISHED, handle.attempts)
            raise
        except Exception as exc:
            outcome = _outcome_index(exc)
        self._record(intended, start, outcome, handle.attempts)

    def _record(self, intended: float, start: float, outcome: int, attempts: int) -> None:
        self._in_flight -= 1
        self._ok += outcome == _OK
        self._errors += outcome not in (_OK, _UNFINISHED)
        self._samples.add(intended, start, self._now(), outcome, attempts)

    # plumbing

    def _now(self) -> float:
        """Seconds since the run started, on the event loop's clock."""
        return 0.0 if self._loop is None else self._loop.time() - self._t0

    def _install_hook(self) -> None:
        self._previous_hook = self.client.on_retry
        self.client.on_retry = self._on_retry

    def _uninstall_hook(self) -> None:
        if self.client.on_retry == self._on_retry:
            self.client.on_retry = self._previous_hook

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
    """Run one load test to its end and return the report (use ``LoadTest`` to keep partial results)."""
    return await LoadTest(client, options, on_tick=on_tick).run()


# --- the picture -----------------------------------------------------------------------------------

_MAX_POINTS = 20_000
"""Scatter points drawn at most; more are thinned evenly (the percentile lines use every sample)."""


def plot(report: LoadTestReport, path: str | Path, *, title: str | None = None) -> Path:
    """Draw latency over time and throughput per second into a PNG at ``path``; return the path.

    Top: each request's latency at its intended send time (errors as red crosses) with the p50 and
    p99 of each second. Bottom: requests finished per second, ok and errors stacked, and the target
    rate in open loop. Needs matplotlib (``pip install 'sora-async[plot]'``).
    """
    try:
        from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'sora-async[plot]'") from exc
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    width = _bin_width(report.span)
    _draw_latency(top, report, width)
    _draw_throughput(bottom, report, width)
    fig.suptitle(title or _plot_title(report))
    out = Path(path)
    fig.savefig(out, dpi=110)
    return out


def _plot_title(report: LoadTestReport) -> str:
    what = (
        f"open loop, {report.target_rate:g} req/s"
        if report.mode == "open"
        else f"closed loop, {report.concurrency} workers"
    )
    ms = report.latency.to_ms()
    return (
        f"{what}: {report.sent:,} sent, {report.throughput:,.1f} ok/s, "
        f"p50 {ms['p50']:.1f} ms, p99 {ms['p99']:.1f} ms, {report.errors:,} errors"
    )


def _draw_latency(ax: Any, report: LoadTestReport, width: float) -> None:
    samples = report.samples
    step = max(1, len(samples) // _MAX_POINTS)
    ok_x: list[float] = []
    ok_y: list[float] = []
    err_x: list[float] = []
    err_y: list[float] = []
    for i in range(0, len(samples), step):
        outcome = samples.outcome[i]
        if outcome == _UNFINISHED:
            continue
        x, y = samples.intended[i], (samples.end[i] - samples.intended[i]) * 1000
        (ok_x if outcome == _OK else err_x).append(x)
        (ok_y if outcome == _OK else err_y).append(y)
    ax.scatter(ok_x, ok_y, s=4, alpha=0.35, color="tab:blue", label="ok", linewidths=0)
    if err_x:
        ax.scatter(err_x, err_y, s=12, marker="x", color="tab:red", label="error", linewidths=0.8)
    xs, p50, p99 = _latency_bands(samples, width)
    ax.plot(xs, p50, color="black", linewidth=1.2, label=f"p50 per {_width_label(width)}")
    ax.plot(xs, p99, color="tab:orange", linewidth=1.2, label=f"p99 per {_width_label(width)}")
    values = ok_y + err_y
    if values and min(values) > 0 and max(values) / max(min(values), 1e-3) > 30:
        ax.set_yscale("log")
    ax.set_ylabel("latency from intended send (ms)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")


def _bin_width(span: float) -> float:
    """A round bin width giving at most ~60 bins: fine enough to show a one-second stall in a short run,
    coarse enough that each bin holds a meaningful p99 in a long one."""
    for width in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span / width <= 60:
            return float(width)
    return span / 60


def _width_label(width: float) -> str:
    return "second" if width == 1 else f"{width:g} s"


def _latency_bands(samples: LoadTestSamples, width: float) -> tuple[list[float], list[float], list[float]]:
    """p50 and p99 of the finished requests of each bin of intended send time (x at the bin's middle)."""
    bins: dict[int, list[float]] = {}
    for intended, end, outcome in zip(samples.intended, samples.end, samples.outcome, strict=True):
        if outcome != _UNFINISHED:
            bins.setdefault(int(intended // width), []).append((end - intended) * 1000)
    xs, p50, p99 = [], [], []
    for index in sorted(bins):
        ordered = sorted(bins[index])
        xs.append((index + 0.5) * width)
        p50.append(_nearest_rank(ordered, 50))
        p99.append(_nearest_rank(ordered, 99))
    return xs, p50, p99


def _draw_throughput(ax: Any, report: LoadTestReport, width: float) -> None:
    """Finished requests per second in each bin by end time; the last, partial bin is scaled by its
    covered length so that it does not look like a drop."""
    samples = report.samples
    count = max(1, math.ceil(report.span / width))
    ok, errors = [0.0] * count, [0.0] * count
    for end, outcome in zip(samples.end, samples.outcome, strict=True):
        if outcome == _UNFINISHED:
            continue
        index = min(count - 1, max(0, int(end // width)))
        if outcome == _OK:
            ok[index] += 1
        else:
            errors[index] += 1
    covered = [min(width, report.span - i * width) or width for i in range(count)]
    ok = [n / c for n, c in zip(ok, covered, strict=True)]
    errors = [n / c for n, c in zip(errors, covered, strict=True)]
    xs = [(i + 0.5) * width for i in range(count)]
    ax.bar(xs, ok, width=0.9 * width, color="tab:green", label="ok / s")
    if any(errors):
        ax.bar(xs, errors, width=0.9 * width, bottom=ok, color="tab:red", label="errors / s")
    if report.target_rate is not None:
        ax.axhline(report.target_rate, color="black", linestyle="--", linewidth=1, label="target rate")
    ax.set_xlabel("seconds since the start of the measurement")
    ax.set_ylabel("finished per second")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
