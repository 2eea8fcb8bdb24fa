"""Load testing a relay (or the SDK itself): open- or closed-loop traffic, exact latency percentiles.

Two ways to drive load, because they answer different questions:

* **open loop** (``mode="open"``) - "how does it behave when users arrive at R per second?". Latency
  runs from each request's *intended* send time, so a stall anywhere shows up as latency instead of
  quietly lowering the load (no coordinated omission).
* **closed loop** (``mode="closed"``) - "how much can it sustain?". ``concurrency`` workers send back
  to back; latency runs from the actual start.

Every request is kept (intended, start and end time, outcome class, attempts), about 30 bytes a
request, so the percentiles are exact. The run stops by itself, and a cancelled run still leaves its
partial results behind::

    from sora_async.loadtest import LoadTestOptions, plot, run_load_test

    report = await run_load_test(client, LoadTestOptions(mode="open", rate=50, duration=30, request=req))
    print(report.render_table())
    plot(report, "loadtest.png")       # needs matplotlib (the 'plot' extra)

Modules: ``_options`` (what to send), ``_outcomes`` (what became of a request), ``_samples`` (every
request, and exact percentiles), ``_report`` (snapshot, report and its JSON view), ``_engine`` (the
load generator), ``_plot`` (the picture).

>>> from sora_async.loadtest import OUTCOMES
>>> OUTCOMES[0]
'ok'
"""

from ._engine import LoadTest, run_load_test
from ._options import LoadTestOptions, Mode
from ._outcomes import OUTCOMES, classify_outcome
from ._plot import plot, require_plotting
from ._report import LoadTestReport, LoadTestSnapshot
from ._samples import LatencySummary, LoadTestSamples

__all__ = [
    "LatencySummary",
    "LoadTest",
    "LoadTestOptions",
    "LoadTestReport",
    "LoadTestSamples",
    "LoadTestSnapshot",
    "Mode",
    "OUTCOMES",
    "classify_outcome",
    "plot",
    "require_plotting",
    "run_load_test",
]
