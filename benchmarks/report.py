"""Write ``docs/benchmarks.md`` (and its bar chart) from ``benchmarks/results/*.json``.

    python -m benchmarks.report

Only formatting happens here: every number comes from a results file, so the page can be regenerated
after any run without re-running anything. A section whose results file is missing is left out.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"
SECTIONS = ("throughput", "resilience", "scale", "limiter", "loadtest", "hostile")


def load(results: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for name in SECTIONS:
        path = results / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


# --- markdown helpers --------------------------------------------------------------------------------


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A markdown table of ``rows``; ``columns`` pairs a row key with its header."""
    if not rows:
        return "_no rows_"
    numeric = [all(_is_number(row.get(key)) for row in rows) for key, _ in columns]
    head = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "|" + "|".join("---:" if num else "---" for num in numeric) + "|"
    body = ["| " + " | ".join(_fmt(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


# --- sections ----------------------------------------------------------------------------------------


def machine_section(results: dict[str, dict[str, Any]]) -> str:
    first = next(iter(results.values()))
    m = first["machine"]
    peers = ", ".join(f"{name} {version}" for name, version in m["peers"].items() if version)
    rows = [
        ("CPU", f"{m['nproc']} x {m['cpu_model']}"),
        ("memory", f"{m['memory_gb']} GB"),
        ("OS", m["os"]),
        ("Python", m["python"]),
        ("sora_async", m["sora_async"]),
        ("peers", peers),
        ("load average at start", ", ".join(str(v) for v in m["load_average_at_start"])),
        ("runs", ", ".join(f"{name}: {data['finished_at']}" for name, data in results.items())),
    ]
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "## The machine\n\n" + "\n".join(lines)


def targets_section(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for data in results.values():
        for t in data.get("targets", []):
            verdict = {True: "**met**", False: "**missed**", None: "(reported)"}[t["met"]]
            rows.append({**t, "verdict": verdict})
    columns = [("target", "target"), ("measured", "measured"), ("goal", "goal"), ("verdict", "")]
    return (
        "## Targets\n\nReported, not enforced by tests: timings on a shared machine are noisy.\n\n"
        + table(rows, columns)
    )


def throughput_section(data: dict[str, Any]) -> str:
    chart = draw_ratios(data["rows"], IMG / "throughput_ratios.png")
    raw = next(row["runs_rps"] for row in data["rows"] if row["client"] == "raw aiohttp")
    rows = [
        {**row, "spread": _ratio_spread(row, raw), "gc_time": _percent(row.get("gc_share"))}
        for row in data["rows"]
    ]
    columns = [
        ("client", "client"),
        ("median_rps", "median req/s"),
        ("cpu_us_per_request", "client CPU µs/req"),
        ("gc_collections", "garbage collections per run"),
        ("gc_time", "time in them"),
        ("vs_raw", "vs raw aiohttp"),
        ("spread", "middle half of the rounds"),
        ("vs_raw_gather", "vs raw aiohttp under gather"),
        ("vs_openai_aiohttp", "vs openai (aiohttp)"),
    ]
    intro = (
        f"{data['requests']:,} creates per run, {data['rounds']} interleaved rounds (the order rotates each "
        f"round), {data['concurrency']} in flight, against a minimal aiohttp server in its own process that "
        "answers every POST with a success envelope. Every run is a fresh interpreter of its own, warmed up "
        "with 200 requests there first, so that no client's imports weigh on another's garbage "
        "collections (in one shared process, openai-python's objects made every full collection of every "
        "client's run several times as long). req/s and CPU (the client process's) are medians of "
        "the runs. Raw aiohttp runs before and after every other client's run, and each ratio is the median "
        "over the rounds of a client's req/s against those two neighbouring raw runs (divided by the same "
        "for the other client), which cancels most of the drift of a shared machine's load within seconds. "
        "All figures are `SoraClient()` as it comes unless the row says *tuned*. *raw aiohttp* is 64 "
        "workers in a loop; *raw aiohttp under gather* is the "
        "same requests in the shape `gather` gives (all tasks at once behind a semaphore), the fair floor "
        "for `create_video` under `gather`: thousands of waiting tasks cost the event loop and the garbage "
        "collector whatever library sends the requests (the *garbage collections per run* column: the "
        "median count, every generation; *time in them*: the median share of the run's wall time they "
        "took). Every run starts with glibc's threshold for mapping memory raised (a block of 1 MiB "
        "allocated and freed), the state any process that used TLS is in, so that no client is slowed "
        "by the allocator by chance. The two rows *glibc mapping its 256 KiB reads* pin the threshold at "
        "128 KiB instead, as in a fresh plain-HTTP process: asyncio's socket transport receives each "
        "read into a new 256 KiB bytes object, which glibc then maps, remaps and unmaps, three system "
        "calls per answer for the raw loop; sora_async's connections read 64 KiB at most, so its row "
        "is unchanged. (Without the settling, whether the raw loop pays them depended on the process: "
        "on the hash seed, through what importing modules happened to free.)"
    )
    image = f"\n\n![throughput by client]({chart.relative_to(DOC.parent).as_posix()})" if chart else ""
    return f"## (a) Throughput\n\n{intro}\n\n{table(rows, columns)}{image}"


def _percent(share: float | None) -> str | None:
    return None if share is None else f"{share * 100:.1f}%"


def _ratio_spread(row: dict[str, Any], raw: Sequence[float]) -> str:
    """The interquartile range of the per-round ratios to raw aiohttp: how much to trust the median.

    Runs since the raw loop ran around every client carry their ratios; older ones are paired by round.
    """
    ratios = sorted(
        row.get("round_ratios_vs_raw")
        or [mine / theirs for mine, theirs in zip(row["runs_rps"], raw, strict=True)]
    )
    if len(ratios) < 4:
        return f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
    low, _, high = statistics.quantiles(ratios, n=4)
    return f"{low:.2f}-{high:.2f}"


def resilience_sections(data: dict[str, Any]) -> str:
    limit, faults = data["limit"], data["faults"]
    out = []
    if limit["rows"]:
        ideal = (limit["requests"] - limit["burst"]) / limit["rate"]
        columns = [
            ("client", "client"),
            ("makespan_s", "makespan s"),
            ("makespan_vs_ideal", "vs ideal"),
            ("requests_429", "429s"),
            ("pct_429", "429 % of requests"),
            ("ok", "ok"),
            ("lost", "lost"),
            ("duplicated", "duplicated"),
        ]
        out.append(
            f"## (b) Rate-limited submission\n\nThe mock relay allows {limit['rate']} req/s with burst "
            f"{limit['burst']} (GCRA, exact `Retry-After` rounded up to whole seconds); N = "
            f"{limit['requests']:,} at concurrency {data['concurrency']}, {data['attempts']} attempts per "
            f"submission for every client. Ideal makespan (N - burst) / rate = {ideal:.1f} s.\n\n"
            + table(limit["rows"], columns)
        )
    if faults["rows"]:
        mix = ", ".join(f"{100 * v:g}% {k}" for k, v in faults["faults"].items())
        columns = [
            ("relay", "relay"),
            ("client", "client"),
            ("makespan_s", "makespan s"),
            ("ok", "ok"),
            ("ambiguous", "ambiguous"),
            ("ambiguous_created", "of which created"),
            ("lost", "lost"),
            ("orphaned", "orphaned"),
            ("duplicated", "duplicated"),
        ]
        out.append(
            "## (c) Faults\n\n"
            + (
                f"_Measured {data['faults_finished_at']} (an earlier run than (b))._ "
                if "faults_finished_at" in data
                else ""
            )
            + f"{mix}; N = {faults['requests']:,}, seeded, no rate limit. *ok*: got a task "
            'id. *ambiguous*: ended with "may exist" and the idempotency key to settle it with '
            "(sora_async's `AmbiguousSubmissionError`; *of which created*: how many the relay had in fact "
            "created). *lost*: no task id and nothing to settle it with. *orphaned*: lost ones the relay "
            "created (paid for, never delivered). *duplicated*: tasks created beyond one per submission.\n\n"
            + table(faults["rows"], columns)
        )
    return "\n\n".join(out)


def scale_section(data: dict[str, Any]) -> str:
    columns = [
        ("submissions", "submissions"),
        ("client_limiter", "client limiter"),
        ("ok", "ok"),
        ("wall_s", "wall s"),
        ("rps", "req/s"),
        ("cpu_us_per_request", "client CPU µs/req"),
        ("baseline_rss_mb", "RSS after imports MB"),
        ("peak_rss_mb", "peak RSS MB"),
    ]
    return (
        "## (d) Scale\n\n`submit_many` over a generator of N requests; the mock relay (no limit, "
        "`record_tasks=False`) in one process, the client alone in a fresh interpreter. CPU from "
        "`resource.getrusage`; peak RSS from the client's own `VmHWM` (on Linux `ru_maxrss` survives "
        "`exec`, so a small child would report its parent's size). "
        f'Concurrency {data["concurrency"]}. *client limiter* "default" is what '
        '`SoraClient(rate_limit=None)` builds in this version; "none" switches client-side limiting off.\n\n'
        + table(data["rows"], columns)
    )


def limiter_section(data: dict[str, Any]) -> str:
    columns = [
        ("client", "client"),
        ("configured_rps", "configured req/s"),
        ("requests", "requests"),
        ("span_s", "span s"),
        ("achieved_rps", "achieved req/s"),
        ("error_pct", "error %"),
        ("max_in_any_1s", "busiest 1 s at the relay"),
        ("allowed_in_1s", "burst + rate"),
    ]
    excess = max(row["max_in_any_1s"] - row["allowed_in_1s"] for row in data["rows"])
    seen = (
        f"In this run the relay's busiest second held up to {excess} more than burst + rate."
        if excess > 0
        else "In this run no second at the relay held more than burst + rate."
    )
    return (
        f"## (e) Limiter accuracy\n\n`RateLimit(rate)` (burst 1), {data['duration_s']:g} s per rate, all "
        "rates at once, each against its own unlimited relay. Achieved = (n - 1) / (last arrival - first "
        "arrival), from the relay's own arrival times. The bucket may grant a start up to 5 ms early "
        "(`TIMER_SLACK`, at most half a token), and the way from the client's grant to the relay's clock "
        f"adds its own jitter, so a one-second window at the relay can catch a start more. {seen}\n\n"
        + table(data["rows"], columns)
    )


def loadtest_section(data: dict[str, Any]) -> str:
    stall, relay = data["stall"], data["relay"]
    fast, slow = relay["latency"] * 1000, (relay["latency"] + relay["latency_jitter"]) * 1000
    setup = (
        f"open loop at {data['open']['target_rate']:g} req/s into a relay answering in {fast:.0f}-{slow:.0f} "
        f"ms with {100 * relay['fail_503']:g}% 503s; {stall['at_s']:g} s in, the relay slows to "
        f"{stall['latency_s'] * 1000:.0f} ms for {stall['for_s']:g} s"
    )
    return (
        "## The load-test engine against the mock relay\n\n"
        f"`sora_async.loadtest` (the engine behind `sora-async loadtest`), {setup}. Latency is measured "
        "from each request's intended send time, so the queue that builds up behind the stall is visible "
        "(no coordinated omission), as is the catch-up afterwards.\n\n"
        f"![open-loop load test with a stall]({data['picture'].removeprefix('docs/')})\n\n"
        f"```\n{data['open_table']}\n```\n\nClosed loop against the healthy relay:\n\n"
        f"```\n{data['closed_table']}\n```"
    )


def hostile_section(data: dict[str, Any]) -> str:
    columns = [
        ("answer", "answer"),
        ("sora_async_defaults_rss_mb", "sora_async peak RSS growth MB"),
        ("sora_async_outcome", "sora_async outcome"),
        ("raw_aiohttp_rss_mb", "raw aiohttp peak RSS growth MB"),
        ("raw_outcome", "raw aiohttp outcome"),
    ]
    return (
        "## (h) Hostile answers\n\n"
        "One create against a relay that answers with a 50 MB body, an endless one (for 3 s), JSON "
        "nested 1,000,000 deep, or a 200 KB gzip that inflates to 200 MB (its Content-Length is the "
        "compressed size); each client in a fresh process, peak RSS growth over the create.\n\n"
        + table(data["rows"], columns)
    )


def notes_section(results: dict[str, dict[str, Any]]) -> str:
    """What the tables do not say by themselves: how the peers behave, and why sora_async's rows look so."""
    openai_version = next(iter(results.values()))["machine"]["peers"].get("openai")
    notes = [
        f"openai-python {openai_version or ''} sends no `Idempotency-Key` on `AsyncOpenAI.post()`: its "
        "`_idempotency_header` is None, so the `stainless-python-retry-...` key it makes for every POST "
        "stays in its request options. It retries 408, 409, 429, every 5xx and connection errors - a 500 "
        "or a dropped connection after the relay created the task included - with 0.5-8 s exponential "
        "backoff (minus up to 25% jitter), or the server's `retry-after-ms` / `Retry-After` when it is at "
        "most 120 s. Each request waits on its own: nothing slows the other callers of the same key. In "
        "(c) the benchmark adds the key per call (`options={'headers': {'Idempotency-Key': ...}}`); "
        "without it, openai-python on a relay that honours keys behaves as on the one that ignores them.",
        "aiohttp-retry (a) retries every 5xx of a POST by default (`retry_all_server_errors=True`) and "
        "sends no idempotency key: under the faults of (c) it would pay twice like the rows of the "
        "relay that ignores keys.",
        "The hand-rolled loop uses `AsyncLimiter(50, 1)`: aiolimiter's bucket holds a full second of "
        "tokens, so it opens with a burst of 50 against a relay that allows 5; almost all of its 429s come "
        "from that burst.",
    ]
    notes += _sora_async_notes(results)
    return "## Notes\n\n" + "\n".join(f"- {note}" for note in notes)


def _sora_async_notes(results: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    limit_rows = results.get("resilience", {}).get("limit", {}).get("rows", [])
    exact = next((r for r in limit_rows if "burst=" in r["client"]), None)
    steady = next((r for r in limit_rows if "(burst 1)" in r["client"]), None)
    if exact and exact["requests_429"]:
        also = (
            f" Told `RateLimit(50)` with burst 1 it leaves the relay's burst as headroom: "
            f"{steady['requests_429']} 429s, {steady['makespan_vs_ideal']}x the ideal."
            if steady
            else ""
        )
        notes.append(
            f"sora_async told the exact limit drew {exact['requests_429']} 429(s). Its token bucket lets a "
            "start come up to 5 ms early (`TIMER_SLACK` in `_limits.py`, a quarter token at 50 req/s), "
            "which a relay enforcing the same burst refuses; the relay's `Retry-After` (whole seconds, "
            "rounded up, so 1 s) then pauses every request of the client - that pause is the gap to the "
            f"ideal makespan.{also}"
        )
    fault_rows = {
        r["client"] + "|" + r["relay"]: r
        for r in results.get("resilience", {}).get("faults", {}).get("rows", [])
    }
    default = fault_rows.get("sora_async retry_ambiguous=True|honours key")
    off = fault_rows.get("sora_async retry_ambiguous, adaptive off|honours key")
    if default and off:
        notes.append(
            "In (c) the relay has no limit; the two `retry_ambiguous` rows differ in the client's limiter "
            f"(and the backoff's jitter): {default['makespan_s']} s with the default one, "
            f"{off['makespan_s']} s with client-side limiting off (honouring relay)."
        )
    throughput_rows = {r["client"]: r for r in results.get("throughput", {}).get("rows", [])}
    defaults = throughput_rows.get("sora_async defaults: create_video under gather")
    if defaults:
        notes.append(
            "The first two rows of (a) are `SoraClient()` as it comes (no rate, limiter or retry argument; "
            "`max_concurrency` set like every client's): the adaptive limiter sets no client-side limit "
            f"until the relay first answers 429 ({defaults['vs_raw']}x raw aiohttp, "
            f"{defaults.get('vs_raw_gather')}x raw aiohttp in the same gather shape). Rows marked *tuned* "
            "are not the defaults."
        )
    raw_mapped = throughput_rows.get("raw aiohttp, glibc mapping its 256 KiB reads")
    many = throughput_rows.get("sora_async defaults: submit_many")
    many_mapped = throughput_rows.get("sora_async defaults: submit_many, glibc mapping 256 KiB reads")
    if raw_mapped and many and many_mapped:
        notes.append(
            "In a fresh plain-HTTP process, where glibc still maps asyncio's 256 KiB receive buffers, the "
            f"raw loop ran at {raw_mapped['vs_raw']}x its speed in the settled process, and sora_async's "
            f"`submit_many` at {many_mapped['vs_raw']}x the settled raw loop (its own settled row: "
            f"{many['vs_raw']}x): its 64 KiB reads never reach the threshold."
        )
    return notes


def draw_ratios(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Horizontal bars of each client's throughput relative to raw aiohttp (paired ratios), with req/s."""
    try:
        from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    names = [row["client"] for row in rows][::-1]
    ratios = [row["vs_raw"] for row in rows][::-1]
    rps = [row["median_rps"] for row in rows][::-1]
    fig = Figure(figsize=(8, 0.5 * len(rows) + 1.2), layout="constrained")
    ax = fig.subplots()
    colors = ["tab:blue" if name.startswith("sora_async") else "tab:gray" for name in names]
    bars = ax.barh(names, ratios, color=colors)
    for bar, ratio, rate in zip(bars, ratios, rps, strict=True):
        label = f" {ratio:.2f}x  ({rate:,.0f}/s)"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, label, va="center", fontsize="small")
    ax.axvline(0.95, color="black", linestyle="--", linewidth=1, label="target: 0.95x raw aiohttp")
    ax.set_xlabel("throughput relative to raw aiohttp (median of the per-round ratios)")
    ax.set_xlim(0, max(ratios) * 1.3)
    fig.legend(loc="outside lower center", fontsize="small")
    ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Create throughput: same server, same concurrency, interleaved rounds")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


REPRODUCE = """## How to reproduce

```sh
nox -s bench                      # the whole suite (about 15 minutes on 2 cores), then this page
nox -s bench -- --quick           # smaller runs (about 4 minutes)
nox -s bench -- --only throughput # one section; also: resilience, scale, limiter, loadtest, hostile
python -m benchmarks.report       # rebuild this page from benchmarks/results/*.json
```

Without nox: `pip install -e . openai[aiohttp] aiohttp-retry matplotlib` (the `bench` dependency
group), then `python -m benchmarks`. Each section is also a module with its own `--help`
(`python -m benchmarks.throughput --requests 10000 --rounds 9`). Close other work first: every client
competes for the same cores as the server, and the ratios move with the machine's load."""


def render(results: dict[str, dict[str, Any]]) -> str:
    parts = [
        "# Benchmarks",
        "_Generated by `python -m benchmarks.report` from `benchmarks/results/*.json`; do not edit by hand._",
    ]
    if results:
        parts += [machine_section(results), targets_section(results)]
    builders = {
        "throughput": throughput_section,
        "resilience": resilience_sections,
        "scale": scale_section,
        "limiter": limiter_section,
        "loadtest": loadtest_section,
        "hostile": hostile_section,
    }
    parts += [builders[name](data) for name, data in results.items()]
    if results:
        parts.append(notes_section(results))
    parts.append(REPRODUCE)
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(load(args.results)))
    print(f"wrote {args.out}")
    return Path(args.out)


if __name__ == "__main__":
    main()
