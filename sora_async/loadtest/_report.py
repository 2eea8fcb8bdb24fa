"""What a load test tells you: the live snapshot while it runs, and the report of what it measured.

The report's JSON view goes through the project's one cattrs converter (``sora_async._serde``): the
hooks at the end of this module teach it the report's shape (latencies in milliseconds, the derived
``ok`` / ``errors`` / throughput figures, samples only when asked for).
"""

from __future__ import annotations

from typing import Any

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .._serde import converter
from ._options import Mode
from ._outcomes import OUTCOMES
from ._samples import LatencySummary, LoadTestSamples

__all__ = ["LoadTestReport", "LoadTestSnapshot"]


@attrs.frozen(kw_only=True)
class LoadTestSnapshot:
    """The state of a running test, handed to ``on_tick`` about every ``tick_interval`` seconds.

    Counts include the warm-up (``warming_up`` says whether it is still on).

    >>> LoadTestSnapshot(elapsed=1.0, sent=20, done=18, ok=18, errors=0, in_flight=2, dropped=0,
    ...                  rate=18.0, warming_up=False).in_flight
    2
    """

    elapsed: float
    """Seconds since the run started."""
    sent: int
    """Requests handed to the client so far."""
    done: int
    """Requests finished (or cut off) so far."""
    ok: int
    """Requests that got a task id."""
    errors: int
    """Finished requests that did not get a task id."""
    in_flight: int
    """Requests sent and not finished."""
    dropped: int
    """Open loop: arrivals not sent because ``max_outstanding`` were in flight."""
    rate: float
    """Requests finished per second over the last tick."""
    warming_up: bool
    """True while the warm-up (left out of the report) is still on."""


@attrs.frozen(kw_only=True)
class LoadTestReport:
    """The result of a load test (or of its part so far): throughput, latency, outcome mix, retries.

    ``latency`` covers successful requests and ``latency_all`` every finished one; both run from the
    intended send time. ``send_delay`` is how late requests actually started (open loop: the load
    generator's own lag; large values mean this machine, not the server, was the bottleneck).

    A report holds counts and times only: no request body, no answer text, no exception message, so
    it cannot carry the API key, whatever a relay echoes back.

    >>> import asyncio
    >>> import sora_async as sa
    >>> from sora_async.loadtest import LoadTest, LoadTestOptions
    >>> client = sa.SoraClient(api_key="sk-...", base_url="https://relay.example")
    >>> options = LoadTestOptions(rate=10, duration=1, request=sa.VideoRequest(prompt="a fox"))
    >>> report = LoadTest(client, options).report()  # before run(): nothing measured yet
    >>> report.sent, report.complete, report.to_dict()["latency_ms"]["p99.9"]
    (0, False, 0.0)
    >>> asyncio.run(client.aclose())
    """

    mode: Mode
    """``"open"`` or ``"closed"``."""
    target_rate: float | None
    """Open loop: the arrival rate asked for; None in closed loop."""
    concurrency: int | None
    """Closed loop: the number of workers; None in open loop."""
    started_at: float
    """Unix time the run started (warm-up included)."""
    span: float
    """Seconds from the start of the measurement to the last finished request."""
    sent: int
    """Measured requests recorded: finished, or cut off (``unfinished``). Dropped arrivals were never sent."""
    outcomes: dict[str, int]
    """Requests per outcome class, every name of ``OUTCOMES`` present."""
    dropped: int
    """Open loop: measured arrivals not sent because ``max_outstanding`` were in flight."""
    retries: int
    """Attempts beyond the first, over all measured requests."""
    rate_limited_answers: int
    """429 answers seen: retried ones (via the retry hook) plus requests that ended on a 429."""
    latency: LatencySummary
    """Latency of the successful requests, from their intended send time."""
    latency_all: LatencySummary
    """Latency of every finished request (errors too), from the intended send time."""
    send_delay: LatencySummary
    """How late requests were handed to the client (open loop; always 0 in closed loop)."""
    complete: bool
    """False when the run was cancelled, stopped early or is still going."""
    samples: LoadTestSamples = attrs.field(repr=False, eq=False)
    """Every measured request (for plots and your own analysis)."""

    @property
    def ok(self) -> int:
        """Requests that got a task id."""
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
        """Plain JSON-serialisable data (latencies in milliseconds), e.g. for ``--json-file FILE``.

        Args:
            include_samples: Also every measured request, column-wise (``samples``: intended,
                start, end, outcome names, attempts); large for long runs.

        Returns:
            A dict of str, numbers, lists and dicts, ready for ``json.dumps``.
        """
        data: dict[str, Any] = converter.unstructure(self)
        if include_samples:
            data["samples"] = converter.unstructure(self.samples)
        return data

    def render_table(self) -> str:
        """A plain-text summary: what was run, the outcome mix, and a latency row in milliseconds.

        Returns:
            Lines joined by newlines, without a trailing newline.
        """
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


# --- the JSON view, on the one converter ------------------------------------------------------------


def _samples_to_json(samples: LoadTestSamples) -> dict[str, list[Any]]:
    return {
        "intended": samples.intended.tolist(),
        "start": samples.start.tolist(),
        "end": samples.end.tolist(),
        "outcome": [OUTCOMES[o] for o in samples.outcome],
        "attempts": samples.attempts.tolist(),
    }


def _rounded_seconds(value: float) -> float:
    return round(value, 6)


converter.register_unstructure_hook(LatencySummary, LatencySummary.to_ms)
converter.register_unstructure_hook(LoadTestSamples, _samples_to_json)
_report_fields = make_dict_unstructure_fn(
    LoadTestReport,
    converter,
    _cattrs_omit_if_default=False,
    span=override(rename="span_s", unstruct_hook=_rounded_seconds),
    latency=override(rename="latency_ms"),
    latency_all=override(rename="latency_all_ms"),
    send_delay=override(rename="send_delay_ms"),
    samples=override(omit=True),
)


def _report_to_json(report: LoadTestReport) -> dict[str, Any]:
    """The report's fields plus the figures derived from them (what a reader of the JSON wants)."""
    data: dict[str, Any] = _report_fields(report)
    data.update(ok=report.ok, errors=report.errors, throughput_ok_per_s=round(report.throughput, 3))
    return data


converter.register_unstructure_hook(LoadTestReport, _report_to_json)
