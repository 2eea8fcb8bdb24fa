"""The resilience promise against the mock relay: never over the limit, nothing lost, nothing paid twice."""

from __future__ import annotations

import asyncio

import pytest

import sora_async as sa
from sora_async._transport import AiohttpTransport
from sora_async.mock import MockConfig, MockRelay
from tests.start_times import max_starts_in_window

REQ = sa.VideoRequest(prompt="a fox in snow")
FAULTS = MockConfig(fail_503=0.05, drop_before=0.02, fail_500_after=0.015, drop_after=0.015)


async def submit_all(client: sa.SoraClient, n: int) -> list[sa.SubmitResult]:
    return [r async for r in client.submit_many(REQ for _ in range(n))]


async def test_a_client_told_the_limit_stays_under_it() -> None:
    """RateLimit(50) against a relay allowing 50/s burst 5: every request accepted, almost no 429s."""
    async with MockRelay(rate=50, burst=5) as relay:
        async with sa.SoraClient(
            "k", base_url=relay.url, rate_limit=sa.RateLimit(50), max_concurrency=64
        ) as c:
            results = await submit_all(c, 150)
        assert all(r.ok for r in results)
        assert relay.stats.rate_limited <= 1
        starts = list(relay.stats.accepted_times)
        for window in (0.1, 0.5, 1.0, 2.0):
            assert max_starts_in_window(starts, window) <= 5 + 50 * window


class _SendTimes(AiohttpTransport):
    """The aiohttp transport, noting when each attempt went out and under which idempotency key."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[float, str | None]] = []

    async def send(
        self, request: sa.TransportRequest, *, max_body: int, timeout: float | None = None
    ) -> sa.TransportResponse:
        self.sent.append((asyncio.get_running_loop().time(), request.headers.get("Idempotency-Key")))
        return await super().send(request, max_body=max_body, timeout=timeout)


@pytest.mark.parametrize("retry_after", ["seconds", "ms", "date"])
async def test_a_429_pause_is_honoured_in_every_form(retry_after: str) -> None:
    """A client told too high a rate is slowed by the relay's hints and still loses nothing: each retry
    waits the hint (capped by max_retry_after), and the same request goes out again no sooner."""
    cap = 0.3
    loop = asyncio.get_running_loop()
    async with MockRelay(rate=40, burst=2, retry_after=retry_after) as relay:
        policy = sa.RetryPolicy(max_attempts=10, max_retry_after=cap)
        events: list[tuple[float, sa.RetryEvent]] = []
        transport = _SendTimes()
        async with sa.SoraClient(
            "k",
            base_url=relay.url,
            rate_limit=sa.RateLimit(60, burst=2),
            retry=policy,
            on_retry=lambda event: events.append((loop.time(), event)),
            transport=transport,
        ) as c:
            results = await submit_all(c, 40)
        await transport.aclose()
        assert all(r.ok for r in results)
        assert relay.stats.accepted == 40
        assert relay.stats.rate_limited > 0
    assert events
    for told_at, event in events:
        assert event.retry_after is not None and event.retry_after > 0
        hint = min(event.retry_after, cap)
        assert event.wait == pytest.approx(hint)
        again = min(t for t, key in transport.sent if key == event.idempotency_key and t > told_at)
        assert again - told_at >= hint - 0.005


async def test_faults_end_in_a_task_id_or_an_ambiguous_error_and_nothing_twice() -> None:
    """5% 503, 2% drops before, 3% ambiguous: each ends with a task id or AmbiguousSubmissionError."""
    async with MockRelay(FAULTS, seed=21) as relay:
        async with sa.SoraClient("k", base_url=relay.url, retry=sa.RetryPolicy(initial_backoff=0.005)) as c:
            results = await submit_all(c, 600)
        ambiguous = [r for r in results if isinstance(r.error, sa.AmbiguousSubmissionError)]
        assert all(r.ok or isinstance(r.error, sa.AmbiguousSubmissionError) for r in results)
        assert ambiguous, "the faults should have produced some ambiguous submissions"
        assert all(r.error.idempotency_key == r.idempotency_key for r in ambiguous)  # type: ignore[union-attr]
        assert relay.stats.duplicates == {}
        assert relay.stats.accepted <= 600


async def test_retrying_ambiguous_failures_against_an_honouring_relay_gets_every_task_once() -> None:
    """retry_ambiguous=True with a relay that honours Idempotency-Key: all get ids, none twice."""
    async with MockRelay(FAULTS, seed=22, honour_idempotency=True) as relay:
        policy = sa.RetryPolicy(initial_backoff=0.005, max_attempts=8, retry_ambiguous=True)
        async with sa.SoraClient("k", base_url=relay.url, retry=policy) as c:
            results = await submit_all(c, 600)
        assert all(r.ok for r in results)
        assert relay.stats.duplicates == {}
        assert relay.stats.accepted == 600
        assert len({r.task_id for r in results}) == 600
