"""The limiter, the concurrency gate and cancellation: slots and tokens are never leaked."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

import sora_async as sa
from sora_async.limits import NoLimit, TokenBucket, make_limiter
from sora_async.limits._bucket import TIMER_SLACK
from tests.scripted import Reply, ScriptedServer, envelope
from tests.start_times import max_starts_in_window, starts_of
from tests.virtual_clock import TOLERANCE, virtual_time

REQ = sa.VideoRequest(prompt="a fox in snow")


async def test_token_bucket_conforms_to_burst_plus_rate() -> None:
    """In any window T at most burst + rate*T acquisitions start, and no fewer than the rate allows."""
    rate, burst = 40.0, 4
    with virtual_time() as clock:
        bucket = TokenBucket(sa.RateLimit(rate, burst=burst))
        await bucket.acquire()
        await asyncio.sleep(10)  # a quiet spell fills the bucket
        begin = clock.now
        starts = await starts_of(bucket, 30)
    for window in (0.0, 0.05, 0.1, 0.25, 0.5):
        assert max_starts_in_window(starts, window) <= burst + rate * window, window
    # It does not crawl either: the burst at once, then exactly one start per interval.
    assert starts[-1] - begin == pytest.approx((30 - burst) / rate, abs=TOLERANCE)


async def test_a_full_bucket_lets_exactly_the_burst_start_at_once() -> None:
    """After a quiet spell, `burst` acquisitions start together - not one, not the whole rate."""
    with virtual_time() as clock:
        bucket = TokenBucket(sa.RateLimit(40, burst=4))
        await bucket.acquire()
        await asyncio.sleep(10)
        begin = clock.now
        starts = await starts_of(bucket, 8)
    assert starts[:4] == pytest.approx([begin] * 4, abs=TOLERANCE)
    assert starts[4:] == pytest.approx([begin + i / 40 for i in range(1, 5)], abs=TOLERANCE)


async def test_a_new_bucket_starts_cold() -> None:
    """The first acquisitions of a new bucket come one interval apart: its burst is earned, not given."""
    with virtual_time() as clock:
        begin = clock.now
        starts = await starts_of(TokenBucket(sa.RateLimit(40, burst=4)), 6)
    assert starts == pytest.approx([begin + i / 40 for i in range(6)], abs=TOLERANCE)


async def test_burst_one_spaces_starts_by_the_interval_less_the_timer_slack() -> None:
    """RateLimit(50): starts are 20 ms apart, up to TIMER_SLACK early once, never two at once."""
    with virtual_time():
        starts = await starts_of(TokenBucket(sa.RateLimit(50)), 20)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 50 - TIMER_SLACK - TOLERANCE
    assert starts[-1] - starts[0] == pytest.approx(19 / 50, abs=TIMER_SLACK + TOLERANCE)


async def test_pause_holds_back_acquisitions() -> None:
    """pause(s) delays every acquire that comes after it by exactly s."""
    for limiter in (NoLimit(), TokenBucket(sa.RateLimit(1000, burst=10))):
        with virtual_time() as clock:
            await limiter.pause(0.1)
            begin = clock.now
            await limiter.acquire()
            assert clock.now - begin == pytest.approx(0.1, abs=TOLERANCE)


async def test_a_bucket_resumes_at_the_steady_rate_after_a_pause() -> None:
    """After a server-ordered pause the bucket does not spend its burst: starts come one interval apart."""
    with virtual_time() as clock:
        bucket = TokenBucket(sa.RateLimit(100, burst=10))
        await bucket.acquire()
        await asyncio.sleep(5)  # full
        await bucket.pause(1.0)
        end_of_pause = clock.now + 1.0
        starts = await starts_of(bucket, 4)
    assert starts == pytest.approx([end_of_pause + i / 100 for i in range(4)], abs=TOLERANCE)


async def test_cancelling_a_limiter_wait_leaves_no_waiter() -> None:
    """A task cancelled while queued for a token does not block later ones, nor take their token."""
    with virtual_time() as clock:
        bucket = TokenBucket(sa.RateLimit(5, burst=1))
        await bucket.acquire()
        first = clock.now
        waiter = asyncio.ensure_future(bucket.acquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await bucket.acquire()
        assert clock.now - first == pytest.approx(1 / 5, abs=TIMER_SLACK + TOLERANCE)


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        ("NoLimit", "paused"),
        ("TokenBucket", "paused"),
        ("TokenBucket", "out of tokens"),
        ("TokenBucket", "paused and out of tokens"),
    ],
)
async def test_every_local_limiter_acquire_is_cancellable(kind: str, state: str) -> None:
    """Whatever a local limiter waits for (a pause, a token), cancelling the wait ends it at once."""
    with virtual_time() as clock:
        limiter = NoLimit() if kind == "NoLimit" else TokenBucket(sa.RateLimit(1, burst=2))
        if "tokens" in state:
            await limiter.acquire()
        if "paused" in state:
            await limiter.pause(30)
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0.5)
        assert not waiter.done()
        cancelled_at = clock.now
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert clock.now - cancelled_at < TOLERANCE


def test_rate_limit_validation_names_the_field() -> None:
    """RateLimit rejects nonsense with the argument named."""
    for kwargs, field in (
        ({"rate": 0}, "rate"),
        ({"rate": 1, "per": -1}, "per"),
        ({"rate": 1, "burst": 0}, "burst"),
    ):
        with pytest.raises(sa.ValidationError) as info:
            sa.RateLimit(**kwargs)
        assert info.value.field == field
    assert sa.RateLimit(600, per=60).per_second == 10


def test_make_limiter_accepts_a_custom_limiter() -> None:
    """A Limiter subclass plugs in as it is; a RateLimit becomes a token bucket, None no limit."""
    custom = NoLimit()
    assert make_limiter(custom) is custom
    assert isinstance(make_limiter(sa.RateLimit(3)), TokenBucket)
    assert isinstance(make_limiter(None), NoLimit)


class Unlimited(sa.Limiter):
    """The smallest user limiter: only acquire() written."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


async def test_limiter_base_class_hooks_default_to_no_ops() -> None:
    """A subclass writes acquire() only; pause, observe, aclose and async with do nothing harmful."""
    limiter = Unlimited()
    async with limiter as entered:
        assert entered is limiter
        await limiter.pause(5.0)
        limiter.observe(started=0.0, throttled=True)
        await limiter.acquire()
    await limiter.aclose()
    assert limiter.acquired == 1
    with pytest.raises(TypeError, match="abstract"):
        sa.Limiter()  # type: ignore[abstract]


def test_a_limiter_must_subclass_the_base_class() -> None:
    """An object with acquire() and pause() but not a Limiter is refused, naming rate_limit and the fix."""

    class DuckTyped:
        async def acquire(self) -> None:
            pass

        async def pause(self, seconds: float) -> None:
            pass

    with pytest.raises(sa.ValidationError, match=r"subclass sora_async\.Limiter") as info:
        sa.SoraClient("k", base_url="https://relay.example", rate_limit=DuckTyped(), adaptive=False)  # type: ignore[arg-type]
    assert info.value.field == "rate_limit"
    with pytest.raises(sa.ValidationError) as other:
        make_limiter(42)
    assert other.value.field == "rate_limit" and "subclass sora_async" not in str(other.value)


async def test_client_closes_the_limiter_it_built_and_not_a_given_one(server: ScriptedServer) -> None:
    """aclose() closes a limiter the client made from a RateLimit, never one the caller passed in."""
    closed: list[str] = []

    class Tracked(Unlimited):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        async def aclose(self) -> None:
            closed.append(self.name)

    given = Tracked("given")
    async with sa.SoraClient("k", base_url=server.url, rate_limit=given) as c:
        await c.create_video(REQ)
    assert closed == [] and given.acquired == 1
    built = sa.SoraClient("k", base_url=server.url, rate_limit=sa.RateLimit(5))
    built._limiter = Tracked("built")  # stands in for the bucket it built, to see the call
    await built.aclose()
    assert closed == ["built"]


async def test_client_rate_limit_spaces_requests(server: ScriptedServer) -> None:
    """RateLimit(20, burst=2): 12 creates reach the server no faster than the bucket allows."""
    async with sa.SoraClient("k", base_url=server.url, rate_limit=sa.RateLimit(20, burst=2)) as c:
        await asyncio.gather(*(c.create_video(REQ) for _ in range(12)))
    starts = [s.at for s in server.creates]
    assert max_starts_in_window(starts, 0.2) <= 2 + 20 * 0.2 + 1


async def test_retries_take_tokens_too(server: ScriptedServer) -> None:
    """Every attempt, retries included, takes a token."""
    server.script(*[Reply(status=503, text="")] * 3)
    policy = sa.RetryPolicy(max_attempts=5, initial_backoff=0.0001, max_backoff=0.0001)
    loop = asyncio.get_running_loop()
    async with sa.SoraClient(
        "k", base_url=server.url, rate_limit=sa.RateLimit(20, burst=1), retry=policy
    ) as c:
        started = loop.time()
        await c.create_video(REQ)
    assert len(server.creates) == 4
    assert loop.time() - started >= 3 / 20 * 0.9


async def test_max_concurrency_bounds_requests_in_flight() -> None:
    """No more than max_concurrency requests are in flight at once: the client's own gate, in memory,
    where no connection pool could be what holds them back."""
    in_flight = 0
    peak = 0

    async def counting(request: sa.TransportRequest) -> sa.TransportResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.05)
            return sa.TransportResponse(200, body=b'{"code": "success", "data": "task_1"}')
        finally:
            in_flight -= 1

    transport = sa.MockTransport(counting)
    async with sa.SoraClient("k", base_url="https://relay.test", max_concurrency=3, transport=transport) as c:
        await asyncio.gather(*(c.create_video(REQ) for _ in range(9)))
    assert peak == 3
    assert len(transport.requests) == 9


@pytest.mark.parametrize("where", ["limiter", "backoff", "request"])
async def test_cancellation_never_leaks_a_slot(server: ScriptedServer, where: str) -> None:
    """Cancelled while waiting for a token, sleeping before a retry, or mid-request: slots come back."""
    policy = sa.RetryPolicy(max_attempts=3, initial_backoff=10, max_backoff=10)
    rate = sa.RateLimit(1, burst=1)
    if where == "backoff":
        server.script(Reply(status=503, text=""))
    if where == "request":
        server.script(Reply(delay=10))
    async with sa.SoraClient("k", base_url=server.url, rate_limit=rate, retry=policy, max_concurrency=2) as c:
        if where == "limiter":
            await c.create_video(REQ)  # spends the only token for a second
        handle = c.submit(REQ)
        if where == "limiter":
            await asyncio.sleep(0.1)  # the token comes back only after a second
        else:  # the relay has the request (and, for "backoff", answers 503 at once)
            await server.wait_for_creates(1)
            await asyncio.sleep(0.05)
        assert not handle.done()
        handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        assert c._shared.core is not None
        assert c._shared.core.gate.free == 2  # both slots free again
    assert len(server.creates) == {"limiter": 1, "backoff": 1, "request": 1}[where]


# --- submit_many ----------------------------------------------------------------------------------


async def test_submit_many_yields_one_result_per_item(server: ScriptedServer) -> None:
    """Every item gets a result: ok ones with task ids, failed ones with their error, none raises."""
    server.script(Reply(status=400, json_body=envelope("invalid_request", "no")))
    items: list[sa.VideoRequest | dict[str, object]] = [REQ] * 5 + [{"prompt": "x", "width": 1}]
    async with sa.SoraClient("k", base_url=server.url, max_concurrency=1) as c:
        results = [r async for r in c.submit_many(items)]
    assert sorted(r.index for r in results) == list(range(6))
    by_index = {r.index: r for r in results}
    assert isinstance(by_index[0].error, sa.BadRequestError)
    assert not by_index[0].ok
    assert isinstance(by_index[5].error, sa.ValidationError)
    assert by_index[5].attempts == 0
    assert all(by_index[i].ok and by_index[i].attempts == 1 for i in range(1, 5))
    assert len({r.idempotency_key for r in results}) == 6
    assert len(server.creates) == 5


async def test_submit_many_accepts_async_iterables_and_submit_items(server: ScriptedServer) -> None:
    """An async generator of SubmitItems: keys are used as given, tags come back on results."""

    async def items() -> AsyncIterator[sa.SubmitItem]:
        for i in range(4):
            yield sa.SubmitItem(REQ, idempotency_key=f"key-{i}", tag={"row": i})

    async with sa.SoraClient("k", base_url=server.url) as c:
        results = [r async for r in c.submit_many(items())]
    assert {r.idempotency_key for r in results} == {f"key-{i}" for i in range(4)}
    assert all(r.tag == {"row": int(r.idempotency_key[-1])} for r in results)
    assert {s.headers["Idempotency-Key"] for s in server.creates} == {f"key-{i}" for i in range(4)}


async def test_submit_many_holds_a_bounded_window(server: ScriptedServer) -> None:
    """It pulls items only as fast as results are consumed: never more than max_pending ahead."""
    pulled = 0

    def requests() -> Iterator[sa.VideoRequest]:
        nonlocal pulled
        for _ in range(200):
            pulled += 1
            yield REQ

    seen = 0
    async with sa.SoraClient("k", base_url=server.url, max_concurrency=4) as c:
        async for _ in c.submit_many(requests(), max_pending=8):
            seen += 1
            assert pulled - seen <= 8
    assert seen == 200


async def test_breaking_out_cancels_in_flight_work(server: ScriptedServer) -> None:
    """Leaving the loop early cancels what is in flight and sends nothing more."""
    import contextlib

    server.script(Reply(), *[Reply(delay=10)] * 50)
    async with sa.SoraClient("k", base_url=server.url, max_concurrency=4) as c:
        async with contextlib.aclosing(c.submit_many([REQ] * 1000)) as results:
            async for result in results:
                assert result.ok
                break
        assert not [t for t in c._shared.tasks if not t.done()]
        assert c._shared.core is not None
        assert c._shared.core.gate.free == 4
    assert len(server.creates) <= 1 + 4 + 1
