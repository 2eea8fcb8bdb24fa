"""The adaptive limiter: open until the first 429, then paced at the rate the relay has shown.

The unit tests run on a virtual loop clock (exact, instant); the last one finds a mock relay's limit.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

import sora_async as sa
from sora_async.limits import AdaptiveLimiter, NoLimit, TokenBucket
from sora_async.limits._estimate import shown_rate
from sora_async.mock import MockRelay
from tests.start_times import max_starts_in_window, starts_of
from tests.virtual_clock import TOLERANCE, virtual_time


async def started(limiter: sa.Limiter, count: int) -> list[asyncio.Future[None]]:
    """``count`` acquisitions in flight, after one turn of the loop each could take."""
    tasks = [asyncio.ensure_future(limiter.acquire()) for _ in range(count)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return list(tasks)


async def paced(rate: float, burst: int = 5) -> AdaptiveLimiter:
    """A limiter past its first 429, pacing at ``rate`` with a first wave of ``burst`` accepted."""
    limiter = AdaptiveLimiter()
    loop = asyncio.get_running_loop()
    for _ in range(burst):
        await limiter.acquire()
        limiter.observe(started=loop.time(), throttled=False)
    limiter.observe(started=loop.time(), throttled=True)
    limiter.rate = rate
    return limiter


async def test_until_the_first_429_acquire_only_counts() -> None:
    """Answered starts grow the window twice as fast as they use it: no waits, no sleeps, no rate."""
    with virtual_time() as clock:
        limiter = AdaptiveLimiter()
        begin = clock.now
        for _ in range(2000):
            await limiter.acquire()
            limiter.observe(started=clock.now, throttled=False)
        assert clock.now - begin < TOLERANCE
    assert limiter.rate == float("inf") and not limiter._open  # the window is dropped for good
    assert not limiter._waiters and not limiter._queue


async def test_the_slow_start_window_bounds_the_first_wave() -> None:
    """Before any answer only INITIAL_WINDOW start; each accepted answer lets two more through."""
    with virtual_time():
        limiter = AdaptiveLimiter()
        tasks = await started(limiter, 10)
        assert sum(t.done() for t in tasks) == AdaptiveLimiter.INITIAL_WINDOW
        limiter.observe(started=0.0, throttled=False)
        await asyncio.sleep(0)
        assert sum(t.done() for t in tasks) == AdaptiveLimiter.INITIAL_WINDOW + 2
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_start_goes_on_when_no_answer_comes() -> None:
    """A relay that never answers (every attempt fails) does not stall starts for ever: STALL at most."""
    with virtual_time() as clock:
        limiter = AdaptiveLimiter()
        for _ in range(AdaptiveLimiter.INITIAL_WINDOW):
            await limiter.acquire()
        begin = clock.now
        await limiter.acquire()
        assert clock.now - begin == pytest.approx(AdaptiveLimiter.STALL, abs=TOLERANCE)


async def test_the_first_429_starts_pacing_from_what_was_accepted() -> None:
    """The first 429 seeds the rate and the burst from the accepted first wave; waiters get paced."""
    with virtual_time() as clock:
        limiter = AdaptiveLimiter()
        for _ in range(6):
            await limiter.acquire()
            limiter.observe(started=clock.now, throttled=False)
        waiting = await started(limiter, 30)
        in_window = sum(t.done() for t in waiting)
        assert in_window == AdaptiveLimiter.INITIAL_WINDOW + 2 * 6 - 6
        limiter.observe(started=clock.now, throttled=True)
        assert limiter.rate == pytest.approx(6.0) and limiter._burst == 6
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        # The rest are released into the pacer, one interval apart, not all at once.
        assert sum(t.done() for t in waiting) <= in_window + 1
        await asyncio.sleep(1.0)
        assert sum(t.done() for t in waiting) <= in_window + 1 + 6
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


async def test_paced_starts_are_one_interval_apart() -> None:
    """At a fixed rate (the growth switched off), starts are exactly 1 / rate apart."""
    with virtual_time():
        limiter = await paced(40.0)
        limiter.growth_interval = 3600.0
        starts = await starts_of(limiter, 20)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1 / 40] * 19, abs=TOLERANCE)


async def test_the_rate_doubles_per_answered_step_until_a_second_429() -> None:
    """With callers queued and no upper bound yet, the rate doubles each step the relay answered in;
    with no answers it holds."""
    with virtual_time() as clock:
        limiter = await paced(10.0)
        await starts_of(limiter, 12)
        assert limiter.rate == 10.0  # no answers: no growth

        async def answered() -> None:
            await limiter.acquire()
            limiter.observe(started=clock.now, throttled=False)

        await asyncio.gather(*(answered() for _ in range(12)))
    assert limiter.rate >= 40


async def test_a_429_settles_at_the_rate_the_relay_has_shown() -> None:
    """Accepted starts 25 ms apart then a 429 at 80/s: with the first wave's burst of 5, the 41 starts
    in 1 s prove (41 - 5) / 1 s = 36/s, and the rate settles just under that."""
    with virtual_time() as clock:
        limiter = await paced(80.0)
        start = clock.now
        for i in range(41):
            limiter.observe(started=start + i * 0.025, throttled=False)
        await asyncio.sleep(1.1)
        limiter.observe(started=clock.now, throttled=True)
    assert limiter.rate == pytest.approx(36 * AdaptiveLimiter.MARGIN)
    assert limiter._measured and limiter._upper == 80.0


async def test_429s_of_attempts_sent_before_the_cut_are_not_counted_twice() -> None:
    """A throttle of an attempt that started before the first slot at the new rate changes nothing."""
    with virtual_time() as clock:
        limiter = await paced(80.0)
        before = clock.now
        limiter.observe(started=clock.now, throttled=True)
        rate = limiter.rate
        limiter.observe(started=before, throttled=True)
        assert limiter.rate == rate


def test_shown_rate_reads_the_gcra_bound_backwards() -> None:
    """21 starts 50 ms apart with burst 1 prove 20/s; with burst 5 only 16/s; short runs prove nothing."""
    starts = [i * 0.05 for i in range(21)]
    assert shown_rate(starts, burst=1, min_span=0.1) == pytest.approx(20.0)
    assert shown_rate(starts, burst=5, min_span=0.1) == pytest.approx(16.0)
    assert shown_rate(starts[:2], burst=1, min_span=0.1) == 0.0


@pytest.mark.parametrize(("seconds", "held"), [(1.0, 0.0), (3.0, 2.0), (0.25, 0.25)])
async def test_a_pause_holds_the_certain_part_of_the_wait(seconds: float, held: float) -> None:
    """Whole seconds (Retry-After: n) hold n - 1 s, the part that is certain; a wait in ms all of it."""
    with virtual_time() as clock:
        limiter = AdaptiveLimiter()
        await limiter.pause(seconds)
        begin = clock.now
        await limiter.acquire()
        assert clock.now - begin == pytest.approx(held, abs=TOLERANCE)


async def test_a_fixed_rate_is_a_ceiling_it_never_exceeds() -> None:
    """SoraClient(rate_limit=RateLimit(30), adaptive=True): paced at 30/s from the start, never above."""
    client = sa.SoraClient("k", base_url="https://relay.example", rate_limit=sa.RateLimit(30), adaptive=True)
    limiter = client.limiter
    assert isinstance(limiter, AdaptiveLimiter)
    with virtual_time():
        starts = await starts_of(limiter, 40)
    assert limiter.rate <= 30
    assert max_starts_in_window(starts, 1.0) <= 31


@pytest.mark.parametrize("state", ["slow-start window", "paced queue", "paused"])
async def test_acquire_is_cancellable_in_every_state(state: str) -> None:
    """Whatever the adaptive limiter waits for, cancelling the wait ends it at once, and frees the way."""
    with virtual_time() as clock:
        limiter = AdaptiveLimiter() if state != "paced queue" else await paced(1.0)
        if state == "slow-start window":
            for _ in range(AdaptiveLimiter.INITIAL_WINDOW):
                await limiter.acquire()
        elif state == "paced queue":
            await limiter.acquire()
        else:
            await limiter.pause(30.5)
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0.5)
        assert not waiter.done()
        cancelled_at = clock.now
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert clock.now - cancelled_at < TOLERANCE
        await asyncio.sleep(31)
        await limiter.acquire()  # nothing left stuck behind the cancelled call
        await limiter.aclose()


def test_client_limiter_choice() -> None:
    """No rate: adaptive. A rate: a token bucket. adaptive=False without a rate: no limit at all."""

    def make(**kw: Any) -> sa.Limiter:
        return sa.SoraClient("k", base_url="https://r.example", **kw).limiter

    assert isinstance(make(), AdaptiveLimiter)
    assert isinstance(make(rate_limit=sa.RateLimit(5)), TokenBucket)
    assert isinstance(make(adaptive=False), NoLimit)
    with pytest.raises(sa.ValidationError, match="'adaptive'"):
        make(rate_limit=NoLimit(), adaptive=True)


@pytest.mark.parametrize("retry_after", ["none", "ms", "seconds"])
async def test_a_client_given_no_rate_finds_the_relays_limit(retry_after: str) -> None:
    """Against 50 req/s burst 5 with no rate given: few 429s, nothing lost, and the rate found is near 50."""
    async with MockRelay(rate=50, burst=5, retry_after=retry_after) as relay:
        policy = sa.RetryPolicy(max_attempts=10)
        async with sa.SoraClient("k", base_url=relay.url, max_concurrency=64, retry=policy) as client:
            results = [r async for r in client.submit_many(sa.VideoRequest(prompt="x") for _ in range(300))]
            limiter = client.limiter
        assert all(r.ok for r in results)
        assert relay.stats.rate_limited <= 0.1 * 300
        assert isinstance(limiter, AdaptiveLimiter)
        assert 35 <= limiter.rate <= 60
