"""The picture of a load test: latency over time and throughput per second, drawn with matplotlib.

matplotlib is optional (the ``plot`` extra); ``require_plotting()`` checks for it up front, so that a
command line can refuse a ``--plot`` before the run rather than after it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ._outcomes import OK, UNFINISHED
from ._report import LoadTestReport
from ._samples import LoadTestSamples, nearest_rank

__all__ = ["plot", "require_plotting"]

_MAX_POINTS = 20_000
"""Scatter points drawn at most; more are thinned evenly (the percentile lines use every sample)."""


PLOT_EXTRA_HINT = "pip install 'sora-async[plot]'"
"""How to get matplotlib: the ``plot`` extra."""


def require_plotting() -> None:
    """Check that plots can be drawn, before spending a whole run on one.

    Call it up front (the ``loadtest`` command does, when ``--plot`` is given) so that a missing
    matplotlib is an error at once rather than after the run.

    Raises:
        ImportError: matplotlib is not installed (or cannot be imported); the message names the
            ``plot`` extra.

    >>> require_plotting()  # matplotlib installed: nothing happens
    """
    _figure_class()


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ImportError(
            f"plotting needs matplotlib, which could not be imported ({exc}): {PLOT_EXTRA_HINT}",
            name="matplotlib",
        ) from exc
    return Figure


def plot(report: LoadTestReport, path: str | Path, *, title: str | None = None) -> Path:
    """Draw latency over time and throughput per second into a PNG.

    Top: each request's latency at its intended send time (errors as red crosses) with the p50 and
    p99 of each time bin. Bottom: requests finished per second, ok and errors stacked, and the target
    rate in open loop.

    Args:
        report: What to draw (its ``samples``).
        path: Where to write the PNG (overwritten if it exists).
        title: The figure's title; by default a one-line summary of the run.

    Returns:
        ``path``, as a ``Path``.

    Raises:
        ImportError: matplotlib is missing (``pip install 'sora-async[plot]'``).

    >>> from sora_async.loadtest import plot  # plot(report, "loadtest.png") after a run
    """
    Figure = _figure_class()
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
        if outcome == UNFINISHED:
            continue
        x, y = samples.intended[i], (samples.end[i] - samples.intended[i]) * 1000
        (ok_x if outcome == OK else err_x).append(x)
        (ok_y if outcome == OK else err_y).append(y)
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
        if outcome != UNFINISHED:
            bins.setdefault(int(intended // width), []).append((end - intended) * 1000)
    xs, p50, p99 = [], [], []
    for index in sorted(bins):
        ordered = sorted(bins[index])
        xs.append((index + 0.5) * width)
        p50.append(nearest_rank(ordered, 50))
        p99.append(nearest_rank(ordered, 99))
    return xs, p50, p99


def _draw_throughput(ax: Any, report: LoadTestReport, width: float) -> None:
    """Finished requests per second in each bin by end time; the last, partial bin is scaled by its
    covered length so that it does not look like a drop."""
    samples = report.samples
    count = max(1, math.ceil(report.span / width))
    ok, errors = [0.0] * count, [0.0] * count
    for end, outcome in zip(samples.end, samples.outcome, strict=True):
        if outcome == UNFINISHED:
            continue
        index = min(count - 1, max(0, int(end // width)))
        if outcome == OK:
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
