"""SoraClient: lifecycle, configuration, security, create/get/wait and submit."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import pytest

import sora_async as sa
from sora_async._checks import checked_base_url
from tests.fast_retry import FAST_RETRY
from tests.scripted import Reply, ScriptedServer, envelope

SECRET = "sk-test-secret"
REQ = sa.VideoRequest(prompt="a fox in snow", size="1280x720", duration=10)


def task_payload(status: str, **extra: Any) -> dict[str, Any]:
    return envelope("success", data={"task_id": "task_1", "status": status, **extra})


def in_memory(*payloads: Any) -> tuple[sa.SoraClient, sa.MockTransport]:
    """A client on a MockTransport that answers each request with the next payload (HTTP 200, JSON);
    for tests of how answers are read, where a socket adds nothing."""
    queue = list(payloads)

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        payload = queue.pop(0) if queue else envelope("success", data="task_0001")
        return sa.TransportResponse(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    transport = sa.MockTransport(handler)
    client = sa.SoraClient(SECRET, base_url="https://relay.test", retry=FAST_RETRY, transport=transport)
    return client, transport


async def test_create_video_sends_body_headers_and_returns_task_id(
    client: sa.SoraClient, server: ScriptedServer
) -> None:
    """create_video POSTs the wire body with auth, user agent and an idempotency key."""
    task_id = await client.create_video(REQ)
    assert task_id == "task_0001"
    (seen,) = server.creates
    assert seen.path == "/sora/v1/videos"
    assert seen.body == b'{"prompt":"a fox in snow","width":1280,"height":720,"n_frames":300}'
    assert seen.headers["Authorization"] == f"Bearer {SECRET}"
    assert seen.headers["User-Agent"] == f"sora-async/{sa.__version__}"
    assert seen.headers["Content-Type"] == "application/json"
    assert len(seen.headers["Idempotency-Key"]) >= 32


async def test_caller_supplied_idempotency_key_is_sent(client: sa.SoraClient, server: ScriptedServer) -> None:
    """A given idempotency key goes out unchanged."""
    await client.create_video(REQ, idempotency_key="my-key-1")
    assert server.creates[0].headers["Idempotency-Key"] == "my-key-1"


async def test_each_create_gets_a_fresh_key(client: sa.SoraClient, server: ScriptedServer) -> None:
    """Two separate creates never share a generated key."""
    await client.create_video(REQ)
    await client.create_video(REQ)
    keys = {s.headers["Idempotency-Key"] for s in server.creates}
    assert len(keys) == 2


async def test_extra_headers_are_sent(server: ScriptedServer) -> None:
    """User headers ride along with every request."""
    async with sa.SoraClient(SECRET, base_url=server.url, headers={"X-Team": "video"}) as c:
        await c.create_video(REQ)
    assert server.creates[0].headers["X-Team"] == "video"


async def test_create_rejects_a_non_request() -> None:
    """Passing a dict to create_video is a ValidationError before any I/O."""
    client, transport = in_memory()
    async with client:
        with pytest.raises(sa.ValidationError, match="'request' must be a VideoRequest"):
            await client.create_video({"prompt": "x"})  # type: ignore[arg-type]
    assert transport.requests == []


async def test_create_with_non_string_data_is_ambiguous() -> None:
    """A 200 success whose data is not a task id may still have made a task: surfaced as ambiguous."""
    client, transport = in_memory(envelope("success", data=[1, 2]))
    async with client:
        with pytest.raises(sa.AmbiguousSubmissionError) as info:
            await client.create_video(REQ)
    assert isinstance(info.value.cause, sa.APIResponseValidationError)
    assert len(transport.requests) == 1


async def test_get_task_parses_the_answer() -> None:
    """get_task GETs /sora/v1/videos/{id} and returns a VideoTask."""
    client, transport = in_memory(task_payload("IN_PROGRESS", progress="42%"))
    async with client:
        task = await client.get_task("task_1")
    (sent,) = transport.requests
    assert (sent.method, sent.url) == ("GET", "https://relay.test/sora/v1/videos/task_1")
    assert task.status is sa.TaskStatus.IN_PROGRESS
    assert task.progress == 42.0


async def test_get_task_with_null_data_is_not_started() -> None:
    """Relays answer data: null for a task with no result yet."""
    client, _ = in_memory(envelope("success", data=None))
    async with client:
        task = await client.get_task("task_1")
    assert task.status is sa.TaskStatus.NOT_START
    assert task.task_id == "task_1"


async def test_get_task_with_wrong_data_type_is_an_error() -> None:
    """A task answer whose data is a string says nothing about the task: UNKNOWN, never a crash."""
    client, transport = in_memory(envelope("success", data="oops"))
    async with client:
        task = await client.get_task("task_1")
    assert task.status is sa.TaskStatus.UNKNOWN
    assert len(transport.requests) == 1


@pytest.mark.parametrize("task_id", ["", "a/b", "../x", "a b", "x?y=1", 5, None])
async def test_unsafe_task_ids_are_rejected(task_id: Any) -> None:
    """A task id goes into a URL only if it is non-empty and URL-safe."""
    client, transport = in_memory()
    async with client:
        with pytest.raises(sa.ValidationError, match="'task_id'"):
            await client.get_task(task_id)
    assert transport.requests == []


async def test_wait_for_task_polls_until_success() -> None:
    """NOT_START -> IN_PROGRESS -> SUCCESS, with every answer passed to on_progress."""
    urls = {"generations": [{"id": "g1", "url": "http://127.0.0.1/v.mp4", "width": 1280, "height": 720}]}
    client, transport = in_memory(
        task_payload("NOT_START"),
        task_payload("IN_PROGRESS", progress="50%"),
        task_payload("SUCCESS", progress="100%", data=urls),
    )
    seen: list[sa.TaskStatus] = []
    async with client:
        task = await client.wait_for_task(
            "task_1", timeout=5, poll_interval=0.001, on_progress=lambda t: seen.append(t.status)
        )
    assert task.status is sa.TaskStatus.SUCCESS
    assert task.video_urls == ("http://127.0.0.1/v.mp4",)
    assert seen == [sa.TaskStatus.NOT_START, sa.TaskStatus.IN_PROGRESS, sa.TaskStatus.SUCCESS]
    assert len(transport.requests) == 3


async def test_wait_for_task_accepts_an_async_callback() -> None:
    """on_progress may be a coroutine function; it is awaited."""
    client, _ = in_memory(task_payload("SUCCESS"))
    calls: list[str] = []

    async def note(task: sa.VideoTask) -> None:
        calls.append(task.task_id)

    async with client:
        await client.wait_for_task("task_1", timeout=5, poll_interval=0.001, on_progress=note)
    assert calls == ["task_1"]


async def test_wait_for_task_raises_on_failure() -> None:
    """FAILURE raises TaskFailedError carrying the reason and the task."""
    client, _ = in_memory(task_payload("IN_PROGRESS"), task_payload("FAILURE", fail_reason="content policy"))
    async with client:
        with pytest.raises(sa.TaskFailedError, match="content policy") as info:
            await client.wait_for_task("task_1", timeout=5, poll_interval=0.001)
    assert info.value.task.status is sa.TaskStatus.FAILURE


async def test_wait_for_task_honours_its_deadline(client: sa.SoraClient, server: ScriptedServer) -> None:
    """A task that never finishes ends in TaskTimeoutError naming the wait and the last status."""
    server.script(*[Reply(json_body=task_payload("IN_PROGRESS", progress="10%"))] * 100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(sa.TaskTimeoutError, match=r"IN_PROGRESS, progress 10%") as info:
        await client.wait_for_task("task_1", timeout=0.2, poll_interval=0.02)
    assert 0.2 <= loop.time() - started < 1.0
    assert info.value.last_task is not None
    assert isinstance(info.value, TimeoutError)


async def test_wait_for_task_deadline_cuts_a_slow_query(
    client: sa.SoraClient, server: ScriptedServer
) -> None:
    """A query slower than the remaining time does not stretch the deadline."""
    server.script(Reply(json_body=task_payload("IN_PROGRESS"), delay=2.0))
    with pytest.raises(sa.TaskTimeoutError) as info:
        await client.wait_for_task("task_1", timeout=0.1)
    assert info.value.last_task is None
    assert info.value.waited < 1.0


async def test_submit_returns_a_handle_at_once(client: sa.SoraClient, server: ScriptedServer) -> None:
    """submit does not wait; awaiting the handle gives the task id, its key is known up front."""
    handle = client.submit(REQ, idempotency_key="k-1")
    assert handle.idempotency_key == "k-1"
    assert not handle.done()
    assert await handle == "task_0001"
    assert handle.attempts == 1
    assert "k-1" in repr(handle)


async def test_cancelling_a_submission_frees_its_slot(server: ScriptedServer) -> None:
    """A cancelled handle raises CancelledError and the only concurrency slot is usable again."""
    server.script(Reply(delay=5.0))
    async with sa.SoraClient(SECRET, base_url=server.url, max_concurrency=1) as c:
        handle = c.submit(REQ)
        await asyncio.sleep(0.05)
        assert handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert (await asyncio.wait_for(c.create_video(REQ), 2)).startswith("task_")
    assert len(server.creates) == 2


# --- lifecycle and configuration ------------------------------------------------------------------


async def test_close_twice_is_fine_and_use_after_close_is_clear(server: ScriptedServer) -> None:
    """aclose is idempotent; calling after it raises ConfigurationError."""
    c = sa.SoraClient(SECRET, base_url=server.url)
    await c.create_video(REQ)
    await c.aclose()
    await c.aclose()
    assert c.closed
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await c.create_video(REQ)


async def test_aclose_cancels_pending_submissions(server: ScriptedServer) -> None:
    """Shutting down does not leave background submissions running."""
    server.script(Reply(delay=5.0))
    c = sa.SoraClient(SECRET, base_url=server.url)
    handle = c.submit(REQ)
    await asyncio.sleep(0.05)
    await c.aclose()
    assert handle.done()
    with pytest.raises(asyncio.CancelledError):
        await handle


async def test_unclosed_client_warns(server: ScriptedServer) -> None:
    """A client that opened a session and was never closed warns ResourceWarning when collected."""
    c = sa.SoraClient(SECRET, base_url=server.url)
    await c.create_video(REQ)
    assert c._shared.core is not None
    with pytest.warns(ResourceWarning, match="unclosed SoraClient"):
        c.__del__()
    await c.aclose()
    del c
    gc.collect()


def test_client_can_be_built_outside_a_loop() -> None:
    """No session is made in __init__, so construction needs no running loop and no cleanup."""
    c = sa.SoraClient(SECRET, base_url="https://relay.example")
    assert c._shared.core is None


async def test_key_and_url_come_from_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$SORA_API_KEY and $SORA_BASE_URL are the defaults."""
    monkeypatch.setenv("SORA_API_KEY", "sk-from-env")
    monkeypatch.setenv("SORA_BASE_URL", server.url)
    async with sa.SoraClient() as c:
        await c.create_video(REQ)
    assert server.creates[0].headers["Authorization"] == "Bearer sk-from-env"


async def test_missing_key_is_a_clear_error_at_first_use() -> None:
    """No key anywhere: constructing works, the first call says what to set."""
    c = sa.SoraClient(base_url="https://relay.example")
    with pytest.raises(sa.ConfigurationError, match=r"SORA_API_KEY"):
        await c.create_video(REQ)


async def test_missing_base_url_is_a_clear_error_at_first_use() -> None:
    """No base URL anywhere: the first call says what to set."""
    c = sa.SoraClient(SECRET)
    with pytest.raises(sa.ConfigurationError, match=r"SORA_BASE_URL"):
        await c.get_task("task_1")


async def test_plain_http_to_a_remote_host_is_refused() -> None:
    """The key is not sent in clear text to a non-loopback host."""
    c = sa.SoraClient(SECRET, base_url="http://relay.example")
    with pytest.raises(sa.ConfigurationError, match=r"plain http to relay\.example") as info:
        await c.create_video(REQ)
    assert SECRET not in str(info.value)


async def test_plain_http_can_be_allowed_explicitly() -> None:
    """allow_insecure_http=True lifts the refusal (checked without sending anything)."""
    assert checked_base_url("http://relay.example", allow_insecure_http=True) == "http://relay.example"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000", "https://relay.example"]
)
def test_loopback_http_and_https_are_accepted(url: str) -> None:
    """Local http and any https are fine."""
    assert checked_base_url(url, allow_insecure_http=False).startswith(url.split(":")[0])


def test_a_malformed_base_url_is_rejected() -> None:
    """A base URL without a scheme names what was given."""
    with pytest.raises(sa.ConfigurationError, match=r"relay\.example/v1"):
        checked_base_url("relay.example/v1", allow_insecure_http=False)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"rate_limit": 5}, "rate_limit"),
    ],
)
def test_bad_client_arguments_are_named(kwargs: dict[str, Any], field: str) -> None:
    """Constructor arguments are validated with the argument's name."""
    with pytest.raises(sa.ValidationError) as info:
        sa.SoraClient(SECRET, base_url="https://relay.example", **kwargs)
    assert info.value.field == field


async def test_the_key_never_leaks(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    """Not in repr, not in log records, not in exception text, even on failures with retries."""
    caplog.set_level(logging.DEBUG, logger="sora_async")
    server.script(
        Reply(
            status=429,
            json_body=envelope("rate_limit_exceeded", "slow down"),
            headers={"retry-after-ms": "1"},
        ),
        Reply(status=401, json_body=envelope("invalid_api_key", "bad key")),
    )
    async with sa.SoraClient(SECRET, base_url=server.url, retry=FAST_RETRY) as c:
        assert SECRET not in repr(c)
        with pytest.raises(sa.AuthenticationError) as info:
            await c.create_video(REQ)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET not in str(info.value.headers)
    assert caplog.records, "the retry should have been logged"
    assert all(SECRET not in r.getMessage() for r in caplog.records)


async def test_a_key_echoed_by_the_relay_is_blanked(server: ScriptedServer) -> None:
    """Some relays echo the request; the key never reaches the exception text or body."""
    echo = envelope("invalid_request", f"bad header Authorization: Bearer {SECRET}")
    server.script(Reply(status=400, json_body=echo))
    async with sa.SoraClient(SECRET, base_url=server.url) as c:
        with pytest.raises(sa.BadRequestError) as info:
            await c.create_video(REQ)
    assert SECRET not in str(info.value)
    assert SECRET not in info.value.body
    assert "Bearer ***" in info.value.message


async def test_rate_limit_code_on_a_400_is_still_a_rate_limit(server: ScriptedServer) -> None:
    """A relay that says rate_limit_exceeded with HTTP 400 is retried like a 429."""
    server.script(Reply(status=400, json_body=envelope("rate_limit_exceeded", "slow down")))
    async with sa.SoraClient(SECRET, base_url=server.url, retry=FAST_RETRY) as c:
        assert await c.create_video(REQ) == "task_0001"
    assert len(server.creates) == 2
