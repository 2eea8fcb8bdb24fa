"""The embedded mock relay behaves like a real Sora relay, and misbehaves exactly as configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import signal
import time
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from sora_async.mock import FAULT_KINDS, MockConfig, MockRelay
from sora_async.mock._faults import FaultPicker
from sora_async.mock._ratelimit import GcraLimiter
from tests.foreground import python_c
from tests.seed_example import SEED_EXAMPLE

CREATE = "/sora/v1/videos"
TASK_ID = re.compile(r"task_[0-9a-hjkmnp-tv-z]{26}")
DISCONNECTED = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)

Answer = tuple[int, dict[str, Any], CIMultiDictProxy[str]]


@contextlib.asynccontextmanager
async def serve(**overrides: Any) -> AsyncIterator[tuple[MockRelay, aiohttp.ClientSession]]:
    """A running relay with the given config overrides, and a session pointed at it."""
    async with MockRelay(**overrides) as relay, aiohttp.ClientSession(base_url=relay.url) as session:
        yield relay, session


async def create(
    session: aiohttp.ClientSession, body: object = None, headers: dict[str, str] | None = None
) -> Answer:
    """POST a create; `body` is JSON-encoded unless it is raw bytes."""
    payload = {"prompt": "a fox in snow"} if body is None else body
    if isinstance(payload, bytes):
        request = session.post(
            CREATE, data=payload, headers={"Content-Type": "application/json", **(headers or {})}
        )
    else:
        request = session.post(CREATE, json=payload, headers=headers)
    async with request as response:
        return response.status, await response.json(), response.headers


async def query(
    session: aiohttp.ClientSession, task_id: str, headers: dict[str, str] | None = None
) -> Answer:
    async with session.get(f"{CREATE}/{task_id}", headers=headers) as response:
        return response.status, await response.json(), response.headers


async def create_id(session: aiohttp.ClientSession, body: object = None, key: str | None = None) -> str:
    """Create a task that must succeed and return its id."""
    status, answer, _ = await create(session, body, {"Idempotency-Key": key} if key else None)
    assert (status, answer["code"]) == (200, "success"), answer
    task_id: str = answer["data"]
    return task_id


async def poll_until_done(session: aiohttp.ClientSession, task_id: str) -> list[dict[str, Any]]:
    """Every task view seen while polling (bounded), up to the final one."""
    views = []
    for _ in range(200):
        status, answer, _ = await query(session, task_id)
        assert status == 200, answer
        views.append(answer["data"])
        if answer["data"]["status"] in ("SUCCESS", "FAILURE"):
            return views
        await asyncio.sleep(0.01)
    raise AssertionError(f"task never finished: {views[-1]}")


# ----------------------------------------------------------------------------------- tasks


async def test_task_progresses_from_not_start_to_success() -> None:
    """A task goes NOT_START → IN_PROGRESS (growing progress) → SUCCESS with one generation per variant."""
    async with serve(queue_time=0.1, run_time=0.2) as (relay, session):
        body = {"prompt": "a fox", "width": 1280, "height": 720, "n_frames": 300, "n_variants": 2}
        views = await poll_until_done(session, await create_id(session, body))
        base_url = relay.url

    statuses = [view["status"] for view in views]
    assert list(dict.fromkeys(statuses)) == ["NOT_START", "IN_PROGRESS", "SUCCESS"]
    first, last = views[0], views[-1]
    assert (first["start_time"], first["finish_time"], first["progress"], first["data"]) == (0, 0, "0%", None)
    running = [int(view["progress"].rstrip("%")) for view in views if view["status"] == "IN_PROGRESS"]
    assert running == sorted(running)
    assert all(0 <= p <= 99 for p in running)
    assert last["progress"] == "100%"
    assert last["fail_reason"] == ""
    assert 0 < last["submit_time"] <= last["start_time"] <= last["finish_time"]
    assert last["action"] == "sora-video"
    generations = last["data"]["generations"]
    assert len(generations) == 2
    assert len({gen["id"] for gen in generations}) == 2
    assert all(gen["id"].startswith("gen_") for gen in generations)
    assert all((gen["width"], gen["height"]) == (1280, 720) for gen in generations)
    assert all(gen["url"].startswith(base_url + "/videos/") for gen in generations)


async def test_video_urls_are_served() -> None:
    """The fake video URL of a finished task answers 200, so demos that download do not break."""
    async with serve(queue_time=0, run_time=0) as (_, session):
        _, answer, _ = await query(session, await create_id(session))
        async with session.get(answer["data"]["data"]["generations"][0]["url"]) as response:
            assert response.status == 200
            assert await response.read()


async def test_task_ids_look_like_relay_ids_and_follow_the_seed() -> None:
    """Ids are `task_` + 26 lowercase base32 characters, reproducible with a seed."""
    async with serve(seed=5) as (_, session):
        first = [await create_id(session) for _ in range(3)]
    async with serve(seed=5) as (_, session):
        second = [await create_id(session) for _ in range(3)]
    assert first == second
    assert len(set(first)) == 3
    assert all(TASK_ID.fullmatch(task_id) for task_id in first)


async def test_fail_marker_in_prompt_ends_in_failure() -> None:
    """A prompt containing "[fail]" always ends in FAILURE with a reason and no result."""
    async with serve(queue_time=0, run_time=0.05) as (_, session):
        views = await poll_until_done(session, await create_id(session, {"prompt": "boom [fail] now"}))
    last = views[-1]
    assert last["status"] == "FAILURE"
    assert "[fail]" in last["fail_reason"]
    assert last["data"] is None
    assert last["finish_time"] > 0


async def test_failure_rate_fails_tasks() -> None:
    """`failure_rate=1` makes every task end in FAILURE."""
    async with serve(queue_time=0, run_time=0, failure_rate=1.0, seed=1) as (_, session):
        _, answer, _ = await query(session, await create_id(session))
    assert answer["data"]["status"] == "FAILURE"
    assert answer["data"]["fail_reason"]


async def test_get_unknown_task_is_task_not_exist() -> None:
    """Querying an id the relay never issued is a 400 `task_not_exist`."""
    async with serve() as (_, session):
        status, answer, _ = await query(session, "task_00000000000000000000000000")
    assert (status, answer["code"], answer["data"]) == (400, "task_not_exist", None)


async def test_unrecorded_tasks_can_be_created_but_not_queried() -> None:
    """With `record_tasks=False` creation still counts, and queries answer `task_not_exist`."""
    async with serve(record_tasks=False) as (relay, session):
        status, answer, _ = await query(session, await create_id(session))
    assert (status, answer["code"]) == (400, "task_not_exist")
    assert (relay.stats.accepted, relay.task_count) == (1, 0)


# ----------------------------------------------------------------------------------- validation

SDEDIT = {"amount": 8, "source_generation_id": "gen_1", "source_upload_media_id": None}


@pytest.mark.parametrize(
    "body",
    [
        SEED_EXAMPLE,
        {"prompt": "x"},
        {"prompt": "x", "width": None, "height": None, "n_variants": None},
        {"inpaint_items": [{"type": "image", "url": "https://example.com/a.png"}]},
        {"sdedit": SDEDIT},
        {"prompt": "x", "unknown_field": 1, "operation": "blend"},
    ],
)
async def test_valid_bodies_are_accepted(body: dict[str, Any]) -> None:
    """Bodies within the contract (the seed's example, minimal ones, nulls, unknown fields) create a task."""
    async with serve() as (relay, session):
        assert TASK_ID.fullmatch(await create_id(session, body))
    assert relay.stats.accepted == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "JSON object"),
        (b"[1, 2]", "JSON object (got list)"),
        ({"prompt": "x", "width": 1280}, "together"),
        ({"prompt": "x", "width": 1000, "height": 720}, "1000x720"),
        ({"prompt": "x", "width": 720, "height": 720.5}, "one of"),
        ({"prompt": "x", "n_frames": 200}, "'n_frames'"),
        ({"prompt": "x", "n_variants": 0}, "'n_variants'"),
        ({"prompt": "x", "n_variants": "2"}, "'n_variants'"),
        ({"prompt": "x", "n_variants": True}, "'n_variants'"),
        ({"prompt": "x", "type": "image_gen"}, "'type'"),
        ({"prompt": "x", "style": "anime"}, "'style'"),
        ({"prompt": "x", "model": "sora-2"}, "'model'"),
        ({"prompt": "x", "operation": "extend"}, "'operation'"),
        ({"prompt": "x", "actions": [{"time": 1}]}, "'actions[0].description'"),
        ({"prompt": "x", "actions": [{"description": "d"}]}, "'actions[0].time'"),
        ({"prompt": "x", "actions": "jump"}, "'actions'"),
        ({"prompt": "x", "actions": [1]}, "'actions[0]' must be an object"),
        ({"prompt": "x", "inpaint_items": "img"}, "'inpaint_items' must be a list"),
        ({"prompt": "x", "inpaint_items": [1]}, "'inpaint_items[0]' must be an object"),
        ({"sdedit": "strong"}, "'sdedit' must be an object"),
        ({"sdedit": {**SDEDIT, "source_upload_media_id": 5}}, "'sdedit.source_upload_media_id'"),
        ({"prompt": "x", "inpaint_items": [{"type": "video"}]}, "'inpaint_items[0].type'"),
        ({"sdedit": {**SDEDIT, "amount": 9}}, "'sdedit.amount'"),
        ({"sdedit": {**SDEDIT, "amount": 0.5}}, "'sdedit.amount'"),
        ({"sdedit": {"amount": 2, "source_upload_media_id": None}}, "'sdedit.source_generation_id'"),
        ({"prompt": 42}, "'prompt'"),
        ({}, "'prompt', 'inpaint_items' or 'sdedit'"),
        ({"prompt": "   ", "inpaint_items": []}, "'prompt', 'inpaint_items' or 'sdedit'"),
    ],
)
async def test_invalid_bodies_are_400_invalid_request(body: object, fragment: str) -> None:
    """A body outside the contract is a 400 `invalid_request` whose message names the problem."""
    async with serve() as (relay, session):
        status, answer, _ = await create(session, body)
    assert (status, answer["code"], answer["data"]) == (400, "invalid_request", None)
    assert fragment in answer["message"]
    assert (relay.stats.invalid, relay.stats.accepted) == (1, 0)


# ----------------------------------------------------------------------------------- auth


async def test_api_key_is_required_when_configured() -> None:
    """With a key set, a missing or wrong bearer token is a 401 that never echoes the key."""
    async with serve(api_key="sk-secret") as (relay, session):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sk-secret"}):
            status, answer, _ = await create(session, None, headers)
            assert (status, answer["code"]) == (401, "invalid_api_key")
            assert "sk-secret" not in str(answer)
        status, answer, _ = await query(session, "task_x")
        assert (status, answer["code"]) == (401, "invalid_api_key")
        status, answer, _ = await create(session, None, {"Authorization": "Bearer sk-secret"})
        assert status == 200
    assert (relay.stats.unauthorized, relay.stats.accepted) == (4, 1)
    assert "sk-secret" not in repr(relay)


async def test_any_key_is_accepted_without_api_key() -> None:
    """Without a configured key, any token (or none) is accepted."""
    async with serve() as (relay, session):
        await create_id(session)
        status, _, _ = await create(session, None, {"Authorization": "Bearer whatever"})
    assert status == 200
    assert relay.stats.accepted == 2


# ----------------------------------------------------------------------------------- rate limit


def test_gcra_wait_is_exact_and_refusals_are_free() -> None:
    """The limiter admits a burst, then reports the exact time to the next slot without spending it."""
    limiter = GcraLimiter(rate=2.0, burst=3)
    assert [limiter.acquire("k", 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k", 10.0) == pytest.approx(0.5)
    assert limiter.acquire("k", 10.2) == pytest.approx(0.3)
    assert limiter.acquire("k", 10.5) == 0.0
    assert limiter.acquire("k", 10.5) == pytest.approx(0.5)
    assert limiter.acquire("other", 10.5) == 0.0


def test_gcra_forgets_idle_keys() -> None:
    """Many one-off keys do not grow the limiter without bound."""
    limiter = GcraLimiter(rate=100.0, burst=1)
    for index in range(5000):
        assert limiter.acquire(f"key-{index}", float(index)) == 0.0
    assert len(limiter._tat) <= 2048


@pytest.mark.parametrize("mode", ["seconds", "ms", "date", "none"])
async def test_rate_limit_answers_429_with_the_configured_wait_hint(mode: str) -> None:
    """Over the limit a create gets 429 `rate_limit_exceeded`, with the wait in the configured form."""
    async with serve(rate=2, burst=1, retry_after=mode) as (relay, session):
        await create_id(session)
        status, answer, headers = await create(session)
    assert (status, answer["code"]) == (429, "rate_limit_exceeded")
    assert (relay.stats.rate_limited, relay.stats.accepted) == (1, 1)
    if mode == "seconds":
        assert headers["Retry-After"] == "1"
    elif mode == "ms":
        assert 400 < int(headers["retry-after-ms"]) <= 500
    elif mode == "date":
        assert 0 < parsedate_to_datetime(headers["Retry-After"]).timestamp() - time.time() <= 1.5
    else:
        assert "Retry-After" not in headers
        assert "retry-after-ms" not in headers


async def test_waiting_the_hinted_time_is_enough_and_429s_cost_nothing() -> None:
    """After a 429, repeated 429s do not push the slot back, and waiting the hint gets exactly one slot."""
    async with serve(rate=10, burst=2, retry_after="ms") as (relay, session):
        await create_id(session)
        await create_id(session)
        status, _, headers = await create(session)
        hint = int(headers["retry-after-ms"])
        assert status == 429
        assert 0 < hint <= 100
        status, _, headers = await create(session)
        assert status == 429
        assert int(headers["retry-after-ms"]) <= hint
        await asyncio.sleep(int(headers["retry-after-ms"]) / 1000)
        await create_id(session)
        status, _, _ = await create(session)
    assert status == 429
    assert (relay.stats.accepted, relay.stats.rate_limited) == (3, 3)


async def test_rate_limit_can_be_changed_while_running() -> None:
    """`configure(rate=...)` replaces the limiter of a running relay; `rate=None` lifts the limit."""
    async with serve() as (relay, session):
        await create_id(session)
        await create_id(session)
        relay.configure(rate=1, burst=1)
        assert [(await create(session))[0] for _ in range(2)] == [200, 429]
        relay.configure(rate=None)
        await create_id(session)


async def test_rate_limit_is_per_bearer_token() -> None:
    """Each token has its own bucket; requests without a token share one."""
    async with serve(rate=1, burst=1) as (_, session):
        statuses = [
            (await create(session, None, headers))[0]
            for headers in (
                {"Authorization": "Bearer a"},
                {"Authorization": "Bearer a"},
                {"Authorization": "Bearer b"},
                {},
                {},
            )
        ]
    assert statuses == [200, 429, 200, 200, 429]


async def test_queries_are_free_unless_limit_queries() -> None:
    """GET does not spend the rate budget by default; with `limit_queries=True` it does."""
    async with serve(rate=1, burst=1) as (relay, session):
        task_id = await create_id(session)
        assert [(await query(session, task_id))[0] for _ in range(5)] == [200] * 5
        relay.configure(limit_queries=True)
        status, answer, _ = await query(session, task_id)
    assert (status, answer["code"]) == (429, "rate_limit_exceeded")


# ----------------------------------------------------------------------------------- idempotency


async def test_repeated_idempotency_key_returns_the_original_task() -> None:
    """With idempotency honoured, a repeated key returns the first task id and creates nothing."""
    async with serve(honour_idempotency=True) as (relay, session):
        first = await create_id(session, key="k1")
        again = await create_id(session, key="k1")
        other = await create_id(session, key="k2")
    assert first == again != other
    stats = relay.stats
    assert (stats.accepted, stats.replayed) == (2, 1)
    assert stats.creations_by_key == {"k1": 1, "k2": 1}
    assert stats.duplicates == {}


async def test_concurrent_repeats_of_a_key_create_one_task() -> None:
    """Concurrent creates with one key, all delayed by latency, still make a single task."""
    async with serve(latency=0.05, honour_idempotency=True) as (relay, session):
        ids = await asyncio.gather(*(create_id(session, key="same") for _ in range(10)))
    assert len(set(ids)) == 1
    assert relay.stats.creations_by_key == {"same": 1}


async def test_ignored_idempotency_key_creates_duplicates_that_are_counted() -> None:
    """By default, as on real relays, every create makes a task, and the counters expose the duplicate."""
    async with serve() as (relay, session):
        first = await create_id(session, key="k1")
        again = await create_id(session, key="k1")
    assert first != again
    assert relay.stats.creations_by_key == {"k1": 2}
    assert relay.stats.duplicates == {"k1": 2}


# ----------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("kind", "answer", "created"),
    [
        ("fail_503", (503, "upstream_busy"), False),
        ("drop_before", None, False),
        ("fail_500_after", (500, "do_request_failed"), True),
        ("drop_after", None, True),
    ],
)
async def test_each_fault_has_its_symptom_and_creation_effect(
    kind: str, answer: tuple[int, str] | None, created: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault answers as configured (or drops the connection); only the *after* faults create the task."""
    async with serve(seed=1, honour_idempotency=True, **{kind: 1.0}) as (relay, session):
        await query(session, "task_warm_up_a_keep_alive_connection")
        if answer is None:
            with pytest.raises(DISCONNECTED):
                await create(session, None, {"Idempotency-Key": "k"})
        else:
            status, body, _ = await create(session, None, {"Idempotency-Key": "k"})
            assert (status, body["code"]) == answer
        stats = relay.stats
        assert stats.faults == {name: int(name == kind) for name in FAULT_KINDS}
        assert stats.accepted == int(created)
        assert stats.creations_by_key == ({"k": 1} if created else {})

        relay.configure(**{kind: 0.0})
        task_id = await create_id(session, key="k")
        status, _, _ = await query(session, task_id)
    assert status == 200
    assert (relay.stats.accepted, relay.stats.replayed) == (1, int(created))
    assert relay.stats.duplicates == {}
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_rate_limited_request_is_not_faulted() -> None:
    """Faults come after the rate limit: a refused request is just a 429, and a faulted one spent a token."""
    async with serve(rate=1, burst=1, fail_503=1.0) as (relay, session):
        assert (await create(session))[0] == 503
        assert (await create(session))[0] == 429
    assert relay.stats.faults["fail_503"] == 1


def test_faults_are_seeded_and_follow_their_fractions() -> None:
    """The same seed gives the same faults; each kind hits about its configured fraction."""
    config = MockConfig(fail_503=0.1, drop_before=0.1, fail_500_after=0.1, drop_after=0.1)
    picker_a, picker_b = FaultPicker(random.Random(9)), FaultPicker(random.Random(9))
    draws = [picker_a.draw(config)[0] for _ in range(4000)]
    assert draws == [picker_b.draw(config)[0] for _ in range(4000)]
    for kind in FAULT_KINDS:
        assert 0.08 < draws.count(kind) / 4000 < 0.12
    assert 0.57 < draws.count(None) / 4000 < 0.63


async def test_latency_delays_creates() -> None:
    """`latency` plus `latency_jitter` delays each create by that many seconds."""
    async with serve(latency=0.1, latency_jitter=0.05, seed=2) as (_, session):
        started = time.monotonic()
        await create_id(session)
        elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 0.5


async def test_faults_spare_queries_unless_fault_queries() -> None:
    """Faults hit only creates by default; with `fault_queries=True` queries get them too."""
    async with serve(latency=0.01) as (relay, session):
        task_id = await create_id(session)
        relay.configure(fail_500_after=1.0)
        assert (await query(session, task_id))[0] == 200
        relay.configure(fault_queries=True)
        status, answer, _ = await query(session, task_id)
        assert (status, answer["code"]) == (500, "get_task_failed")
        relay.configure(fail_500_after=0.0, drop_before=1.0)
        with pytest.raises(DISCONNECTED):
            await query(session, task_id)


# ----------------------------------------------------------------------------------- stats and lifecycle


async def test_stats_record_arrivals_and_reset() -> None:
    """Accepted creates are timestamped (monotonic); `reset_stats` zeroes the counters but keeps tasks."""
    async with serve() as (relay, session):
        before = time.monotonic()
        task_id = await create_id(session)
        await create_id(session)
        after = time.monotonic()
        stats = relay.stats
        assert (stats.requests, stats.create_requests, stats.accepted) == (2, 2, 2)
        assert before <= stats.accepted_times[0] <= stats.accepted_times[1] <= after
        relay.reset_stats()
        assert relay.stats.accepted == 0
        assert len(relay.stats.accepted_times) == 0
        assert (await query(session, task_id))[0] == 200
    assert (relay.stats.requests, relay.stats.query_requests) == (1, 1)


async def test_start_stop_and_restart_on_the_same_port() -> None:
    """`url` exists only while running; a restart keeps the port and the tasks, like a relay outage."""
    relay = MockRelay(queue_time=0)
    with pytest.raises(RuntimeError):
        _ = relay.url
    await relay.start()
    try:
        url = relay.url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        async with aiohttp.ClientSession(base_url=url) as session:
            task_id = await create_id(session)
        await relay.stop()
        with pytest.raises(RuntimeError):
            _ = relay.url
        await relay.start()
        assert relay.url == url
        async with aiohttp.ClientSession(base_url=url) as session:
            assert (await query(session, task_id))[0] == 200
    finally:
        await relay.stop()
        await relay.stop()


async def test_start_twice_or_on_a_busy_port_fails_cleanly() -> None:
    """Starting a running relay, or one whose port is taken, raises and leaves nothing running."""
    async with MockRelay() as running:
        with pytest.raises(RuntimeError, match="already running"):
            await running.start()
        port = int(running.url.rsplit(":", 1)[1])
        clash = MockRelay(port=port)
        with pytest.raises(OSError, match="address already in use"):
            await clash.start()
        with pytest.raises(RuntimeError):
            _ = clash.url


def test_config_rejects_impossible_values() -> None:
    """Config errors name the field and the value; the API key never appears in a repr."""
    with pytest.raises(ValueError, match=r"'burst' must be a number >= 1 \(got 0\)"):
        MockConfig(burst=0)
    with pytest.raises(ValueError, match="must be <= 1"):
        MockConfig(fail_503=0.6, drop_after=0.6)
    with pytest.raises(ValueError, match="'retry_after'"):
        MockConfig(retry_after="minutes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'rate'"):
        MockConfig(rate=0)
    with pytest.raises(ValueError, match="'queue_time'"):
        MockConfig(queue_time="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'failure_rate'"):
        MockConfig(failure_rate=1.5)
    with pytest.raises(TypeError):
        MockRelay(no_such_knob=1)
    assert "sk-hidden" not in repr(MockConfig(api_key="sk-hidden"))
    assert MockRelay(MockConfig(rate=5), burst=3).config == MockConfig(rate=5, burst=3)


async def test_run_mock_server_prints_its_url_and_stops_on_ctrl_c() -> None:
    """The blocking CLI entry prints one line with the URL, serves, and exits cleanly on SIGINT."""
    code = "from sora_async.mock import MockConfig, run_mock_server; run_mock_server(MockConfig(), port=0)"
    process = await asyncio.create_subprocess_exec(
        *python_c(code), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=15)).decode()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        async with aiohttp.ClientSession(base_url=match.group()) as session:
            assert (await query(session, "task_unknown"))[0] == 400
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out == b""


def test_defaults_are_no_kinder_than_real_relays() -> None:
    """No relay honours Idempotency-Key or sends Retry-After on a 429: neither does the default mock."""
    config = MockConfig()
    assert (config.honour_idempotency, config.retry_after) == (False, "none")
