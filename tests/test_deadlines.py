"""The shared deadline watch: one coarse timer ends requests past their deadline, and only those.

Unit tests drive ``DeadlineWatch`` with a tick of a few milliseconds and tasks that wait forever;
the integration tests send through ``AiohttpTransport`` to the scripted server on 127.0.0.1, with
the coarse threshold lowered so that a deadline of a fraction of a second takes the watched path.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sora_async import APITimeoutError, TransportRequest
from sora_async import _transport as transport_module
from sora_async._deadlines import DeadlineWatch
from sora_async._transport import AiohttpTransport
from tests.scripted import Reply, ScriptedServer

needs_uncancel = pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling is 3.11+")


def cancel_requests(task: asyncio.Task[Any]) -> int:
    """``Task.cancelling()`` (3.11+: only the tests skipped on 3.10 call this)."""
    count: int = task.cancelling()  # type: ignore[attr-defined,unused-ignore]
    return count


def timer_of(watch: DeadlineWatch) -> object:
    return watch._timer


TICK = 0.01


async def wait_watched(watch: DeadlineWatch, seconds: float) -> str:
    """A request that never gets an answer, watched for ``seconds``: how it ended."""
    task = asyncio.current_task()
    assert task is not None
    assert watch.watch(task, asyncio.get_running_loop().time() + seconds)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        if watch.timed_out(task):
            return "timed out"
        raise
    finally:
        watch.release(task)
    return "answered"


async def test_a_request_past_its_deadline_is_ended_by_the_watch_never_before() -> None:
    watch = DeadlineWatch(tick=TICK)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await wait_watched(watch, 0.05) == "timed out"
    assert loop.time() - started >= 0.05
    await asyncio.sleep(0)  # no cancellation of ours is left over for the task's next await
    watch.close()


@needs_uncancel
async def test_the_watchs_cancellation_is_taken_back_from_the_tasks_count() -> None:
    watch = DeadlineWatch(tick=TICK)
    task = asyncio.create_task(wait_watched(watch, 0.02))
    assert await task == "timed out"
    assert cancel_requests(task) == 0
    watch.close()


async def test_a_callers_cancellation_passes_through_untouched() -> None:
    watch = DeadlineWatch(tick=TICK)
    task = asyncio.create_task(wait_watched(watch, 60))
    await asyncio.sleep(TICK * 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    watch.close()


@needs_uncancel
async def test_a_caller_cancelling_in_the_same_instant_as_the_deadline_wins() -> None:
    """The watch fires and the caller cancels before the task runs again: CancelledError, not ours."""
    watch = DeadlineWatch(tick=60)  # the check is run by hand below
    task = asyncio.create_task(wait_watched(watch, -1))  # already past its deadline
    await asyncio.sleep(0)  # the task is now waiting, watched
    watch._check()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancel_requests(task) == 1  # the caller's request is the one left
    watch.close()


@needs_uncancel
async def test_a_swallowed_cancellation_of_the_watch_is_taken_back_on_release() -> None:
    """If something inside the request ate our CancelledError, the task's count is still restored."""
    watch = DeadlineWatch(tick=TICK)

    async def swallowing() -> int:
        task = asyncio.current_task()
        assert task is not None
        watch.watch(task, asyncio.get_running_loop().time() + 0.02)
        try:
            with contextlib.suppress(asyncio.CancelledError):  # a careless library
                await asyncio.Event().wait()
        finally:
            watch.release(task)
        return cancel_requests(task)

    assert await asyncio.create_task(swallowing()) == 0
    watch.close()


async def test_the_timer_runs_only_while_a_request_is_watched() -> None:
    watch = DeadlineWatch(tick=TICK)
    assert timer_of(watch) is None
    task = asyncio.create_task(wait_watched(watch, 60))
    await asyncio.sleep(0)
    assert timer_of(watch) is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(TICK * 3)
    assert timer_of(watch) is None


async def test_a_task_has_one_watched_request_at_a_time() -> None:
    watch = DeadlineWatch(tick=TICK)
    task = asyncio.current_task()
    assert task is not None
    now = asyncio.get_running_loop().time()
    assert watch.watch(task, now + 60)
    assert not watch.watch(task, now + 1)  # the second times itself
    watch.release(task)
    watch.close()


async def test_many_requests_end_each_at_its_own_deadline() -> None:
    watch = DeadlineWatch(tick=TICK)
    loop = asyncio.get_running_loop()

    async def timed(seconds: float) -> float:
        started = loop.time()
        assert await wait_watched(watch, seconds) == "timed out"
        return loop.time() - started

    waits = [0.02, 0.06, 0.04, 0.02]
    taken = await asyncio.gather(*(timed(s) for s in waits))
    assert all(took >= wait for took, wait in zip(taken, waits, strict=True))
    assert sorted(range(4), key=lambda i: taken[i])[-1] == 1  # the longest deadline ended last
    watch.close()


# --- through the transport ---------------------------------------------------------------------------


@pytest.fixture
async def watched_transport(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AiohttpTransport]:
    """The default transport with the coarse watch taking deadlines of 0.1 s and more."""
    monkeypatch.setattr(transport_module, "COARSE_FROM", 0.1)
    made = AiohttpTransport()
    made.DEADLINE_TICK = TICK
    try:
        yield made
    finally:
        await made.aclose()


def get(server: ScriptedServer) -> TransportRequest:
    return TransportRequest("GET", f"{server.url}/sora/v1/videos/task_1")


async def test_a_relay_that_never_answers_ends_in_api_timeout_error_at_the_deadline(
    server: ScriptedServer, watched_transport: AiohttpTransport
) -> None:
    server.script(Reply(delay=30))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(APITimeoutError, match=r"timed out waiting for http://127\.0\.0\.1") as info:
        await watched_transport.send(get(server), max_body=1000, timeout=0.2)
    assert loop.time() - started >= 0.2
    assert info.value.request_sent is True
    await asyncio.sleep(0)  # the task goes on, not cancelled
    answer = await watched_transport.send(get(server), max_body=1000, timeout=0.2)
    assert answer.status == 200  # the next request through the same session is fine


async def test_a_callers_deadline_shorter_than_the_watched_one_ends_the_call_as_the_callers(
    server: ScriptedServer, watched_transport: AiohttpTransport
) -> None:
    server.script(Reply(delay=30))
    with pytest.raises(asyncio.TimeoutError) as info:
        await asyncio.wait_for(watched_transport.send(get(server), max_body=1000, timeout=5.0), 0.1)
    assert not isinstance(info.value, APITimeoutError)


async def test_watched_requests_that_answer_in_time_are_untouched(
    server: ScriptedServer, watched_transport: AiohttpTransport
) -> None:
    server.script(*(Reply(delay=0.05) for _ in range(8)))
    answers = await asyncio.gather(
        *(watched_transport.send(get(server), max_body=1000, timeout=2.0) for _ in range(8))
    )
    assert [a.status for a in answers] == [200] * 8
    assert watched_transport._watch._deadlines == {}


@needs_uncancel
async def test_a_request_in_flight_keeps_its_watch_when_a_new_session_is_made(
    server: ScriptedServer, watched_transport: AiohttpTransport
) -> None:
    """A send still running when the session is replaced (closed, then used again) ends as itself:
    its deadline still holds, and no KeyError of the new watch takes the place of its answer."""
    server.script(Reply(delay=30))
    slow = asyncio.ensure_future(watched_transport.send(get(server), max_body=1000, timeout=0.3))
    await asyncio.sleep(0.05)
    old, watched_transport._session = watched_transport._session, None  # the next send makes a new one
    try:
        answer = await watched_transport.send(get(server), max_body=1000, timeout=0.3)
        assert answer.status == 200
        with pytest.raises(APITimeoutError):
            await slow
    finally:
        assert old is not None
        await old.close()


@needs_uncancel
@pytest.mark.parametrize("read", ["one read", "in chunks"])
async def test_a_watch_cancellation_a_library_turns_into_timeout_error_is_still_api_timeout_error(
    server: ScriptedServer,
    watched_transport: AiohttpTransport,
    monkeypatch: pytest.MonkeyPatch,
    read: str,
) -> None:
    """Code under the transport that meets the watch's cancellation and raises ``TimeoutError``
    instead (as a library's own timeout context may) still ends the request as the watch's timeout:
    an ``APITimeoutError``, the task's cancellation count back to zero, never a bare cancellation.
    Both ways of reading a body: one read of a known length, chunks of an unknown one."""

    async def wait_then_convert() -> bytes:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise asyncio.TimeoutError from None
        raise AssertionError("unreachable")  # pragma: no cover

    if read == "one read":
        monkeypatch.setattr(aiohttp.ClientResponse, "read", lambda response: wait_then_convert())
    else:
        monkeypatch.setattr(aiohttp.ClientResponse, "content_length", property(lambda response: None))
        monkeypatch.setattr(transport_module, "_read_capped", lambda response, max_body: wait_then_convert())
    server.script(Reply())
    with pytest.raises(APITimeoutError):
        await watched_transport.send(get(server), max_body=1000, timeout=0.2)
    task = asyncio.current_task()
    assert task is not None and cancel_requests(task) == 0
