"""Every finished request, kept exactly: the sample columns and the percentiles computed from them.

About 30 bytes a request in typed arrays, so a million-request run keeps every latency and the
percentiles are exact (nearest rank on the sorted values) rather than estimated from a histogram.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

import attrs

from ._outcomes import OK, OUTCOMES, UNFINISHED

__all__ = ["LatencySummary", "LoadTestSamples", "nearest_rank"]


class LoadTestSamples:
    """Every finished request, column-wise in typed arrays (8+8+8+1+4 bytes a request).

    Times are seconds relative to the start of the measurement (warm-up samples are negative). The
    columns are parallel: request *i* is ``intended[i]``, ``start[i]``, ``end[i]``, ``outcome[i]``
    (an index into ``OUTCOMES``) and ``attempts[i]``.

    >>> samples = LoadTestSamples()
    >>> samples.add(0.0, 0.001, 0.050, 0, 1)
    >>> len(samples), samples.latencies(ok_only=True)
    (1, [0.05])
    """

    __slots__ = ("attempts", "end", "intended", "outcome", "start")

    def __init__(self) -> None:
        self.intended = array("d")
        self.start = array("d")
        self.end = array("d")
        self.outcome = array("B")
        self.attempts = array("I")

    def add(self, intended: float, start: float, end: float, outcome: int, attempts: int) -> None:
        """Record one finished request.

        Args:
            intended: When it was due (open loop) or started (closed loop).
            start: When it was handed to the client.
            end: When it finished (or was cut off).
            outcome: Its outcome class, an index into ``OUTCOMES``.
            attempts: HTTP attempts it took, retries included.
        """
        self.intended.append(intended)
        self.start.append(start)
        self.end.append(end)
        self.outcome.append(outcome)
        self.attempts.append(attempts)

    def __len__(self) -> int:
        return len(self.outcome)

    def measured(self, since: float) -> LoadTestSamples:
        """The samples of the measurement, without the warm-up.

        Args:
            since: The start of the measurement, in the same clock as the samples.

        Returns:
            A copy holding the samples intended at or after ``since``, shifted so that ``since`` is 0.
        """
        kept = LoadTestSamples()
        for i, intended in enumerate(self.intended):
            if intended >= since:
                start, end = self.start[i] - since, self.end[i] - since
                kept.add(intended - since, start, end, self.outcome[i], self.attempts[i])
        return kept

    def latencies(self, *, ok_only: bool) -> list[float]:
        """Latency of each finished request: end minus intended time (equal to the start in closed loop).

        Args:
            ok_only: Only the requests that got a task id; else every one not ``unfinished``.

        Returns:
            Seconds, in the order the requests finished.
        """
        return [
            end - intended
            for end, intended, outcome in zip(self.end, self.intended, self.outcome, strict=True)
            if (outcome == OK if ok_only else outcome != UNFINISHED)
        ]

    def outcome_counts(self) -> dict[str, int]:
        """How many requests ended in each outcome class: every name of ``OUTCOMES``, zeros included."""
        counts = [0] * len(OUTCOMES)
        for outcome in self.outcome:
            counts[outcome] += 1
        return dict(zip(OUTCOMES, counts, strict=True))


@attrs.frozen(kw_only=True)
class LatencySummary:
    """Exact latency percentiles (nearest rank on the sorted samples), in seconds; zeros when empty.

    Its JSON view (``converter.unstructure``) is in milliseconds, like ``to_ms()``.

    >>> LatencySummary.of([0.3, 0.1, 0.2, 0.4]).p50
    0.2
    """

    count: int
    """How many latencies were summarised."""
    min: float
    """The shortest."""
    mean: float
    """The arithmetic mean."""
    p50: float
    """The median."""
    p90: float
    """90% were at or below this."""
    p99: float
    """99% were at or below this."""
    p999: float
    """99.9% were at or below this (``p99.9`` in tables and JSON)."""
    max: float
    """The longest."""

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencySummary:
        """Summarise latencies.

        Args:
            values: Latencies in seconds, in any order.

        Returns:
            Their summary; all zeros (and ``count`` 0) when ``values`` is empty.
        """
        ordered = sorted(values)
        if not ordered:
            return cls(count=0, min=0.0, mean=0.0, p50=0.0, p90=0.0, p99=0.0, p999=0.0, max=0.0)
        p50, p90, p99, p999 = (nearest_rank(ordered, q) for q in (50, 90, 99, 99.9))
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
        """Milliseconds, rounded to microseconds, keyed as tables show them (``p99.9``).

        >>> LatencySummary.of([0.25]).to_ms()["p99.9"]
        250.0
        """
        values = (self.min, self.mean, self.p50, self.p90, self.p99, self.p999, self.max)
        names = ("min", "mean", "p50", "p90", "p99", "p99.9", "max")
        return {name: round(value * 1000, 3) for name, value in zip(names, values, strict=True)}


def nearest_rank(ordered: Sequence[float], percentile: float) -> float:
    """The smallest sample with at least ``percentile`` % of the samples at or below it.

    Args:
        ordered: Samples sorted ascending; not empty.
        percentile: Between 0 and 100.
    """
    rank = max(1, math.ceil(percentile / 100 * len(ordered) - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]
