"""What a relay's rate must be, given the starts it accepted: a GCRA bound read backwards.

A relay that allows ``rate`` per second with bursts of ``burst`` accepts at most ``burst + rate * T``
requests in any window of T seconds. So every run of accepted starts, from the i-th to the j-th,
proves ``rate >= (j - i + 1 - burst) / (t_j - t_i)``. The largest such bound over recent starts is
the rate the relay has *shown* it allows: exact while the client was over the limit (the relay then
accepts exactly at its rate), a safe underestimate otherwise. Short spans are skipped: a millisecond
of network jitter between the client's clock and the relay's would make them say anything.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["shown_rate"]


def shown_rate(starts: Sequence[float], burst: float, min_span: float) -> float:
    """The largest rate the accepted ``starts`` (sorted, seconds) prove, or 0.0 if none is proven.

    >>> shown_rate([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], burst=1, min_span=0.2)  # 6 starts in 0.5 s, burst 1
    10.0
    """
    best = 0.0
    count = len(starts)
    for i in range(count):
        first = starts[i]
        # Walking j down from the newest start: the first span too short ends the row.
        for j in range(count - 1, i, -1):
            span = starts[j] - first
            if span < min_span:
                break
            bound = (j - i + 1 - burst) / span
            if bound > best:
                best = bound
    return best
