"""The retry policy against a real local server: what is retried, how long we wait, what is ambiguous."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import AsyncIterator

import pytest

import sora_async as sa
from sora_async._retry import Verdict, classify
from tests.fast_retry import FAST_RETRY
from tests.scripted import Reply, ScriptedServer, envelope

REQ = sa.VideoRequest(prompt="a fox in snow")
RATE_LIMITED = envelope("rate_limit_exceeded", "too many requests")


@pytest.fixture
def events() -> list[sa.RetryEvent]:
    return []


@pytest.fixture
async def recording_client(
    server: ScriptedServer, events: list[sa.RetryEvent]
) -> AsyncIterator[sa.SoraClient]:
    async with sa.SoraClient("sk-test", base_url=server.url, retry=FAST_RETRY, on_retry=events.append) as c:
        yield c


def keys(server: ScriptedServer) -> set[str]:
    return {s.headers["Idempotency-Key"] for s in server.creates}


@pytest.mark.parametrize(
    ("headers", "expected_retry_after"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "20"}, 0.02),
        ({"retry-after-ms": "20", "Retry-After": "9"}, 0.02),
    ],
)
async def test_429_waits_for_the_servers_hint(
    recording_client: sa.SoraClient,
    server: ScriptedServer,
    events: list[sa.RetryEvent],
    headers: dict[str, str],
    expected_retry_after: float,
) -> None:
    """A 429 is retried after retry-after-ms, else Retry-After, capped by max_retry_after, same key."""
    server.script(Reply(status=429, json_body=RATE_LIMITED, headers=headers))
    assert await recording_client.create_video(REQ) == "task_0001"
    (event,) = events
    assert event.retry_after == pytest.approx(expected_retry_after)
    assert event.wait == pytest.approx(min(expected_retry_after, FAST_RETRY.max_retry_after))
    assert isinstance(event.cause, sa.RateLimitError)
    assert event.attempt == 1
    assert len(server.creates) == 2
    assert len(keys(server)) == 1
    assert event.idempotency_key in keys(server)


async def test_429_with_an_http_date(
    recording_client: sa.SoraClient, server: ScriptedServer, events: list[sa.RetryEvent]
) -> None:
    """Retry-After as an HTTP date is read as the seconds until then."""
    when = email.utils.formatdate(time.time() + 4, usegmt=True)
    server.script(Reply(status=429, json_body=RATE_LIMITED, headers={"Retry-After": when}))
    await recording_client.create_video(REQ)
    assert events[0].retry_after == pytest.approx(4, abs=1.1)
    assert events[0].wait == FAST_RETRY.max_retry_after


async def test_429_without_a_hint_backs_off_with_jitter(
    recording_client: sa.SoraClient, server: ScriptedServer, events: list[sa.RetryEvent]
) -> None:
    """No hint: exponential backoff with full jitter, growing per attempt and capped (the limiter's own
    pacing and the client-wide saturation wait are out of the way: adaptive=False, 429s within 1 s)."""
    server.script(*[Reply(status=429, json_body=RATE_LIMITED)] * 3)
    async with sa.SoraClient(
        "sk-test", base_url=server.url, retry=FAST_RETRY, on_retry=events.append, adaptive=False
    ) as client:
        await client.create_video(REQ)
    assert [e.attempt for e in events] == [1, 2, 3]
    for event in events:
        ceiling = min(FAST_RETRY.max_backoff, FAST_RETRY.initial_backoff * 2 ** (event.attempt - 1))
        assert 0 <= event.wait <= ceiling
        assert event.retry_after is None
    assert len(keys(server)) == 1


@pytest.mark.parametrize("status", [408, 503, 521])
async def test_statuses_sent_before_any_work_are_retried(
    recording_client: sa.SoraClient, server: ScriptedServer, status: int
) -> None:
    """408, 503 and CDN 'origin unreachable' errors are safe to repeat."""
    server.script(Reply(status=status, text="busy"))
    assert await recording_client.create_video(REQ) == "task_0001"
    assert len(server.creates) == 2


async def test_giving_up_raises_the_last_error(
    recording_client: sa.SoraClient, server: ScriptedServer
) -> None:
    """When attempts run out the last error surfaces, with the number of attempts honoured."""
    server.script(*[Reply(status=503, json_body=envelope("upstream_busy"))] * 10)
    with pytest.raises(sa.ServerError, match="HTTP 503 upstream_busy"):
        await recording_client.create_video(REQ)
    assert len(server.creates) == FAST_RETRY.max_attempts


async def test_max_elapsed_stops_retrying(server: ScriptedServer) -> None:
    """No new attempt starts after max_elapsed, whatever max_attempts says."""
    policy = sa.RetryPolicy(max_attempts=100, max_elapsed=0.3, initial_backoff=0.1, max_backoff=0.1)
    server.script(*[Reply(status=503, text="")] * 100)
    async with sa.SoraClient("k", base_url=server.url, retry=policy) as c:
        with pytest.raises(sa.ServerError):
            await c.create_video(REQ)
    attempts = server.creates
    assert 1 < len(attempts) < 100
    assert attempts[-1].at - attempts[0].at <= 0.3 + 0.05


@pytest.mark.parametrize("status", [500, 502, 504, 524])
async def test_server_errors_on_create_are_ambiguous(
    recording_client: sa.SoraClient, server: ScriptedServer, status: int
) -> None:
    """The task may exist: no blind retry, the error carries the key and the cause."""
    server.script(Reply(status=status, json_body=envelope("do_request_failed", "upstream")))
    with pytest.raises(sa.AmbiguousSubmissionError) as info:
        await recording_client.create_video(REQ, idempotency_key="key-7")
    assert info.value.idempotency_key == "key-7"
    assert isinstance(info.value.cause, sa.ServerError)
    assert info.value.cause.status_code == status
    assert info.value.attempts == 1
    assert len(server.creates) == 1


async def test_ambiguous_failures_retry_under_the_same_key_when_allowed(server: ScriptedServer) -> None:
    """retry_ambiguous=True repeats the create with the original key."""
    server.script(Reply(status=500, json_body=envelope("do_request_failed")), Reply(drop="after"))
    policy = sa.RetryPolicy(max_attempts=4, initial_backoff=0.001, retry_ambiguous=True)
    async with sa.SoraClient("k", base_url=server.url, retry=policy) as c:
        assert await c.create_video(REQ, idempotency_key="key-9") == "task_0001"
    assert [s.headers["Idempotency-Key"] for s in server.creates] == ["key-9"] * 3


async def test_an_earlier_ambiguous_attempt_keeps_the_outcome_ambiguous(server: ScriptedServer) -> None:
    """500, then 503s until attempts run out: the first may have created the task, so it is ambiguous."""
    server.script(Reply(status=500, text=""), *[Reply(status=503, text="")] * 5)
    policy = sa.RetryPolicy(max_attempts=3, initial_backoff=0.001, retry_ambiguous=True)
    async with sa.SoraClient("k", base_url=server.url, retry=policy) as c:
        with pytest.raises(sa.AmbiguousSubmissionError) as info:
            await c.create_video(REQ)
    assert isinstance(info.value.cause, sa.ServerError)
    assert info.value.cause.status_code == 503
    assert info.value.attempts == 3


async def test_per_call_policy_overrides_the_clients(
    recording_client: sa.SoraClient, server: ScriptedServer
) -> None:
    """retry= on the call wins over the client's policy."""
    server.script(Reply(status=503, text=""))
    with pytest.raises(sa.ServerError):
        await recording_client.create_video(REQ, retry=sa.RetryPolicy.none())
    assert len(server.creates) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, sa.BadRequestError),
        (401, sa.AuthenticationError),
        (403, sa.PermissionDeniedError),
        (404, sa.NotFoundError),
        (422, sa.BadRequestError),
    ],
)
async def test_client_errors_are_never_retried(
    recording_client: sa.SoraClient, server: ScriptedServer, status: int, error: type[Exception]
) -> None:
    """4xx other than 408/429 get the same answer every time: one attempt."""
    server.script(Reply(status=status, json_body=envelope("invalid_request", "no")))
    with pytest.raises(error):
        await recording_client.create_video(REQ)
    assert len(server.creates) == 1


async def test_connection_dropped_before_the_answer_is_ambiguous(
    recording_client: sa.SoraClient, server: ScriptedServer
) -> None:
    """A reset after the request went out, read or not, cannot tell us whether the task exists."""
    for drop in ("before", "after"):
        server.script(Reply(drop=drop))
        with pytest.raises(sa.AmbiguousSubmissionError) as info:
            await recording_client.create_video(REQ)
        assert isinstance(info.value.cause, sa.APIConnectionError)
        assert info.value.cause.request_sent
    assert len(server.creates) == 2


async def test_queries_retry_through_drops_and_server_errors(
    recording_client: sa.SoraClient, server: ScriptedServer
) -> None:
    """get_task is free and idempotent: dropped connections and 500s are simply retried."""
    server.script(Reply(drop="before"), Reply(status=500, text=""), Reply(drop="after"))
    task = await recording_client.get_task("task_1")
    assert task.status is sa.TaskStatus.SUCCESS
    assert len(server.seen) == 4


async def test_a_refused_connection_is_retried_not_ambiguous() -> None:
    """Nothing listening: the request never left, so it is retried and ends as a connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events: list[sa.RetryEvent] = []
    async with sa.SoraClient(
        "k", base_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY, on_retry=events.append
    ) as c:
        with pytest.raises(sa.APIConnectionError) as info:
            await c.create_video(REQ)
    assert not info.value.request_sent
    assert isinstance(info.value.__cause__, OSError)
    assert len(events) == FAST_RETRY.max_attempts - 1


async def test_a_response_slower_than_the_timeout(server: ScriptedServer) -> None:
    """A read timeout after sending is ambiguous for a create and retried for a query."""
    server.script(Reply(delay=1.0), Reply(delay=1.0))
    async with sa.SoraClient("k", base_url=server.url, retry=FAST_RETRY, timeout=0.1) as c:
        with pytest.raises(sa.AmbiguousSubmissionError) as info:
            await c.create_video(REQ)
        assert isinstance(info.value.cause, sa.APITimeoutError)
        task = await c.get_task("task_1")
    assert task.status is sa.TaskStatus.SUCCESS


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(status=200, text="<html>dashboard</html>"), sa.ConfigurationError),
        (Reply(status=200, text="{not json"), sa.AmbiguousSubmissionError),
        (Reply(status=200, text=""), sa.AmbiguousSubmissionError),
        (Reply(status=502, text="<html>bad gateway</html>"), sa.AmbiguousSubmissionError),
        (Reply(status=403, text="<html>cf challenge</html>"), sa.PermissionDeniedError),
        (Reply(status=200, json_body=envelope("invalid_request", "bad size")), sa.BadRequestError),
    ],
)
async def test_malformed_bodies(
    recording_client: sa.SoraClient, server: ScriptedServer, reply: Reply, outcome: type[Exception]
) -> None:
    """Bodies that are not the envelope end in the right error, with one attempt."""
    server.script(reply)
    with pytest.raises(outcome):
        await recording_client.create_video(REQ)
    assert len(server.creates) == 1


async def test_a_429_pauses_the_whole_client(server: ScriptedServer) -> None:
    """Retry-After is about the key: a request started after the 429 waits out the pause too."""
    server.script(Reply(status=429, json_body=RATE_LIMITED, headers={"retry-after-ms": "300"}))
    policy = sa.RetryPolicy(max_attempts=3, max_retry_after=1.0)
    told_to_wait = asyncio.Event()
    async with sa.SoraClient(
        "k", base_url=server.url, retry=policy, on_retry=lambda _: told_to_wait.set()
    ) as c:
        first = c.submit(REQ)
        await told_to_wait.wait()
        assert await c.create_video(REQ)
        await first
    paused_at = server.seen[0].at
    later = [s.at - paused_at for s in server.seen[1:]]
    assert len(later) == 2
    assert min(later) >= 0.29


def test_classification_table() -> None:
    """The verdicts in one place: creates are careful, queries are not."""
    status = {s: sa.ServerError(status_code=s, code=None, message="") for s in (500, 503)}
    dropped = sa.APIConnectionError("reset", request_sent=True)
    refused = sa.APIConnectionError("refused", request_sent=False)
    assert classify(status[500], creates=True) is Verdict.AMBIGUOUS
    assert classify(status[500], creates=False) is Verdict.RETRY
    assert classify(status[503], creates=True) is Verdict.RETRY
    assert classify(dropped, creates=True) is Verdict.AMBIGUOUS
    assert classify(refused, creates=True) is Verdict.RETRY
    assert classify(ValueError("x"), creates=False) is Verdict.FATAL


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"initial_backoff": -1}, "initial_backoff"),
        ({"max_retry_after": "1"}, "max_retry_after"),
    ],
)
def test_bad_policy_values_are_named(kwargs: dict[str, object], field: str) -> None:
    """RetryPolicy validates its numbers."""
    with pytest.raises(sa.ValidationError) as info:
        sa.RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


async def test_throttles_do_not_spend_attempts(server: ScriptedServer) -> None:
    """429s are bounded by max_elapsed, not max_attempts: a saturated relay is ridden out."""
    server.script(*[Reply(status=429, json_body=RATE_LIMITED)] * 5)
    policy = sa.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.002)
    async with sa.SoraClient("k", base_url=server.url, retry=policy, adaptive=False) as c:
        assert await c.create_video(REQ)
    assert len(server.creates) == 6


async def test_throttles_stop_at_max_elapsed(server: ScriptedServer) -> None:
    """However many 429s come, no attempt starts after max_elapsed."""
    server.script(*[Reply(status=429, json_body=RATE_LIMITED)] * 1000)
    policy = sa.RetryPolicy(max_elapsed=0.2, initial_backoff=0.01, max_backoff=0.02)
    async with sa.SoraClient("k", base_url=server.url, retry=policy, adaptive=False) as c:
        with pytest.raises(sa.RateLimitError):
            await c.create_video(REQ)
    assert 3 <= len(server.creates) < 100
