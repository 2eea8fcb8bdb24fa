"""The request core, in memory on ``MockTransport``: every item answered, bounded, deadlines kept.

A socket adds nothing to these: each test states what the relay answers (or what a stage raises)
and checks what the caller gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest

import sora_async as sa
from sora_async import _stream as stream_module
from sora_async._compat import timeout_after
from sora_async._transport import AiohttpTransport
from sora_async.limits import Limiter

KEY = "sk-core-test-0123456789abcdef"
BASE = "https://relay.test"
OK = sa.TransportResponse(200, {"Content-Type": "application/json"}, b'{"code":"success","data":"task_1"}')
REQ = sa.VideoRequest(prompt="a fox")
FAST = sa.RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)


def client(handler: Callable[[sa.TransportRequest], Any], **kwargs: Any) -> sa.SoraClient:
    kwargs.setdefault("retry", FAST)
    return sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), **kwargs)


def answer(body: Any, status: int = 200, **headers: str) -> sa.TransportResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sa.TransportResponse(status, headers, raw)


# --- every item gets an answer -------------------------------------------------------------------------

WEIRD = [
    ValueError("invalid header value"),
    KeyError("surprise"),
    RecursionError("deep"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    RuntimeError("boom"),
    ZeroDivisionError("x"),
    OSError(5, "I/O error"),
]


@pytest.mark.parametrize("exc", WEIRD, ids=lambda e: type(e).__name__)
async def test_anything_a_transport_raises_is_an_sdk_error_that_keeps_its_cause(exc: Exception) -> None:
    """An exception the client did not foresee reaches the caller as UnexpectedError with the cause."""

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        raise exc

    async with client(handler) as c:
        with pytest.raises(sa.UnexpectedError) as info:
            await c.create_video(REQ)
    assert info.value.cause is exc
    assert info.value.__cause__ is exc
    assert type(exc).__name__ in str(info.value)


class _FailingLimiter(Limiter):
    def __init__(self, where: str, exc: BaseException) -> None:
        self.where = where
        self.exc = exc

    async def acquire(self) -> None:
        if self.where == "acquire":
            raise self.exc

    def observe(self, *, started: float, throttled: bool) -> None:
        if self.where == "observe":
            raise self.exc


@pytest.mark.parametrize("stage", ["acquire", "observe", "transport", "dialect", "on_retry"])
@pytest.mark.parametrize("exc", WEIRD[:3], ids=lambda e: type(e).__name__)
async def test_submit_many_answers_every_item_whatever_a_stage_raises(stage: str, exc: Exception) -> None:
    """At every stage, an injected exception becomes that item's error; no item is dropped or hangs."""
    calls = 0

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        nonlocal calls
        calls += 1
        if stage == "transport" and calls % 2:
            raise exc
        if stage == "on_retry" and calls % 2:
            return answer({}, 503)
        return OK

    def on_retry(event: sa.RetryEvent) -> None:
        raise exc

    limiter = _FailingLimiter(stage, exc)
    c = client(handler, rate_limit=limiter, on_retry=on_retry if stage == "on_retry" else None)
    if stage == "dialect":

        def broken(payload: object) -> str | None:
            raise exc

        object.__setattr__(c, "_dialect", _with_create_parser(c.dialect, broken))
    async with c:
        results = await asyncio.wait_for(_collect(c.submit_many([REQ] * 10)), 10)
    assert sorted(r.index for r in results) == list(range(10))
    failed = [r for r in results if not r.ok]
    assert failed, "the injected exception reached no item"
    for result in failed:
        assert isinstance(result.error, sa.SoraError)
        assert result.idempotency_key


def _with_create_parser(dialect: sa.Dialect, parse: Callable[[object], str | None]) -> sa.Dialect:
    class Broken(type(dialect)):  # type: ignore[misc]
        def task_id_from_create(self, payload: object) -> str | None:
            return parse(payload)

    broken = object.__new__(Broken)
    for field in type(dialect).__attrs_attrs__:
        object.__setattr__(broken, field.name, getattr(dialect, field.name))
    return broken


async def _collect(stream: Any) -> list[sa.SubmitResult]:
    return [result async for result in stream]


async def test_creates_queued_for_a_slot_when_the_client_closes_fail_and_hand_the_slot_on() -> None:
    """Queued creates that get their slot after aclose() end in ConfigurationError, nothing sent,
    and each gives the slot back: no later waiter, create or query, is left waiting."""
    release, arrived = asyncio.Event(), asyncio.Event()
    sent: list[str] = []

    async def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request.method)
        arrived.set()
        await release.wait()
        return OK

    c = client(handler, max_concurrency=1)
    first = asyncio.ensure_future(c.create_video(REQ))
    queued = [asyncio.ensure_future(c.create_video(REQ)) for _ in range(3)]
    await asyncio.wait_for(arrived.wait(), 5)
    await c.aclose()
    release.set()
    assert await asyncio.wait_for(first, 5) == "task_1"
    outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 5)
    assert all(isinstance(o, sa.ConfigurationError) for o in outcomes), outcomes
    assert sent == ["POST"]  # only the create in flight before the close was sent


@pytest.mark.parametrize(
    ("call", "retry_ambiguous", "expected"),
    [
        ("create", False, sa.ConfigurationError),  # a 503: nothing was made, the close is the answer
        ("create", True, sa.AmbiguousSubmissionError),  # a 500 retried by choice: it may exist
        ("get", False, sa.ConfigurationError),
    ],
)
async def test_a_call_backing_off_when_the_client_closes_sends_nothing_more(
    call: str, retry_ambiguous: bool, expected: type[sa.SoraError]
) -> None:
    """A call waiting out a retry's backoff when aclose() runs makes no attempt more: no request
    goes out after the close, and the call ends in an SDK error (ambiguous if an attempt may have
    created a task)."""
    sent: list[str] = []
    failed = asyncio.Event()
    status = 500 if retry_ambiguous else 503

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request.method)
        failed.set()
        return answer({"code": "error", "message": "busy"}, status)

    policy = sa.RetryPolicy(initial_backoff=0.2, max_backoff=0.2, retry_ambiguous=retry_ambiguous)
    c = client(handler, retry=policy)
    running = asyncio.ensure_future(c.create_video(REQ) if call == "create" else c.get_task("task_1"))
    await asyncio.wait_for(failed.wait(), 5)  # attempt 1 failed: the call is in its backoff
    await c.aclose()
    with pytest.raises(expected) as info:
        await asyncio.wait_for(running, 5)
    assert len(sent) == 1
    if expected is sa.AmbiguousSubmissionError:
        assert isinstance(info.value.__cause__, sa.ConfigurationError)


async def test_a_long_server_wait_ends_when_the_client_closes() -> None:
    """A call waiting out a 30 s Retry-After when aclose() runs ends at once, not 30 s later."""
    failed = asyncio.Event()

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        failed.set()
        return answer({"code": "error", "message": "busy"}, 503, **{"Retry-After": "30"})

    c = client(handler, retry=sa.RetryPolicy())
    running = asyncio.ensure_future(c.get_task("task_1"))
    await asyncio.wait_for(failed.wait(), 5)
    await c.aclose()
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await asyncio.wait_for(running, 5)  # the 30 s wait would have run out this bound


async def test_a_create_waiting_for_its_rate_token_when_the_client_closes_is_not_sent() -> None:
    """Under a RateLimit, a create that gets its token only after aclose() sends nothing."""
    sent: list[bytes | None] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request.body)
        return OK

    c = client(handler, rate_limit=sa.RateLimit(5, burst=1))  # a MockTransport the client does not own
    assert await asyncio.wait_for(c.create_video(REQ), 5) == "task_1"
    waiting = asyncio.ensure_future(c.create_video(REQ))  # its token comes in 0.2 s
    await asyncio.sleep(0.02)
    await c.aclose()
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await asyncio.wait_for(waiting, 5)
    assert len(sent) == 1


async def test_wait_for_task_between_polls_ends_when_the_client_closes() -> None:
    """A wait_for_task sleeping between polls when aclose() runs ends at once with ConfigurationError."""
    polled = asyncio.Event()

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        polled.set()
        return answer({"code": "success", "data": {"task_id": "task_1", "status": "IN_PROGRESS"}})

    c = client(handler)
    waiting = asyncio.ensure_future(c.wait_for_task("task_1", poll_interval=30, max_poll_interval=30))
    await asyncio.wait_for(polled.wait(), 5)
    await c.aclose()
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await asyncio.wait_for(waiting, 5)


async def test_a_closed_aiohttp_transport_stays_closed() -> None:
    """A request after aclose() is refused before any I/O, and no new session is opened (one that
    nobody would ever close)."""
    transport = AiohttpTransport()
    await transport.aclose()
    request = sa.TransportRequest("GET", "http://127.0.0.1:9/sora/v1/videos/task_1", {})
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await transport.send(request, max_body=100)
    with pytest.raises(sa.ConfigurationError, match="closed"):
        async with transport.stream(request):
            pass
    assert transport.closed


async def test_a_stream_first_read_after_the_client_closed_answers_every_item() -> None:
    """submit_many called on an open client and read only after aclose(): every item gets its
    ConfigurationError result and the stream ends (its workers start after the close)."""
    sent: list[str] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request.method)
        return OK

    c = client(handler, max_concurrency=2)
    async with c:
        stream = c.submit_many([REQ] * 6)
    results = await asyncio.wait_for(_collect(stream), 5)
    assert sorted(r.index for r in results) == list(range(6))
    assert all(isinstance(r.error, sa.ConfigurationError) for r in results)
    assert sent == []


async def test_a_retry_does_not_run_inside_the_handling_of_attempt_one() -> None:
    """The retry loop runs after attempt 1's error is handled, not inside its except: an
    on_retry callback sees no exception being handled, and the final error is not chained to
    attempt 1's."""
    answers = iter([answer({"code": "upstream_error"}, status=503), OK])
    seen: list[object] = []

    def on_retry(event: sa.RetryEvent) -> None:
        seen.append(sys.exc_info()[1])

    async with client(lambda request: next(answers), on_retry=on_retry) as c:
        assert await c.create_video(REQ) == "task_1"
    assert seen == [None]


async def test_closing_the_client_under_a_stream_still_answers_every_item() -> None:
    """aclose() cancels the work in flight; each item taken still gets a result, and the stream ends."""
    release = asyncio.Event()

    async def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        await release.wait()
        return OK

    c = client(handler, max_concurrency=2)
    async with c:
        stream = c.submit_many([REQ] * 5, max_pending=3)
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        closing = asyncio.ensure_future(c.aclose())
        result = await asyncio.wait_for(first, 5)
        await closing
        assert isinstance(result.error, sa.ConfigurationError)
        rest = await asyncio.wait_for(_collect(stream), 5)
    results = [result, *rest]
    assert sorted(r.index for r in results) == [0, 1, 2, 3, 4]  # every item, once: none sent after close
    assert all(isinstance(r.error, sa.ConfigurationError) for r in results)
    assert len({r.idempotency_key for r in results}) == 5


async def one_then_rest_after(next_item: asyncio.Event, rest: int, thrown: list[BaseException]) -> Any:
    """An async input: one request, then ``rest`` more once ``next_item`` is set; whatever is thrown
    into it lands in ``thrown``."""
    try:
        yield REQ
        await next_item.wait()
        for _ in range(rest):
            yield REQ
    except BaseException as exc:
        thrown.append(exc)
        raise


async def test_closing_the_client_under_an_async_input_still_answers_every_item_it_holds() -> None:
    """A worker waiting for an async generator's next item when the client closes: the generator is
    not thrown into (it is the caller's), and every item it goes on to yield gets an answer."""
    produced = asyncio.Event()
    thrown: list[BaseException] = []
    c = client(lambda request: OK, max_concurrency=2)
    async with c:
        stream = c.submit_many(one_then_rest_after(produced, 3, thrown))
        first = await asyncio.wait_for(stream.__anext__(), 5)
        assert first.ok
        await c.aclose()  # a worker is waiting inside the generator now
        produced.set()
        rest = await asyncio.wait_for(_collect(stream), 5)
    assert thrown == []
    assert [r.index for r in rest] == [1, 2, 3]
    assert all(isinstance(r.error, sa.ConfigurationError) for r in rest)


async def test_an_item_read_in_the_instant_the_client_closes_is_answered_not_lost() -> None:
    """The generator yields its next item in the same instant as the client closes (the cancelled
    worker never takes it): the item goes to the next taker, and every item gets an answer."""
    produced = asyncio.Event()
    thrown: list[BaseException] = []
    c = client(lambda request: OK, max_concurrency=2)
    async with c:
        stream = c.submit_many(one_then_rest_after(produced, 3, thrown))
        assert (await asyncio.wait_for(stream.__anext__(), 5)).ok
        produced.set()  # the waiting read finishes in the next step, before the worker's cancel lands
        await c.aclose()
        rest = await asyncio.wait_for(_collect(stream), 5)
    assert thrown == []
    assert [r.index for r in rest] == [1, 2, 3]
    assert all(isinstance(r.error, sa.ConfigurationError) for r in rest)


async def test_leaving_a_stream_ends_a_read_of_its_async_input_under_way() -> None:
    """The consumer leaves while a worker waits for the generator: that read is cancelled (nobody
    will take its item), and nothing is left running."""
    thrown: list[BaseException] = []
    async with client(lambda request: OK, max_concurrency=2) as c:
        stream = c.submit_many(one_then_rest_after(asyncio.Event(), 1, thrown))  # never set
        assert (await asyncio.wait_for(stream.__anext__(), 5)).ok
        await asyncio.wait_for(stream.aclose(), 5)
        await asyncio.sleep(0)  # the cancelled read's own step
        assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left running
    assert len(thrown) == 1 and isinstance(thrown[0], asyncio.CancelledError)


async def test_an_async_input_is_shared_by_the_workers_without_losing_or_repeating_an_item() -> None:
    """An async generator that suspends between items is read by one worker at a time."""
    seen: list[bytes | None] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        seen.append(request.body)
        return OK

    async def items() -> Any:
        for n in range(40):
            await asyncio.sleep(0)  # each item takes a suspension to produce
            yield sa.SubmitItem(sa.VideoRequest(prompt=f"fox {n}"), tag=n)

    async with client(handler, max_concurrency=8) as c:
        results = await asyncio.wait_for(_collect(c.submit_many(items())), 10)
    assert sorted(r.tag for r in results) == list(range(40))
    assert sorted(r.index for r in results) == list(range(40))
    assert all(r.index == r.tag for r in results)
    assert len(seen) == 40 and len(set(seen)) == 40


async def test_an_input_that_raises_ends_the_stream_with_its_error_after_the_results_so_far() -> None:
    """The caller's own generator failing is the caller's error, as in a plain loop over it."""

    def items() -> Any:
        yield REQ
        yield REQ
        raise LookupError("the caller's data source broke")

    got: list[sa.SubmitResult] = []

    async def consume(stream: Any) -> None:
        async for result in stream:
            got.append(result)

    async with client(lambda request: OK, max_concurrency=1) as c:
        with pytest.raises(LookupError, match="data source broke"):
            await consume(c.submit_many(items()))
    assert [r.ok for r in got] == [True, True]


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_an_input_that_raises_with_items_in_flight_answers_every_item_before_its_error(
    kind: str,
) -> None:
    """Items already sent when the input fails still get their results (they may have created
    tasks), and only then does the stream raise the input's error; nothing more is read from it."""
    release = asyncio.Event()

    async def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        await release.wait()  # every create is in flight when the input fails
        return OK

    def plain() -> Any:
        for n in range(3):
            yield sa.SubmitItem(REQ, tag=n)
        asyncio.get_running_loop().call_later(0.05, release.set)  # the creates end after the error
        raise LookupError("the caller's data source broke")

    async def in_async() -> Any:
        for item in plain():
            await asyncio.sleep(0)
            yield item

    got: list[sa.SubmitResult] = []

    async def consume(stream: Any) -> None:
        async for result in stream:
            got.append(result)

    async with client(handler, max_concurrency=4) as c:
        with pytest.raises(LookupError, match="data source broke"):
            await asyncio.wait_for(consume(c.submit_many(plain() if kind == "plain" else in_async())), 5)
    assert sorted(r.tag for r in got) == [0, 1, 2]
    assert all(r.ok for r in got)


@pytest.mark.parametrize("leave", ["break", "caller_timeout"])
async def test_a_closed_stream_leaves_its_async_input_at_rest(leave: str) -> None:
    """Once the stream is closed, a read of the caller's generator that was under way has ended:
    its ``finally`` has run, and closing it again (``aclosing``, ``aclose``) works."""
    log: list[str] = []

    async def feed() -> Any:
        try:
            for n in range(100):
                await asyncio.sleep(0.05 if n else 0)  # a read is under way when the consumer leaves
                yield sa.VideoRequest(prompt=f"fox {n}")
        finally:
            log.append("finally")

    async with client(lambda request: OK, max_concurrency=4) as c:
        source = feed()
        if leave == "break":
            async with contextlib.aclosing(c.submit_many(source)) as stream:
                async for _ in stream:
                    break
        else:
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                async with timeout_after(0.02):
                    async for _ in c.submit_many(source):
                        pass
        assert log == ["finally"]
        await source.aclose()  # already at rest: no "asynchronous generator is already running"


async def test_leaving_a_stream_over_a_generator_that_ignores_the_cancel_does_not_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caller's generator that swallows the cancellation of its read: the stream still closes,
    after a bounded grace, and the generator is left to run (it is the caller's)."""
    monkeypatch.setattr(stream_module, "ABANDON_GRACE", 0.05)
    go_on = asyncio.Event()

    async def stubborn() -> Any:
        yield REQ
        try:
            await asyncio.Event().wait()  # the read under way when the consumer leaves
        except asyncio.CancelledError:
            await go_on.wait()  # ignores the cancel, goes on waiting
        yield REQ

    async with client(lambda request: OK, max_concurrency=2) as c:
        source = stubborn()
        async with contextlib.aclosing(c.submit_many(source)) as stream:
            async for _ in stream:
                break
        # reached: the stream closed although the read never ended
        go_on.set()
        for _ in range(20):  # let the generator finish its read, then close it
            await asyncio.sleep(0)
        await source.aclose()


async def test_breaking_out_of_a_stream_cancels_its_work_and_sends_no_more() -> None:
    """Leaving early stops the workers: nothing more is sent once the stream is closed."""
    sent = 0

    async def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        nonlocal sent
        sent += 1
        await asyncio.sleep(0)
        return OK

    async with client(handler, max_concurrency=4) as c:
        stream = c.submit_many([REQ] * 1000, max_pending=8)
        async for _ in stream:
            break
        await stream.aclose()
        after_close = sent
        for _ in range(50):
            await asyncio.sleep(0)
        assert sent == after_close <= 1 + 8


async def test_the_window_counts_results_not_yet_consumed() -> None:
    """A slow consumer holds back new sends: never more than max_pending items taken but not consumed."""
    sent = 0

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        nonlocal sent
        sent += 1
        return OK

    async with client(handler, max_concurrency=4, adaptive=False) as c:
        stream = c.submit_many([REQ] * 100, max_pending=5)
        for consumed in range(1, 21):
            await stream.__anext__()
            for _ in range(20):  # let every send in flight finish before reading on
                await asyncio.sleep(0)
            assert sent <= consumed + 5, (consumed, sent)
        await stream.aclose()


async def test_a_query_takes_no_rate_token() -> None:
    """Queries are free on the relays: get_task never waits on the limiter."""

    class Counting(Limiter):
        acquired = 0

        async def acquire(self) -> None:
            Counting.acquired += 1

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        return answer({"code": "success", "data": {"status": "IN_PROGRESS"}})

    async with client(handler, rate_limit=Counting()) as c:
        for _ in range(3):
            await c.get_task("task_1")
        assert Counting.acquired == 0
        c2 = c.with_options()
        await c2.get_task("task_1")
    assert Counting.acquired == 0


# --- refused before any I/O ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["", "with space", "tab\there", "new\nline", "x" * 256, "caf\u00e9", 5, b"bytes"]
)
async def test_bad_idempotency_keys_are_refused_before_sending(key: Any) -> None:
    """A key a header cannot carry is a ValidationError naming idempotency_key; nothing is sent."""
    transport = sa.MockTransport(lambda r: OK)
    async with sa.SoraClient(KEY, base_url=BASE, transport=transport) as c:
        with pytest.raises(sa.ValidationError, match="idempotency_key"):
            await c.create_video(REQ, idempotency_key=key)
        with pytest.raises(sa.ValidationError, match="idempotency_key"):
            c.submit(REQ, idempotency_key=key)
    assert transport.requests == []


@pytest.mark.parametrize("task_id", ["", ".", "..", "a/b", "a%2Fb", "a b", "x" * 257, "t\n", None, 7])
async def test_bad_task_ids_are_refused_before_sending(task_id: Any) -> None:
    """A task id that could reach another path, or no path, is refused; nothing is sent."""
    transport = sa.MockTransport(lambda r: OK)
    async with sa.SoraClient(KEY, base_url=BASE, transport=transport) as c:
        with pytest.raises(sa.ValidationError, match="task_id"):
            await c.get_task(task_id)
    assert transport.requests == []


async def test_an_api_key_with_whitespace_around_it_is_stripped() -> None:
    """A key pasted with a trailing newline works; the header carries the bare key."""
    transport = sa.MockTransport(lambda r: OK)
    async with sa.SoraClient(f"  {KEY}\n", base_url=BASE, transport=transport) as c:
        await c.create_video(REQ)
    assert transport.requests[0].headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("bad", [f"{KEY[:10]}\n{KEY[10:]}", f"{KEY} tail", f"{KEY}\x00"])
def test_an_api_key_no_header_can_carry_is_refused_without_showing_it(bad: str) -> None:
    """A key with inner whitespace or control characters: ConfigurationError, the key nowhere in it."""
    with pytest.raises(sa.ConfigurationError) as info:
        sa.SoraClient(bad, base_url=BASE)
    assert KEY[:8] not in str(info.value) and KEY[-8:] not in repr(vars(info.value))


def test_extra_headers_with_control_characters_are_refused() -> None:
    """headers= values are checked when the client is built, and the value is not shown."""
    with pytest.raises(sa.ValidationError, match="X-Trace") as info:
        sa.SoraClient(KEY, base_url=BASE, headers={"X-Trace": "a\r\nInjected: yes"})
    assert "Injected" not in str(info.value)


# --- whatever a relay sends, bounded --------------------------------------------------------------------


async def test_an_answer_past_the_size_cap_is_an_sdk_error() -> None:
    """A body larger than max_response_bytes is refused (ambiguous for a create: it may have been made)."""
    huge = answer(b'{"code":"success","data":"' + b"x" * 2_000_000 + b'"}')
    async with client(lambda r: huge, max_response_bytes=1_000_000) as c:
        with pytest.raises(sa.AmbiguousSubmissionError) as info:
            await c.create_video(REQ)
        assert "max_response_bytes" in str(info.value.cause)
        with pytest.raises(sa.APIResponseValidationError):
            await c.get_task("task_1")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"\xef\xbb\xbf\xff\xfe\x00garbage",
        b'{"code":"success","data":"task_',
        b"\x00\x01\x02",
    ],
    ids=["deep-list", "deep-object", "bom-then-binary", "truncated", "binary"],
)
async def test_hostile_bodies_end_in_an_sdk_error(body: bytes) -> None:
    """Any depth, a BOM, non-UTF-8 or a cut-off body: an SDK error with a short message."""
    async with client(lambda r: answer(body)) as c:
        with pytest.raises(sa.SoraError) as info:
            await c.create_video(REQ)
        with pytest.raises(sa.SoraError):
            await c.get_task("task_1")
    assert len(str(info.value)) < 1000


async def test_a_bom_before_a_good_answer_is_fine() -> None:
    """A UTF-8 BOM in front of the envelope is tolerated."""
    async with client(lambda r: answer(b"\xef\xbb\xbf" + OK.body)) as c:
        assert await c.create_video(REQ) == "task_1"


async def test_a_redirect_is_not_followed_for_a_create() -> None:
    """A 307 to another origin is an error naming it; the create is not sent again anywhere."""
    transport = sa.MockTransport(lambda r: answer(b"", 307, Location="https://elsewhere.test/sora/v1/videos"))
    async with sa.SoraClient(KEY, base_url=BASE, transport=transport, retry=FAST) as c:
        with pytest.raises(sa.APIStatusError, match=r"elsewhere\.test") as info:
            await c.create_video(REQ)
    assert info.value.affects_all_requests
    assert len(transport.requests) == 1


@pytest.mark.parametrize("client_timeout", [0.3, 5.0])
async def test_a_callers_deadline_ends_the_call_at_that_deadline(client_timeout: float) -> None:
    """asyncio.wait_for around a call wins even when it equals the client's own timeout."""

    async def never(request: sa.TransportRequest) -> sa.TransportResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    loop = asyncio.get_running_loop()
    async with client(never, timeout=client_timeout) as c:
        started = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.create_video(REQ), 0.3)
        assert loop.time() - started < 0.3 + 0.5
        started = loop.time()
        with pytest.raises(sa.TaskTimeoutError):
            await c.wait_for_task("task_1", timeout=0.3)
        assert loop.time() - started < 0.3 + 0.5


async def test_the_clients_timeout_ends_one_attempt() -> None:
    """No answer within timeout= is APITimeoutError for that attempt (queries are retried)."""

    async def never(request: sa.TransportRequest) -> sa.TransportResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with client(never, timeout=0.05, retry=sa.RetryPolicy.none()) as c:
        with pytest.raises(sa.AmbiguousSubmissionError) as info:
            await c.create_video(REQ)
        assert isinstance(info.value.cause, sa.APITimeoutError)
        with pytest.raises(sa.APITimeoutError):
            await c.get_task("task_1", timeout=0.05)


# --- options ---------------------------------------------------------------------------------------------


async def test_create_video_takes_the_request_fields_as_keywords() -> None:
    """create_video(prompt=..., size=..., duration=...) is a shortcut for a VideoRequest."""
    transport = sa.MockTransport(lambda r: OK)
    async with sa.SoraClient(KEY, base_url=BASE, transport=transport) as c:
        await c.create_video(prompt="a fox", size="1280x720", duration=10)
        with pytest.raises(sa.ValidationError, match="request"):
            await c.create_video(REQ, prompt="both")
    body = json.loads(transport.requests[0].body or b"")
    assert (body["prompt"], body["width"], body["height"], body["n_frames"]) == ("a fox", 1280, 720, 300)


async def test_with_options_shares_connections_gate_and_limiter() -> None:
    """A view changes per-call options only; closing it closes nothing."""
    transport = sa.MockTransport(lambda r: OK)
    async with sa.SoraClient(KEY, base_url=BASE, transport=transport, timeout=30) as c:
        view = c.with_options(timeout=5, headers={"X-Job": "7"})
        assert (view.timeout, c.timeout) == (5, 30)
        assert view.limiter is c.limiter
        await view.create_video(REQ)
        await view.aclose()
        assert not c.closed
        await c.create_video(REQ)
        assert view._shared is c._shared
    assert transport.requests[0].headers["X-Job"] == "7"
    assert "X-Job" not in transport.requests[1].headers


def test_configuration_is_read_only() -> None:
    """Settings cannot be changed after construction (with_options makes a view instead)."""
    c = sa.SoraClient(KEY, base_url=BASE)
    for name in ("base_url", "limiter", "retry", "timeout", "max_concurrency", "dialect"):
        with pytest.raises(AttributeError):
            setattr(c, name, None)


def test_a_client_used_in_a_second_event_loop_still_ends_its_backoffs_at_the_close() -> None:
    """A client (on MockTransport) used under one asyncio.run and then another: in the second, a
    call waiting out a 30 s Retry-After still ends at once when the client closes."""
    answers = iter([OK, answer({"code": "error", "message": "busy"}, 503, **{"Retry-After": "30"})])
    c = client(lambda request: next(answers), retry=sa.RetryPolicy())
    assert asyncio.run(c.create_video(REQ)) == "task_1"

    async def second_loop() -> None:
        backing_off = asyncio.ensure_future(c.get_task("task_1"))
        await asyncio.sleep(0.05)  # answered 503: in its 30 s wait
        await c.aclose()
        with pytest.raises(sa.ConfigurationError, match="closed"):
            await asyncio.wait_for(backing_off, 5)

    asyncio.run(second_loop())


async def test_the_attempt_log_tells_an_attempt_never_sent_from_one_never_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At DEBUG, an attempt cancelled while it waited for its rate token says "not sent"; one
    whose connection failed says "no answer"."""
    caplog.set_level(logging.DEBUG, logger="sora_async")

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        if request.body and b"drop" in request.body:
            raise sa.APIConnectionError("the relay hung up", request_sent=True)
        return OK

    async with client(handler, rate_limit=sa.RateLimit(5, burst=1), retry=sa.RetryPolicy.none()) as c:
        with pytest.raises(sa.AmbiguousSubmissionError):
            await c.create_video(prompt="drop this")  # takes the one token at hand
        waiting = asyncio.ensure_future(c.create_video(REQ))  # its token comes in 0.2 s
        await asyncio.sleep(0.02)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    attempts = [r.getMessage() for r in caplog.records if getattr(r, "attempt", None) is not None]
    assert [a.split(" (")[0] for a in attempts] == [
        "POST /sora/v1/videos -> no answer",
        "POST /sora/v1/videos -> not sent",
    ]


BAD_CALL_OPTIONS = [
    ({"timeout": float("nan")}, "'timeout'"),
    ({"timeout": -1}, "'timeout'"),
    ({"timeout": 0}, "'timeout'"),
    ({"timeout": "5"}, "'timeout'"),
    ({"timeout": float("inf")}, "'timeout'"),
    ({"retry": "twice"}, "'retry'"),
]


@pytest.mark.parametrize("call", ["create_video", "get_task", "submit", "submit_many", "download_video"])
@pytest.mark.parametrize(("options", "named"), BAD_CALL_OPTIONS, ids=lambda v: repr(v))
async def test_a_bad_per_call_option_is_refused_before_any_request(
    call: str, options: dict[str, Any], named: str, tmp_path: Any
) -> None:
    """A call's own timeout= or retry= that is not a positive finite number of seconds / a
    RetryPolicy: ValidationError naming it, and nothing sent (a NaN timeout never expired)."""
    sent: list[sa.TransportRequest] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request)
        return OK

    async def start(c: sa.SoraClient) -> None:
        if call == "create_video":
            await c.create_video(REQ, **options)
        elif call == "get_task":
            await c.get_task("task_1", **options)
        elif call == "submit":
            await c.submit(REQ, **options)
        elif call == "submit_many":
            c.submit_many([REQ], **options)
        else:
            await c.download_video("https://cdn.test/v.mp4", tmp_path / "v.mp4", **options)

    async with client(handler) as c:
        with pytest.raises(sa.ValidationError, match=named):
            await start(c)
    assert sent == []


@pytest.mark.parametrize("name", ["timeout", "poll_interval", "max_poll_interval"])
@pytest.mark.parametrize("value", [float("nan"), -1, 0, float("inf"), "2"], ids=repr)
async def test_wait_for_task_refuses_a_bad_time_before_any_request(name: str, value: Any) -> None:
    """wait_for_task(timeout=nan) waited forever, and poll_interval=nan broke the loop's timers."""
    sent: list[sa.TransportRequest] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request)
        return OK

    async with client(handler) as c:
        with pytest.raises(sa.ValidationError, match=f"'{name}'"):
            await c.wait_for_task("task_1", **{name: value})
    assert sent == []


async def test_a_callback_that_is_not_callable_is_refused_by_name(tmp_path: Any) -> None:
    """on_progress=5 reached wait_for_task's first poll as a raw TypeError; on_retry=5 a retry."""
    sent: list[sa.TransportRequest] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        sent.append(request)
        return OK

    with pytest.raises(sa.ValidationError, match="'on_retry'"):
        sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), on_retry=5)  # type: ignore[arg-type]
    async with client(handler) as c:
        with pytest.raises(sa.ValidationError, match="'on_progress'"):
            await c.wait_for_task("task_1", on_progress=5)  # type: ignore[arg-type]
        with pytest.raises(sa.ValidationError, match="'on_progress'"):
            await c.download_video("https://cdn.test/v.mp4", tmp_path / "v.mp4", on_progress=5)  # type: ignore[arg-type]
    assert sent == []
