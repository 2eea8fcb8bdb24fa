"""Adaptive rate discovery: the controller's arithmetic, and finding a relay's limit from its 429s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import sora_async as sa
from sora_async.limits import AdaptiveLimiter, NoLimit, TokenBucket
from sora_async.mock import MockRelay
from tests.test_limits import max_starts_in_window


async def test_slow_start_doubles_while_the_limiter_holds_requests_back() -> None:
    """With waiters queued and no 429, the rate doubles every growth interval."""
    limiter = AdaptiveLimiter(initial_rate=20, growth_interval=0.1)
    await asyncio.wait_for(asyncio.gather(*(limiter.acquire() for _ in range(30))), 5)
    assert limiter.rate >= 80


async def test_an_idle_limiter_does_not_grow() -> None:
    """Growth needs demand: one request at a time at a low pace is no reason to speed up."""
    limiter = AdaptiveLimiter(initial_rate=50, growth_interval=0.01)
    for _ in range(5):
        await limiter.acquire()
        await asyncio.sleep(0.05)
    assert limiter.rate == 50


async def test_a_429_settles_under_what_the_relay_accepted() -> None:
    """After the first 429 the rate halves at most; the second sets it just under the measured limit."""
    limiter = AdaptiveLimiter(initial_rate=100, grace=0.0)
    loop = asyncio.get_running_loop()
    now = loop.time()
    limiter.observe(started=now, throttled=True)
    assert limiter.rate == 50  # the first 429 ends the ramp: half, not the ramp's low count
    for i in range(60):  # 30 accepted per second over the two-second window
        limiter.observe(started=now - 1.9 + i * 0.03, throttled=False)
    limiter.rate = 45
    limiter.observe(started=loop.time(), throttled=True)
    assert limiter.rate == pytest.approx(max(45 / 2, 30 * limiter.safety), rel=0.05)


async def test_429s_from_before_a_cut_are_not_counted_twice() -> None:
    """Throttles of requests sent before the last cut could act say nothing about the new rate."""
    limiter = AdaptiveLimiter(initial_rate=100, grace=1.0)
    now = asyncio.get_running_loop().time()
    limiter.observe(started=now, throttled=True)
    assert limiter.rate == 50
    limiter.observe(started=now + 0.01, throttled=True)
    assert limiter.rate == 50


async def test_a_fixed_rate_is_a_ceiling_it_never_exceeds() -> None:
    """SoraClient(rate_limit=RateLimit(30), adaptive=True): growth stops at 30/s."""
    client = sa.SoraClient("k", base_url="https://relay.example", rate_limit=sa.RateLimit(30), adaptive=True)
    limiter = client.limiter
    assert isinstance(limiter, AdaptiveLimiter)
    limiter.growth_interval = 0.01
    await asyncio.gather(*(limiter.acquire() for _ in range(40)))
    assert limiter.rate <= 30


def test_client_limiter_choice() -> None:
    """No rate: adaptive. A rate: a token bucket. adaptive=False without a rate: no limit at all."""

    def make(**kw: Any) -> sa.Limiter:
        return sa.SoraClient("k", base_url="https://r.example", **kw).limiter

    assert isinstance(make(), AdaptiveLimiter)
    assert isinstance(make(rate_limit=sa.RateLimit(5)), TokenBucket)
    assert isinstance(make(adaptive=False), NoLimit)
    with pytest.raises(sa.ValidationError, match="'adaptive'"):
        make(rate_limit=NoLimit(), adaptive=True)


@pytest.mark.parametrize("retry_after", ["none", "ms"])
async def test_a_client_given_no_rate_finds_the_relays_limit(retry_after: str) -> None:
    """Against 50 req/s burst 5 with no rate given: few 429s, nothing lost, and the rate found is near 50."""
    async with MockRelay(rate=50, burst=5, retry_after=retry_after) as relay:
        policy = sa.RetryPolicy(max_attempts=10)
        async with sa.SoraClient("k", base_url=relay.url, max_concurrency=64, retry=policy) as client:
            results = [r async for r in client.submit_many(sa.VideoRequest(prompt="x") for _ in range(300))]
            limiter = client.limiter
        assert all(r.ok for r in results)
        assert relay.stats.rate_limited <= 0.05 * 300
        assert isinstance(limiter, AdaptiveLimiter)
        assert 35 <= limiter.rate <= 60
        assert max_starts_in_window(list(relay.stats.accepted_times), 1.0) <= 5 + 50
