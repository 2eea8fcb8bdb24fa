"""The concurrency gate: a bound on holders, first come first served, and no slot lost to a cancel."""

from __future__ import annotations

import asyncio

import pytest

import sora_async as sa
import sora_async._client as client_module
from sora_async._gate import Gate
from sora_async._serde import dumps_request
from sora_async._transport import Handler


def memory_client(handler: Handler, *, max_concurrency: int) -> sa.SoraClient:
    """A client whose relay is ``handler``, in memory, with ``max_concurrency`` slots."""
    return sa.SoraClient(
        "sk-gate-test-0123456789",
        base_url="https://relay.test",
        max_concurrency=max_concurrency,
        transport=sa.MockTransport(handler),
    )


async def hold(gate: Gate, log: list[str], name: str, release: asyncio.Event) -> None:
    async with gate:
        log.append(name)
        await release.wait()


async def test_at_most_slots_hold_it_and_the_rest_go_in_arrival_order() -> None:
    gate, release = Gate(2), asyncio.Event()
    log: list[str] = []
    tasks = [asyncio.ensure_future(hold(gate, log, f"t{n}", release)) for n in range(5)]
    await asyncio.sleep(0)
    assert log == ["t0", "t1"] and gate.free == 0 and gate.locked()
    release.set()
    await asyncio.gather(*tasks)
    assert log == ["t0", "t1", "t2", "t3", "t4"]
    assert gate.free == 2 and not gate.locked()


async def test_a_waiter_cancelled_in_the_queue_leaves_no_trace() -> None:
    gate, release = Gate(1), asyncio.Event()
    log: list[str] = []
    first = asyncio.ensure_future(hold(gate, log, "first", release))
    waiting = asyncio.ensure_future(hold(gate, log, "waiting", release))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await first
    assert gate.free == 1 and not gate.locked()  # the cancelled place does not block newcomers
    assert gate.try_enter()


async def test_a_slot_granted_to_a_waiter_cancelled_in_that_instant_passes_on() -> None:
    gate = Gate(1)
    assert gate.try_enter()
    turn = gate.queue()
    nxt = gate.queue()
    gate.leave()  # granted to the first place in the queue...
    assert turn.done() and not nxt.done()
    gate.abandon(turn)  # ...whose caller was cancelled before it could run: the next one gets it
    assert nxt.done() and gate.free == 0
    gate.leave()
    assert gate.free == 1


async def test_the_client_gate_is_free_again_after_cancelled_waiting_calls() -> None:
    """Calls cancelled while queued for a slot return it all: nothing leaks."""
    release = asyncio.Event()

    async def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        await release.wait()
        return sa.TransportResponse(200, body=b'{"code":"success","data":"task_1"}')

    client = memory_client(handler, max_concurrency=2)
    async with client:
        calls = [asyncio.ensure_future(client.create_video(prompt="a fox")) for _ in range(6)]
        await asyncio.sleep(0.01)
        for call in calls[2:]:
            call.cancel()
        release.set()
        done = await asyncio.gather(*calls, return_exceptions=True)
        assert done[:2] == ["task_1", "task_1"]
        assert all(isinstance(d, asyncio.CancelledError) for d in done[2:])
        assert client._core().gate.free == 2
        assert await client.create_video(prompt="a fox") == "task_1"


async def test_queued_creates_and_queries_leave_the_gate_free_and_bad_input_fails_at_once() -> None:
    """Queries wait at the gate like creates and give their slots back when cancelled; a create's bad
    idempotency key is refused at once, also while every slot is taken (not when its turn comes)."""
    release = asyncio.Event()

    async def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        await release.wait()
        if request.method == "GET":
            return sa.TransportResponse(200, body=b'{"code":"success","data":{"status":"SUCCESS"}}')
        return sa.TransportResponse(200, body=b'{"code":"success","data":"task_1"}')

    client = memory_client(handler, max_concurrency=1)
    async with client:
        holder = asyncio.ensure_future(client.create_video(prompt="a fox"))
        queries = [asyncio.ensure_future(client.get_task("task_1")) for _ in range(3)]
        await asyncio.sleep(0.01)
        with pytest.raises(sa.ValidationError, match="idempotency"):
            await asyncio.wait_for(client.create_video(prompt="a fox", idempotency_key="two words"), 1)
        for query in queries[:2]:
            query.cancel()
        release.set()
        assert await holder == "task_1"
        assert (await queries[2]).status is sa.TaskStatus.SUCCESS
        assert client._core().gate.free == 1


OK_BODY = b'{"code":"success","data":"t1"}'


async def test_a_create_whose_body_cannot_be_encoded_gives_its_slot_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body no UTF-8 can carry is a ValidationError, and the slot it took while it waited comes
    back: the next create goes through. (A lone surrogate is refused when the request is made
    already; the encoder is made to fail here, the way one slipped past that would.)"""
    real_dumps = dumps_request

    def dumps_refusing_foxes(request: sa.VideoRequest) -> bytes:
        if request.prompt and "fox" in request.prompt:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real_dumps(request)

    monkeypatch.setattr(client_module, "dumps_request", dumps_refusing_foxes)
    client = memory_client(lambda r: sa.TransportResponse(200, body=OK_BODY), max_concurrency=1)
    async with client:
        with pytest.raises(sa.ValidationError, match="UTF-8"):
            await client.create_video(prompt="a fox")
        assert client._core().gate.free == 1
        results = [r async for r in client.submit_many([sa.VideoRequest(prompt="a fox")] * 3)]
        assert [type(r.error) for r in results] == [sa.ValidationError] * 3
        assert await asyncio.wait_for(client.create_video(prompt="a hare"), 5) == "t1"
