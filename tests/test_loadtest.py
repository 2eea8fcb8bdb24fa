"""The load-test engine against the in-process mock relay: schedules, latency origin, outcomes, reports."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import sora_async as sa
import sora_async.loadtest
from sora_async._serde import converter
from sora_async.loadtest import (
    OUTCOMES,
    LatencySummary,
    LoadTest,
    LoadTestOptions,
    LoadTestReport,
    LoadTestSnapshot,
    classify_outcome,
    plot,
    require_plotting,
    run_load_test,
)
from sora_async.mock import MockRelay

REQ = sa.VideoRequest(prompt="a fox in snow", size="1280x720", duration=10)
NO_LIMIT = sa.RateLimit(100_000, burst=1_000)
"""A limit that never binds: the client sends as fast as its concurrency allows (no adaptive slow start)."""
QUICK_RETRY = sa.RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.005, max_retry_after=0.05)


@contextlib.asynccontextmanager
async def relay_and_client(
    *, max_concurrency: int = 32, retry: sa.RetryPolicy = QUICK_RETRY, **relay: Any
) -> AsyncIterator[tuple[MockRelay, sa.SoraClient]]:
    """A mock relay configured by ``relay`` and a client pointed at it, both closed afterwards."""
    async with MockRelay(record_tasks=False, seed=1, **relay) as server:
        client = sa.SoraClient(
            "sk-load", base_url=server.url, max_concurrency=max_concurrency, retry=retry, rate_limit=NO_LIMIT
        )
        async with client:
            yield server, client


def options(**overrides: Any) -> LoadTestOptions:
    values: dict[str, Any] = {"mode": "open", "rate": 50.0, "request": REQ, **overrides}
    return LoadTestOptions(**values)


# --- options -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"duration": 1}, "rate"),
        ({"mode": "closed", "rate": 5.0, "duration": 1}, "rate"),
        ({"rate": 5.0}, "duration/requests"),
        ({"mode": "sideways", "duration": 1}, "mode"),
        ({"rate": 0, "duration": 1}, "rate"),
        ({"rate": 5.0, "requests": 0}, "requests"),
        ({"rate": 5.0, "duration": 1, "warmup": -1}, "warmup"),
        ({"mode": "closed", "concurrency": 0, "duration": 1}, "concurrency"),
    ],
)
def test_options_reject_unbounded_or_mismatched_settings(overrides: dict[str, Any], field: str) -> None:
    """Each mode needs its own knob, the run needs a bound, and the error names the field."""
    values: dict[str, Any] = {"mode": "open", "request": REQ, **overrides}
    with pytest.raises(sa.ValidationError) as info:
        LoadTestOptions(**values)
    assert info.value.field == field


def test_options_require_a_video_request() -> None:
    """A plain dict is not accepted as the request to send."""
    with pytest.raises(sa.ValidationError, match="'request' must be a VideoRequest"):
        LoadTestOptions(mode="open", rate=1, duration=1, request={"prompt": "x"})  # type: ignore[arg-type]


# --- percentiles and outcome classes -----------------------------------------------------------------


def test_latency_summary_is_exact_nearest_rank() -> None:
    """Percentiles come from the sorted samples themselves, not from an estimate."""
    summary = LatencySummary.of([float(v) for v in range(1000, 0, -1)])
    assert (summary.min, summary.p50, summary.p90, summary.p99, summary.p999, summary.max) == (
        1,
        500,
        900,
        990,
        999,
        1000,
    )
    assert summary.mean == 500.5
    assert LatencySummary.of([]).count == 0


def test_outcome_classes_cover_every_failure_kind() -> None:
    """Each exception lands in the class the report promises."""

    def status(cls: type[sa.APIStatusError], code: int) -> sa.APIStatusError:
        return cls(status_code=code, code=None, message="")

    cases: list[tuple[BaseException | None, str]] = [
        (None, "ok"),
        (status(sa.RateLimitError, 429), "rate_limited"),
        (status(sa.ServerError, 503), "server_error"),
        (sa.AmbiguousSubmissionError("k", RuntimeError("x")), "ambiguous"),
        (sa.APITimeoutError("slow", request_sent=False), "timeout"),
        (asyncio.TimeoutError(), "timeout"),
        (sa.APIConnectionError("refused", request_sent=False), "connection"),
        (status(sa.BadRequestError, 400), "other"),
    ]
    assert [classify_outcome(exc) for exc, _ in cases] == [name for _, name in cases]


def test_ambiguous_is_the_errors_own_verdict() -> None:
    """A 502 the client judged ambiguous (it may have made a task) is 'ambiguous', not 'server_error';
    the same 502 judged retryable (a query, say) stays a server error."""

    def bad_gateway(verdict: sa.Verdict) -> sa.ServerError:
        return sa.ServerError(status_code=502, code=None, message="bad gateway", verdict=verdict)

    assert classify_outcome(bad_gateway(sa.Verdict.AMBIGUOUS)) == "ambiguous"
    assert classify_outcome(bad_gateway(sa.Verdict.RETRY)) == "server_error"


# --- open loop ---------------------------------------------------------------------------------------


async def test_open_loop_sends_rate_times_duration_on_schedule() -> None:
    """At 50/s for 1 s the schedule has exactly 50 arrivals, and they all succeed about on time."""
    async with relay_and_client() as (relay, client):
        report = await run_load_test(client, options(rate=50, duration=1.0))
    assert report.sent == 50 == report.ok == relay.stats.accepted
    assert report.complete
    assert 40 < report.throughput <= 55
    assert report.send_delay.p99 < 0.05
    assert report.retries == 0 and report.dropped == 0


async def test_open_loop_latency_includes_server_latency() -> None:
    """A relay that takes 80 ms per create gives a p50 of at least 80 ms."""
    async with relay_and_client(latency=0.08) as (_, client):
        report = await run_load_test(client, options(rate=40, duration=0.5))
    assert report.ok == 20
    assert 0.08 <= report.latency.p50 < 0.3


async def test_open_loop_has_no_coordinated_omission() -> None:
    """A stalled server shows as latency growing from the intended send time, not as fewer samples.

    The relay takes 0.1 s and the client sends one at a time: 10/s of capacity against 40/s of
    arrivals, so the 20th request waits for the 19 before it.
    """
    async with relay_and_client(latency=0.1, max_concurrency=1) as (_, client):
        report = await run_load_test(client, options(rate=40, requests=20))
    assert report.ok == 20
    assert report.send_delay.max < 0.25  # every request was handed to the client on time...
    assert report.latency.max > 1.5  # ...and the last waited behind the 19 before it
    assert report.latency.p90 > 10 * 0.1
    ordered = sorted(zip(report.samples.intended, report.samples.end, strict=True))
    first, last = ordered[0], ordered[-1]
    assert last[1] - last[0] > 10 * (first[1] - first[0])


async def test_open_loop_drops_arrivals_over_the_outstanding_cap() -> None:
    """Arrivals beyond max_outstanding are counted as dropped and never sent."""
    async with relay_and_client(latency=0.3) as (relay, client):
        report = await run_load_test(client, options(rate=100, requests=10, max_outstanding=2))
    assert (report.sent, report.dropped, report.ok) == (2, 8, 2)
    assert relay.stats.accepted == 2
    assert "dropped" in report.render_table()


async def test_drain_timeout_cuts_off_stragglers_as_unfinished() -> None:
    """Requests still in flight drain_timeout after the last send are cancelled and counted."""
    async with relay_and_client(latency=5.0) as (_, client):
        started = asyncio.get_running_loop().time()
        report = await run_load_test(client, options(rate=100, requests=3, drain_timeout=0.1))
        took = asyncio.get_running_loop().time() - started
    assert took < 1.0
    assert report.outcomes["unfinished"] == 3 and report.errors == 0
    assert report.complete and report.latency.count == 0


async def test_warmup_is_sent_but_left_out_of_the_report() -> None:
    """Warm-up requests reach the relay and the live view, not the report."""
    ticks: list[LoadTestSnapshot] = []
    async with relay_and_client() as (relay, client):
        test = LoadTest(client, options(rate=50, duration=0.4, warmup=0.2), on_tick=ticks.append)
        report = await test.run()
    assert relay.stats.accepted == 30
    assert report.sent == 20 == report.ok
    assert ticks[-1].sent == 30 and not ticks[-1].warming_up
    assert min(report.samples.intended) >= 0


# --- closed loop -------------------------------------------------------------------------------------


async def test_closed_loop_keeps_concurrency_workers_busy() -> None:
    """N workers back to back: about N / latency per second, latency from the actual start."""
    async with relay_and_client(latency=0.02) as (_, client):
        report = await run_load_test(client, options(mode="closed", rate=None, concurrency=4, duration=0.5))
    assert 40 <= report.sent <= 104
    assert report.ok == report.sent
    assert report.concurrency == 4 and report.target_rate is None
    assert 0.02 <= report.latency.p50 < 0.1
    assert report.send_delay.max == 0.0  # closed loop: intended and actual start are the same
    assert "closed loop, 4 workers" in report.render_table()


async def test_closed_loop_stops_at_the_request_count() -> None:
    """A request bound without a duration sends exactly that many."""
    async with relay_and_client() as (relay, client):
        report = await run_load_test(client, options(mode="closed", rate=None, concurrency=3, requests=31))
    assert report.sent == 31 == relay.stats.accepted


async def test_closed_loop_surfaces_a_client_that_cannot_send() -> None:
    """A closed client fails the run at once instead of recording a million 'other' outcomes."""
    async with relay_and_client() as (_, client):
        await client.aclose()
        with pytest.raises(sa.ConfigurationError):
            await run_load_test(client, options(mode="closed", rate=None, concurrency=2, duration=5))


# --- errors every request would share -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_a_rejected_key_stops_the_run_with_its_error(mode: str) -> None:
    """Every request would get the same 401: the run stops at the first, raising it, not after 30 s."""
    loop: dict[str, Any] = {"rate": 100.0} if mode == "open" else {"rate": None, "concurrency": 4}
    async with relay_and_client(api_key="sk-the-relays-own-key", latency=0.05) as (relay, client):
        test = LoadTest(client, options(mode=mode, duration=30, **loop))
        with pytest.raises(sa.AuthenticationError):
            await asyncio.wait_for(test.run(), timeout=5)
        assert client.on_retry is None  # the hook is put back on this way out too
    report = test.report()
    assert not report.complete
    assert report.outcomes["other"] >= 1
    assert report.ok == 0 and report.sent < 30
    assert report.outcomes["other"] + report.outcomes["unfinished"] == report.sent
    assert relay.stats.unauthorized < 30


# --- outcomes under faults ---------------------------------------------------------------------------


async def test_503s_without_retries_are_server_errors() -> None:
    """fail_503 with max_attempts=1: every request is a server error after one attempt."""
    async with relay_and_client(fail_503=1.0, retry=sa.RetryPolicy.none()) as (_, client):
        report = await run_load_test(client, options(rate=100, requests=10))
    assert report.outcomes["server_error"] == 10 == report.errors
    assert report.retries == 0 and report.ok == 0


async def test_failures_after_acceptance_are_ambiguous() -> None:
    """A 500 after the task was created is reported as ambiguous, not as a plain error."""
    async with relay_and_client(fail_500_after=1.0) as (_, client):
        report = await run_load_test(client, options(rate=100, requests=5))
    assert report.outcomes["ambiguous"] == 5


async def test_rate_limited_relay_counts_429s_final_and_retried() -> None:
    """429s that end a request are outcomes; 429s that were retried come from the retry hook."""
    async with relay_and_client(rate=2, burst=1, retry_after="ms") as (_, client):
        report = await run_load_test(client, options(rate=100, requests=6))
    assert report.ok >= 1
    assert report.outcomes["rate_limited"] == 6 - report.ok
    assert report.retries > 0
    assert report.rate_limited_answers == report.retries + report.outcomes["rate_limited"]


async def test_the_clients_own_retry_hook_still_fires_and_is_restored() -> None:
    """The load test chains onto the client's on_retry (through a view) and leaves the client as it was."""
    seen: list[sa.RetryEvent] = []
    async with relay_and_client(fail_503=0.5) as (_, plain):
        client = plain.with_options(on_retry=seen.append)
        report = await run_load_test(client, options(rate=100, requests=10))
        assert client.on_retry == seen.append
    assert len(seen) == report.retries > 0


# --- cancellation, live view, output -----------------------------------------------------------------


async def test_cancelled_run_leaves_a_partial_report() -> None:
    """Cancelling run() (Ctrl-C) keeps what was measured; in-flight requests count as unfinished."""
    async with relay_and_client(latency=0.25) as (_, client):
        test = LoadTest(client, options(rate=20, duration=30))
        task = asyncio.ensure_future(test.run())
        await asyncio.sleep(0.6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.on_retry is None
    report = test.report()
    assert not report.complete
    assert 8 <= report.sent <= 16
    assert report.ok >= 5 and report.outcomes["unfinished"] >= 3
    assert report.ok + report.outcomes["unfinished"] == report.sent


async def test_a_load_test_runs_once() -> None:
    """run() twice is a mistake; a new LoadTest is needed."""
    async with relay_and_client() as (_, client):
        test = LoadTest(client, options(requests=1))
        await test.run()
        with pytest.raises(RuntimeError, match="runs once"):
            await test.run()


async def test_on_tick_gets_live_snapshots() -> None:
    """on_tick is called every tick_interval with counts, and once more at the end."""
    ticks: list[LoadTestSnapshot] = []
    async with relay_and_client(latency=0.05) as (_, client):
        await run_load_test(client, options(rate=50, duration=0.5, tick_interval=0.1), on_tick=ticks.append)
    assert len(ticks) >= 4
    assert any(t.in_flight > 0 for t in ticks) and any(t.rate > 0 for t in ticks)
    final = ticks[-1]
    assert final.sent == final.done == final.ok == 25 and final.in_flight == 0


async def test_a_failing_on_tick_is_logged_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """A broken live display does not stop the measurement."""

    def broken(_: LoadTestSnapshot) -> None:
        raise RuntimeError("display broke")

    async with relay_and_client() as (_, client):
        report = await run_load_test(
            client, options(rate=50, duration=0.3, tick_interval=0.05), on_tick=broken
        )
    assert report.ok == 15 and report.complete
    assert "on_tick callback failed" in caplog.text


async def test_open_loop_behind_schedule_still_lets_requests_finish() -> None:
    """Arrivals far faster than the loop can start them are dropped over the cap, not spun through."""
    async with relay_and_client() as (_, client):
        report = await run_load_test(client, options(rate=1e6, requests=5_000, max_outstanding=20))
    assert report.dropped > 0
    assert report.ok >= 40  # the in-flight requests got the loop between arrivals
    assert report.ok + report.dropped == 5_000


async def report_with_errors() -> LoadTestReport:
    async with relay_and_client(fail_503=0.3, retry=sa.RetryPolicy.none(), latency=0.01) as (_, client):
        return await run_load_test(client, options(rate=100, duration=1.2))


async def test_report_serialises_to_json_and_renders_a_table() -> None:
    """to_dict() goes through json.dumps (samples too); the table names throughput, outcomes, latency."""
    report = await report_with_errors()
    data = json.loads(json.dumps(report.to_dict(include_samples=True)))
    assert data["sent"] == 120 == len(data["samples"]["end"])
    assert set(data["outcomes"]) == set(OUTCOMES)
    assert data["latency_ms"]["p50"] >= 10
    assert "samples" not in report.to_dict()
    table = report.render_table()
    for text in (
        "open loop at 100 req/s",
        "throughput",
        "server_error",
        "p99.9",
        "latency (ok)",
        "send delay",
    ):
        assert text in table


async def test_plot_writes_a_png(tmp_path: Path) -> None:
    """plot() draws latency and throughput over time into a PNG (skipped without matplotlib)."""
    pytest.importorskip("matplotlib")
    report = await report_with_errors()
    out = plot(report, tmp_path / "load.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


async def unsent_report() -> LoadTestReport:
    """The report of a load test that never ran: every count zero (no relay needed)."""
    async with sa.SoraClient("sk-load", base_url="http://127.0.0.1:9") as client:
        return LoadTest(client, options(duration=1)).report()


async def test_plot_and_require_plotting_name_the_extra_without_matplotlib(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without matplotlib, both fail at once with an ImportError that says how to get it."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ImportError, match=re.escape("pip install 'sora-async[plot]'")):
        require_plotting()
    report = await unsent_report()
    with pytest.raises(ImportError, match=r"\[plot\]"):
        plot(report, tmp_path / "load.png")
    assert not (tmp_path / "load.png").exists()


async def test_the_json_view_goes_through_the_one_converter() -> None:
    """to_dict() is the shared cattrs converter's view of the report, latencies in milliseconds."""
    report = await unsent_report()
    assert report.to_dict() == converter.unstructure(report)
    assert converter.unstructure(report.latency) == report.latency.to_ms()
    assert set(report.to_dict()) >= {"span_s", "ok", "errors", "throughput_ok_per_s", "latency_ms"}


# --- secrets ---------------------------------------------------------------------------------------

ECHOED_KEY = "sk-loadtest-echo-0123456789abcdef"


def echoing_answer(index: int, key: str) -> web.Response:
    """Error answers of every class a relay can send, each carrying the key it was sent."""
    echo = {"x-echo-authorization": f"Bearer {key}"}
    message = {"code": "invalid_request", "message": f"bad request for key {key}", "data": None}
    answers = [
        web.json_response(message, status=400, headers=echo),
        web.json_response({**message, "code": "rate_limit_exceeded"}, status=429, headers=echo),
        web.json_response({**message, "code": "upstream_error"}, status=503, headers=echo),
        web.json_response({**message, "code": "upstream_error"}, status=500, headers=echo),
        web.Response(status=200, text=f'{{"code": "success", "data": {{"key": "{key}"', headers=echo),
    ]
    return answers[index % len(answers)]


@contextlib.asynccontextmanager
async def echoing_relay() -> AsyncIterator[tuple[str, list[str]]]:
    """A relay on 127.0.0.1 that puts the caller's key into every answer (body, message, header)."""
    echoed: list[str] = []

    async def create(request: web.Request) -> web.Response:
        key = request.headers["Authorization"].removeprefix("Bearer ")
        echoed.append(key)
        return echoing_answer(len(echoed), key)

    app = web.Application()
    app.router.add_post("/sora/v1/videos", create)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", echoed
    finally:
        await runner.cleanup()


def key_runs(key: str, length: int = 8) -> set[str]:
    """Every run of ``length`` consecutive characters of the key."""
    return {key[i : i + length] for i in range(len(key) - length + 1)}


async def test_the_report_never_holds_the_key_a_relay_echoes(caplog: pytest.LogCaptureFixture) -> None:
    """Whatever the relay sends back, no part of the report (table, JSON, samples, repr) holds the key."""
    caplog.set_level("DEBUG", logger="sora_async")
    ticks: list[LoadTestSnapshot] = []
    async with (
        echoing_relay() as (url, echoed),
        sa.SoraClient(ECHOED_KEY, base_url=url, retry=sa.RetryPolicy.none(), rate_limit=NO_LIMIT) as client,
    ):
        test = LoadTest(client, options(rate=200, requests=40, tick_interval=0.05), on_tick=ticks.append)
        report = await test.run()
    assert echoed and set(echoed) == {ECHOED_KEY}  # the premise: the relay did send the key back
    assert report.errors == 40 and report.ok == 0
    seen = {name for name, count in report.outcomes.items() if count}
    assert seen >= {"other", "rate_limited", "server_error", "ambiguous"}
    texts = [
        report.render_table(),
        json.dumps(report.to_dict(include_samples=True)),
        repr(report),
        repr(test.report()),
        *map(repr, ticks),
        caplog.text,
    ]
    for text in texts:
        assert not any(run in text for run in key_runs(ECHOED_KEY)), text[:200]


# --- the public surface --------------------------------------------------------------------------------

PUBLIC = sora_async.loadtest.__all__
CALLABLES = [n for n in PUBLIC if callable(getattr(sora_async.loadtest, n)) and n != "Mode"]


@pytest.mark.parametrize("name", CALLABLES)
def test_every_public_callable_has_a_docstring_with_an_example(name: str) -> None:
    """Each class and function of sora_async.loadtest says what it is and shows itself in use."""
    doc = inspect.getdoc(getattr(sora_async.loadtest, name)) or ""
    assert doc.strip(), f"sora_async.loadtest.{name} has no docstring"
    assert ">>>" in doc, f"sora_async.loadtest.{name}'s docstring has no example"


@pytest.mark.parametrize(
    "name", [n for n in CALLABLES if inspect.isfunction(getattr(sora_async.loadtest, n))]
)
def test_every_public_function_documents_its_parameters(name: str) -> None:
    """A function with parameters has an ``Args:`` section naming each of them (the API reference)."""
    function = getattr(sora_async.loadtest, name)
    parameters = list(inspect.signature(function).parameters)
    doc = inspect.getdoc(function) or ""
    if parameters:
        assert "Args:" in doc, name
        for parameter in parameters:
            assert re.search(rf"^\s+{parameter}:", doc, re.MULTILINE), f"{name}: {parameter}"


def test_the_api_reference_lists_every_loadtest_name() -> None:
    """docs/reference/api.md has one ``::: sora_async.loadtest.NAME`` block for each public name."""
    api = Path(__file__).resolve().parent.parent / "docs" / "reference" / "api.md"
    listed = re.findall(r"^::: sora_async\.loadtest\.(\w+)$", api.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(listed) == sorted(PUBLIC)
