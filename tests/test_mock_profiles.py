"""The mock relay's profiles behave like their relay families (docs/relays.md), over real HTTP.

Each test runs a real `MockRelay` on 127.0.0.1 and speaks raw HTTP to it, so what is checked is what
a client will meet: the routes, the answers' shapes, statuses and URL places, the errors and 429s, and
the content route's byte serving. The answers are also read back through the SDK's dialects, which
ties the two halves of docs/relays.md together.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sora_async import TaskStatus
from sora_async._dialects import get_dialect
from sora_async.mock import MockConfig, MockRelay
from sora_async.mock._content import VIDEO_MAGIC, parse_range, video_body

KEY = "sk-profile-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROFILES = ["sora", "new-api", "openai"]
FINAL = {"SUCCESS", "FAILURE", "completed", "failed"}


@contextlib.asynccontextmanager
async def serve(profile: str, **overrides: Any) -> AsyncIterator[tuple[MockRelay, aiohttp.ClientSession]]:
    """A running relay of `profile` that wants `KEY`, and a session sending it."""
    overrides.setdefault("api_key", KEY)
    async with (
        MockRelay(profile=profile, **overrides) as relay,
        aiohttp.ClientSession(base_url=relay.url, headers=AUTH) as session,
    ):
        yield relay, session


def paths(profile: str) -> tuple[str, str]:
    dialect = get_dialect(profile)
    return dialect.create.path, dialect.get_task.path


async def post(session: aiohttp.ClientSession, path: str, body: object, **kw: Any) -> tuple[int, Any, Any]:
    async with session.post(path, json=body, **kw) as response:
        text = await response.read()
        data = (
            await response.json(content_type=None) if text and response.content_type != "text/html" else text
        )
        return response.status, data, response.headers


async def get(session: aiohttp.ClientSession, path: str, **kw: Any) -> tuple[int, Any, Any]:
    async with session.get(path, **kw) as response:
        text = await response.read()
        data = await response.json(content_type=None) if response.content_type == "application/json" else text
        return response.status, data, response.headers


async def create(session: aiohttp.ClientSession, profile: str, body: object = None, **kw: Any) -> str:
    """Create a task on the profile's route and read its id the SDK's way."""
    status, answer, _ = await post(session, paths(profile)[0], body or {"prompt": "a fox"}, **kw)
    assert status == 200, answer
    task_id = get_dialect(profile).task_id_from_create(answer)
    assert task_id is not None, answer
    return task_id


async def query(session: aiohttp.ClientSession, profile: str, task_id: str) -> Any:
    status, answer, _ = await get(session, paths(profile)[1].replace("{task_id}", task_id))
    assert status == 200, answer
    return answer


def state(profile: str, answer: Any) -> Any:
    """The task object of a query answer: the envelope's data, or the bare video object."""
    return answer if profile == "openai" else answer["data"]


async def finished(session: aiohttp.ClientSession, profile: str, task_id: str) -> list[Any]:
    """Every answer while polling (bounded), up to the final one."""
    seen = []
    for _ in range(300):
        answer = await query(session, profile, task_id)
        seen.append(answer)
        if state(profile, answer)["status"] in FINAL:
            return seen
        await asyncio.sleep(0.005)
    raise AssertionError(f"never finished: {seen[-1]}")


# --- routes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_each_profile_serves_its_routes(profile: str) -> None:
    """Create and query work on the family's own paths."""
    async with serve(profile, queue_time=0, run_time=0) as (relay, session):
        task_id = await create(session, profile)
        answer = await query(session, profile, task_id)
    assert state(profile, answer)["status"] in FINAL
    assert relay.stats.accepted == 1


@pytest.mark.parametrize("profile", ["new-api", "openai"])
async def test_seed_path_on_new_api_is_the_dashboard(profile: str) -> None:
    """new-api answers a path it does not serve (here the seed's) with its HTML dashboard and HTTP 200."""
    async with serve(profile) as (relay, session):
        status, body, headers = await post(session, "/sora/v1/videos", {"prompt": "a fox"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body.startswith(b"<!doctype html>")
    assert (relay.stats.accepted, relay.stats.unknown_paths) == (0, 1)


@pytest.mark.parametrize("profile", ["new-api", "openai"])
async def test_unknown_v1_path_is_an_invalid_url_404(profile: str) -> None:
    """Under /v1 (a doubled version path, say) new-api answers 404 `Invalid URL` in OpenAI style."""
    async with serve(profile) as (relay, session):
        status, body, _ = await post(session, "/v1/v1/videos", {"prompt": "a fox"})
    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"
    assert "Invalid URL (POST /v1/v1/videos)" in body["error"]["message"]
    assert relay.stats.accepted == 0


async def test_sora_profile_unknown_path_is_html_too() -> None:
    """Hosted seed relays run the same gateway: an unknown path is a 200 HTML page, not a 404."""
    async with serve("sora") as (_, session):
        status, body, headers = await get(session, "/v1/videos/task_x")
    assert (status, headers["Content-Type"].split(";")[0]) == (200, "text/html")
    assert b"<html" in body


async def test_new_api_serves_the_openai_routes_over_the_same_tasks() -> None:
    """new-api serves /v1/videos beside /v1/video/generations: one task, two shapes of answer."""
    async with serve("new-api", queue_time=0, run_time=0) as (relay, session):
        task_id = await create(session, "new-api")
        status, video, _ = await get(session, f"/v1/videos/{task_id}")
        _, created, _ = await post(session, "/v1/videos", {"prompt": "x"})
        _, envelope, _ = await get(session, f"/v1/video/generations/{created['id']}")
    assert (status, video["id"], video["object"], video["status"]) == (200, task_id, "video", "completed")
    assert created["task_id"] == created["id"]  # new-api keeps the old field on this route too
    assert envelope["data"]["task_id"] == created["id"]
    assert relay.stats.accepted == 2


# --- create answers -----------------------------------------------------------------------------


async def test_create_answers_per_profile() -> None:
    """sora: envelope; new-api: video object with `id` and `task_id`; openai: video object with `id` only."""
    shapes = {}
    for profile in PROFILES:
        async with serve(profile) as (_, session):
            model = "turbo" if profile == "sora" else "sora-2"
            _, shapes[profile], _ = await post(session, paths(profile)[0], {"prompt": "x", "model": model})
    assert shapes["sora"]["code"] == "success" and shapes["sora"]["data"].startswith("task_")
    video = shapes["new-api"]
    assert (video["object"], video["status"], video["progress"], video["model"]) == (
        "video",
        "queued",
        0,
        "sora-2",
    )
    assert video["id"] == video["task_id"]
    assert video["created_at"] > 1_600_000_000
    assert "task_id" not in shapes["openai"] and shapes["openai"]["object"] == "video"


@pytest.mark.parametrize(("shape", "key"), [("envelope", "data"), ("task_id", "task_id"), ("video", "id")])
async def test_create_answer_can_be_chosen(shape: str, key: str) -> None:
    """`create_answer` overrides the profile's shape; the SDK reads the id from each."""
    async with serve("new-api", create_answer=shape) as (_, session):
        _, answer, _ = await post(session, "/v1/video/generations", {"prompt": "x"})
    assert get_dialect("new-api").task_id_from_create(answer) == answer[key]


# --- task answers: statuses -----------------------------------------------------------------------


async def test_new_api_walks_through_submitted_and_queued() -> None:
    """new-api's upper-case words in order, progress a "NN%" string, a TaskDto with its extra fields."""
    async with serve("new-api", queue_time=0.45, run_time=0.1) as (_, session):
        seen = await finished(
            session, "new-api", await create(session, "new-api", {"prompt": "x", "model": "m"})
        )
    words = list(dict.fromkeys(a["data"]["status"] for a in seen))
    assert words == ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"]
    last = seen[-1]["data"]
    assert (last["progress"], last["platform"], last["properties"]["origin_model_name"]) == (
        "100%",
        "55",
        "m",
    )
    assert {"id", "created_at", "updated_at", "user_id", "group", "channel_id", "quota"} <= last.keys()
    progress = {a["data"]["status"]: a["data"]["progress"] for a in seen}
    assert (progress["SUBMITTED"], progress["QUEUED"]) == ("10%", "20%")


async def test_openai_profile_uses_lower_case_words_and_int_progress() -> None:
    """The bare video object: queued → in_progress → completed, `progress` an int."""
    async with serve("openai", queue_time=0.05, run_time=0.1) as (_, session):
        seen = await finished(session, "openai", await create(session, "openai"))
    words = list(dict.fromkeys(a["status"] for a in seen))
    assert words == ["queued", "in_progress", "completed"]
    assert all(isinstance(a["progress"], int) and a["object"] == "video" for a in seen)
    assert seen[-1]["progress"] == 100


@pytest.mark.parametrize("profile", PROFILES)
async def test_every_status_the_profile_sends_is_known_to_the_sdk(profile: str) -> None:
    """No word a profile sends parses as UNKNOWN, and the final one is SUCCESS."""
    async with serve(profile, queue_time=0.1, run_time=0.05) as (_, session):
        seen = await finished(session, profile, await create(session, profile))
    tasks = [get_dialect(profile).parse_task("t", a) for a in seen]
    assert TaskStatus.UNKNOWN not in {t.status for t in tasks}
    assert tasks[-1].status is TaskStatus.SUCCESS


@pytest.mark.parametrize("profile", PROFILES)
async def test_failures_per_profile(profile: str) -> None:
    """A failed task says why in its family's field, and the SDK reads the reason and no URL."""
    async with serve(profile, queue_time=0, run_time=0) as (relay, session):
        answer = await query(session, profile, await create(session, profile, {"prompt": "x [fail]"}))
        task = get_dialect(profile).parse_task("t", answer, base_url=relay.url)
    assert task.status is TaskStatus.FAILURE
    assert "[fail]" in task.fail_reason
    assert task.video_urls == ()
    if profile == "openai":
        assert "[fail]" in answer["error"]["message"]
    if profile == "new-api":
        assert answer["data"]["result_url"] == answer["data"]["fail_reason"]  # GetResultURL's fallback


async def test_client_reads_a_failed_video_object_as_a_failed_task() -> None:
    """Through the SDK: a failed task on the OpenAI routes is TaskFailedError, not an API error."""
    import sora_async as sa

    async with (
        MockRelay(profile="openai", queue_time=0, run_time=0) as relay,
        sa.SoraClient("k", base_url=relay.url, dialect="openai") as client,
    ):
        task_id = await client.create_video(sa.VideoRequest(prompt="a fox [fail]"))
        with pytest.raises(sa.TaskFailedError):
            await asyncio.wait_for(client.wait_for_task(task_id, poll_interval=0.01, timeout=5), 10)


# --- task answers: where the URL is ---------------------------------------------------------------


async def test_new_api_result_url_is_the_relays_own_content_route() -> None:
    """new-api's `result_url` points at `/v1/videos/{id}/content`, which needs the key."""
    async with serve("new-api", queue_time=0, run_time=0, video_bytes=1000) as (relay, session):
        task_id = await create(session, "new-api")
        data = (await query(session, "new-api", task_id))["data"]
        assert data["result_url"] == f"{relay.url}/v1/videos/{task_id}/content"
        assert data["data"] and "generations" not in data["data"]
        async with aiohttp.ClientSession() as anonymous:
            status, body, _ = await get(anonymous, data["result_url"])
        assert status == 401 and "error" in body
        status, file, headers = await get(session, data["result_url"])
    assert (status, headers["Content-Length"], file) == (200, "1000", video_body(task_id, 1000))
    assert file.startswith(VIDEO_MAGIC)


@pytest.mark.parametrize(
    ("profile", "location"),
    [
        ("sora", "generations"),
        ("sora", "data_url"),
        ("new-api", "result_url"),
        ("new-api", "fail_reason"),
        ("new-api", "data_url"),
        ("new-api", "url"),
        ("new-api", "generations"),
        ("openai", "metadata_url"),
        ("openai", "url"),
        ("openai", "content"),
    ],
)
async def test_the_sdk_finds_the_url_wherever_the_profile_puts_it(profile: str, location: str) -> None:
    """Every URL location of docs/relays.md is served by some profile, and the dialect finds the URL."""
    async with serve(profile, queue_time=0, run_time=0, url_location=location) as (relay, session):
        task_id = await create(session, profile)
        answer = await query(session, profile, task_id)
        task = get_dialect(profile).parse_task(task_id, answer, base_url=relay.url)
        assert task.status is TaskStatus.SUCCESS and len(task.video_urls) == 1, answer
        status, file, _ = await get(session, task.video_urls[0])
    assert status == 200 and file.startswith(VIDEO_MAGIC)
    assert task.fail_reason == ""


async def test_older_new_api_puts_the_url_in_fail_reason() -> None:
    """With `url_location="fail_reason"` the only URL is in `fail_reason`, on a SUCCESS."""
    async with serve("new-api", queue_time=0, run_time=0, url_location="fail_reason") as (relay, session):
        data = (await query(session, "new-api", await create(session, "new-api")))["data"]
        origin = relay.url
    assert data["status"] == "SUCCESS"
    assert data["fail_reason"].startswith(origin + "/videos/")
    assert "result_url" not in data


async def test_openai_profile_has_no_url_but_the_content_route() -> None:
    """By default a completed video object names no URL: the file is at the content route only."""
    async with serve("openai", queue_time=0, run_time=0) as (_, session):
        task_id = await create(session, "openai")
        answer = await query(session, "openai", task_id)
        status, file, _ = await get(session, f"/v1/videos/{task_id}/content")
    assert "url" not in answer and "metadata" not in answer
    assert status == 200 and len(file) == MockConfig().video_bytes


async def test_content_of_unknown_or_unfinished_tasks_is_refused() -> None:
    """The content route answers 404 for an unknown task and 400 for one not finished."""
    async with serve("openai", queue_time=5) as (relay, session):
        task_id = await create(session, "openai")
        unknown, _, _ = await get(session, "/v1/videos/task_none/content")
        early, body, _ = await get(session, f"/v1/videos/{task_id}/content")
    assert (unknown, early) == (404, 400)
    assert body["error"]["message"] == "Task is not completed yet, current status: NOT_START"
    assert relay.stats.content_requests == 2


async def test_cdn_urls_count_requests_that_carry_a_key() -> None:
    """The CDN-style `/videos/` URLs need no key; the relay counts requests that sent one anyway."""
    async with serve("sora", queue_time=0, run_time=0) as (relay, session):
        data = (await query(session, "sora", await create(session, "sora")))["data"]
        url = data["data"]["generations"][0]["url"]
        async with aiohttp.ClientSession() as anonymous:
            assert (await get(anonymous, url))[0] == 200
        assert (await get(session, url))[0] == 200
    assert (relay.stats.video_requests, relay.stats.video_requests_with_key) == (2, 1)


# --- byte serving -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=1000-", False),
        ("bytes=5-4", False),
        ("bytes=-0", False),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("", None),
    ],
)
def test_parse_range(header: str, span: object) -> None:
    """One byte span is honoured, one past the end is unsatisfiable, anything else serves it all."""
    assert parse_range(header, 1000) == span


async def test_range_requests_resume_a_download() -> None:
    """A `Range` gets 206 with `Content-Range` and exactly those bytes; the halves make the file."""
    async with serve("openai", queue_time=0, run_time=0, video_bytes=5000) as (_, session):
        task_id = await create(session, "openai")
        path = f"/v1/videos/{task_id}/content"
        head, first, h1 = await get(session, path, headers={"Range": "bytes=0-1999"})
        tail, rest, h2 = await get(session, path, headers={"Range": "bytes=2000-"})
        past, _, h3 = await get(session, path, headers={"Range": "bytes=5000-"})
    assert (head, tail, past) == (206, 206, 416)
    assert (h1["Content-Range"], h1["Content-Length"]) == ("bytes 0-1999/5000", "2000")
    assert h2["Content-Range"] == "bytes 2000-4999/5000"
    assert h3["Content-Range"] == "bytes */5000"
    assert first + rest == video_body(task_id, 5000)
    assert h1["Accept-Ranges"] == "bytes"


async def test_a_server_that_ignores_range_sends_the_whole_file() -> None:
    """`content_ignores_range=True`: 200 and every byte, whatever was asked, and no Accept-Ranges."""
    async with serve("sora", queue_time=0, run_time=0, video_bytes=300, content_ignores_range=True) as (_, s):
        data = (await query(s, "sora", await create(s, "sora")))["data"]
        status, body, headers = await get(
            s, data["data"]["generations"][0]["url"], headers={"Range": "bytes=100-"}
        )
    assert (status, len(body)) == (200, 300)
    assert "Accept-Ranges" not in headers and "Content-Range" not in headers


async def test_a_cut_body_breaks_its_promised_length() -> None:
    """`content_cut_after=N`: Content-Length promises the file, N bytes come, then the connection ends."""
    async with serve("openai", queue_time=0, run_time=0, video_bytes=50_000, content_cut_after=1000) as (
        _,
        s,
    ):
        task_id = await create(s, "openai")
        async with s.get(f"/v1/videos/{task_id}/content") as response:
            assert response.headers["Content-Length"] == "50000"
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        async with s.get(f"/v1/videos/{task_id}/content", headers={"Range": "bytes=49500-"}) as response:
            assert response.status == 206
            assert len(await response.read()) == 500  # a short enough remainder arrives whole


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["new-api", "openai"])
async def test_auth_errors_are_openai_style_on_new_api(profile: str) -> None:
    """new-api's middleware refuses a bad key with `{"error": {...}}` and 401; nothing is created."""
    async with serve(profile) as (relay, session):
        status, body, _ = await post(
            session, paths(profile)[0], {"prompt": "x"}, headers={"Authorization": "Bearer no"}
        )
    assert status == 401
    assert body["error"]["type"] == "new_api_error"
    assert "no" not in body["error"]["message"].split()  # never echoes the key sent
    assert (relay.stats.accepted, relay.stats.unauthorized) == (0, 1)


async def test_sora_auth_error_is_the_envelope() -> None:
    """The seed's relays refuse a bad key with the envelope's `invalid_api_key`."""
    async with serve("sora") as (_, session):
        status, body, _ = await post(
            session, "/sora/v1/videos", {"prompt": "x"}, headers={"Authorization": "Bearer no"}
        )
    assert (status, body["code"]) == (401, "invalid_api_key")


@pytest.mark.parametrize("profile", PROFILES)
async def test_unknown_task_is_task_not_exist_400(profile: str) -> None:
    """Every family answers an unknown task with the task envelope's `task_not_exist` and 400."""
    async with serve(profile) as (_, session):
        status, body, _ = await get(session, paths(profile)[1].replace("{task_id}", "task_nope"))
    assert (status, body["code"], body["data"]) == (400, "task_not_exist", None)


@pytest.mark.parametrize("profile", ["new-api", "openai"])
async def test_model_without_a_channel_is_model_not_found_503(profile: str) -> None:
    """With `models` set, a model no channel serves is 503 `model_not_found`, a missing one 400."""
    async with serve(profile, models=["sora-2"]) as (relay, session):
        create_path = paths(profile)[0]
        other, body, _ = await post(session, create_path, {"prompt": "x", "model": "sora-9"})
        missing, _, _ = await post(session, create_path, {"prompt": "x"})
        served, _, _ = await post(session, create_path, {"prompt": "x", "model": "sora-2"})
    assert (other, missing, served) == (503, 400, 200)
    assert (body["error"]["code"], body["error"]["type"]) == ("model_not_found", "new_api_error")
    assert (relay.stats.model_not_found, relay.stats.accepted) == (1, 1)


async def test_sora_profile_checks_model_against_the_api() -> None:
    """The seed's relays only know `turbo`: another model is a 400 `invalid_request`."""
    async with serve("sora") as (_, session):
        status, body, _ = await post(session, "/sora/v1/videos", {"prompt": "x", "model": "sora-2"})
    assert (status, body["code"]) == (400, "invalid_request")


# --- 429s -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_saturation_is_fail_to_fetch_task_without_retry_after(profile: str) -> None:
    """Upstream saturation: 429 `fail_to_fetch_task`, no Retry-After even when the limiter would send one."""
    async with serve(profile, saturation=1.0, retry_after="seconds") as (relay, session):
        status, body, headers = await post(session, paths(profile)[0], {"prompt": "x"})
        relay.configure(saturation=0.0)
        after = await create(session, profile)
    assert (status, body["code"], body["data"]) == (429, "fail_to_fetch_task", None)
    assert "Retry-After" not in headers and "retry-after-ms" not in headers
    assert after and (relay.stats.saturated, relay.stats.accepted) == (1, 1)


async def test_saturation_fraction_follows_the_seed() -> None:
    """A seeded fraction of creates is refused, the same ones for the same seed."""
    outcomes = []
    for _ in range(2):
        async with serve("new-api", saturation=0.5, seed=3) as (_, session):
            outcomes.append(
                [(await post(session, "/v1/video/generations", {"prompt": "x"}))[0] for _ in range(20)]
            )
    assert outcomes[0] == outcomes[1]
    assert {200, 429} == set(outcomes[0])


@pytest.mark.parametrize(
    ("profile", "limit_body", "check"),
    [
        ("sora", None, lambda b: b["code"] == "rate_limit_exceeded"),
        ("new-api", None, lambda b: b["error"]["type"] == "new_api_error"),
        ("openai", None, lambda b: "error" in b),
        ("new-api", "empty", lambda b: b == b""),
        ("openai", "relay", lambda b: b["code"] == "rate_limit_exceeded"),
    ],
)
async def test_rate_limit_429_body_per_profile(profile: str, limit_body: str | None, check: Any) -> None:
    """The limiter's 429 has the family's body: the envelope, OpenAI style, or (older new-api) nothing."""
    async with serve(profile, rate=0.5, burst=1, limit_body=limit_body, retry_after="none") as (
        relay,
        session,
    ):
        await create(session, profile)
        status, body, headers = await post(session, paths(profile)[0], {"prompt": "x"})
    assert status == 429 and check(body)
    assert "Retry-After" not in headers
    assert relay.stats.rate_limited == 1


async def test_retry_after_only_when_asked_by_name() -> None:
    """`retry_after="seconds"` adds the header to the limiter's 429; `"none"` sends none."""
    for mode, expected in (("seconds", "2"), ("none", None)):
        async with serve("new-api", rate=0.5, burst=1, retry_after=mode) as (_, session):
            await create(session, "new-api")
            _, _, headers = await post(session, "/v1/video/generations", {"prompt": "x"})
        assert headers.get("Retry-After") == expected


# --- idempotency ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_idempotency_key_is_honoured_only_when_asked(profile: str) -> None:
    """No relay honours `Idempotency-Key`; `honour_idempotency=True` asks for the kinder mock by name."""
    key = {"Idempotency-Key": "k-1"}
    async with serve(profile, honour_idempotency=False) as (relay, session):
        ignored = {await create(session, profile, headers=key) for _ in range(2)}
        assert relay.stats.duplicates == {"k-1": 2}
    async with serve(profile, honour_idempotency=True) as (relay, session):
        honoured = {await create(session, profile, headers=key) for _ in range(2)}
        assert relay.stats.duplicates == {}
    assert (len(ignored), len(honoured)) == (2, 1)


# --- configuration ----------------------------------------------------------------------------------


def test_unknown_profile_is_refused() -> None:
    """A profile name outside the three lists them."""
    with pytest.raises(ValueError, match="sora, new-api, openai"):
        MockConfig(profile="azure")  # type: ignore[arg-type]


def test_openai_profile_refuses_url_places_a_video_object_lacks() -> None:
    """A video object has no `fail_reason` or `result_url` to put a URL in."""
    with pytest.raises(ValueError, match="url_location"):
        MockConfig(profile="openai", url_location="fail_reason")


async def test_profile_cannot_change_while_running() -> None:
    """Routes are bound at start: `configure(profile=...)` is refused."""
    async with MockRelay(profile="new-api") as relay:
        relay.configure(profile="new-api", saturation=0.1)
        with pytest.raises(ValueError, match="profile"):
            relay.configure(profile="openai")


def test_mock_server_profile_flag() -> None:
    """`sora-async mock-server --profile new-api` builds a new-api relay."""
    from sora_async.cli.app import parse_args
    from sora_async.cli.mock_server import mock_config_from_args

    args = parse_args(["mock-server", "--profile", "new-api"])
    assert mock_config_from_args(args).profile == "new-api"
    argv = ["mock-server", "--profile", "openai", "--saturation", "0.25", "--models", "sora-2,sora-2-pro"]
    argv += ["--url-location", "metadata_url", "--content-ignores-range", "--content-cut-after", "10"]
    config = mock_config_from_args(parse_args(argv))
    assert (config.saturation, config.models, config.url_location) == (
        0.25,
        ("sora-2", "sora-2-pro"),
        "metadata_url",
    )
    assert (config.content_ignores_range, config.content_cut_after) == (True, 10)
    assert mock_config_from_args(parse_args(["mock-server"])).profile == "sora"
