"""The Redis limiter against a real redis-server: the Lua arithmetic, conformance, a fleet, outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

import sora_async as sa
from sora_async.limits import RateLimiterUnavailableError, RedisRateLimiter
from sora_async.limits._redis import SOCKET_TIMEOUT
from sora_async.limits._redis_scripts import ACQUIRE_SCRIPT, PAUSE_SCRIPT
from sora_async.limits._redis_setup import INSTALL_HINT
from sora_async.mock import MockRelay
from tests import redis_worker
from tests.redis_server import RedisServer
from tests.start_times import max_starts_in_window, starts_of

REPO_ROOT = Path(__file__).resolve().parent.parent
LATENCY_SLACK = 0.005
"""Seconds a start seen by the client may lag its grant in Redis by more than another start's does.

Redis grants starts exactly on its own clock (test_script_* check the arithmetic). The client stamps a
start when the reply reaches it, and reply latency varies by a millisecond or so, which can bring two
stamps closer than their grants were. Windows are widened by this much, as test_limits does for timers.
"""


def assert_conforms(starts: list[float], *, rate: float, burst: int, slack: float) -> None:
    """In any window T at most burst + rate * (T + slack) starts (checked on a spread of windows)."""
    for window in (0.0, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0):
        allowed = burst + rate * (window + slack)
        assert max_starts_in_window(starts, window) <= allowed, (window, allowed)


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def make_limiter(redis_server: RedisServer) -> AsyncIterator[Callable[..., RedisRateLimiter]]:
    """Build limiters on the test server (a unique key per test by default); all closed afterwards."""
    made: list[RedisRateLimiter] = []

    def make(**kwargs: Any) -> RedisRateLimiter:
        kwargs.setdefault("key", "test:budget")
        limiter = RedisRateLimiter(kwargs.pop("url", redis_server.url), **kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- construction, without a server --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": ""}, "key"),
        ({"key": 7}, "key"),
        ({"rate": 0}, "rate"),
        ({"rate": True}, "rate"),
        ({"per": -1}, "per"),
        ({"burst": 0}, "burst"),
        ({"burst": 1.5}, "burst"),
        ({"fallback": "remote"}, "fallback"),
        ({"fallback": "local"}, "expected_fleet_size"),
        ({"fallback": "local", "expected_fleet_size": 0}, "expected_fleet_size"),
        ({"jitter": -0.1}, "jitter"),
        ({"url_or_client": "http://127.0.0.1:6379"}, "url_or_client"),
        ({"url_or_client": 6379}, "url_or_client"),
    ],
)
def test_validation_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    """Bad arguments raise ValidationError naming the argument, before any connection."""
    args: dict[str, Any] = {"url_or_client": "redis://127.0.0.1:6379", "key": "k", "rate": 10} | kwargs
    with pytest.raises(sa.ValidationError) as info:
        RedisRateLimiter(args.pop("url_or_client"), **args)
    assert info.value.field == field


def test_secrets_stay_out_of_repr_and_errors() -> None:
    """A URL's password never shows in the repr, nor in the error for a malformed URL."""
    limiter = RedisRateLimiter("redis://user:hunter2@cache.internal:6380/2", key="sora", rate=5)
    assert repr(limiter) == (
        "RedisRateLimiter(redis='cache.internal:6380', key='sora', rate=5, per=1.0, burst=1, fallback=None)"
    )
    with pytest.raises(sa.ValidationError) as info:
        RedisRateLimiter("redis://:hunter2@cache.internal:port/0", key="sora", rate=5)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://localhost", "localhost:6379"),
        ("rediss://:pw@[::1]:6380/1", "[::1]:6380"),
        ("unix:///run/redis.sock?db=0", "/run/redis.sock"),
    ],
)
def test_repr_names_the_address_of_any_url_form(url: str, address: str) -> None:
    """TCP, TLS and unix-socket URLs are accepted and described by their address alone."""
    assert f"redis={address!r}" in repr(RedisRateLimiter(url, key="k", rate=1))


async def test_repr_of_a_given_client_names_its_address() -> None:
    """A limiter over an existing client describes that client's host:port, not its password."""
    client = Redis(host="10.1.2.3", port=7000, password="hunter2")
    try:
        limiter = RedisRateLimiter(client, key="sora", rate=5)
        assert "10.1.2.3:7000" in repr(limiter) and "hunter2" not in repr(limiter)
    finally:
        await client.aclose()


def test_missing_redis_py_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the extra, building a limiter names the pip command; importing the package still works."""
    monkeypatch.setitem(sys.modules, "redis.exceptions", None)
    with pytest.raises(sa.ConfigurationError, match="sora-async\\[redis\\]") as info:
        RedisRateLimiter("redis://127.0.0.1:6379", key="k", rate=1)
    assert INSTALL_HINT in str(info.value)
    code = "import sys; sys.modules['redis'] = None; import sora_async, sora_async.limits._redis"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


# --- the Lua scripts, called directly ------------------------------------------------------------


async def get_int(client: Redis, key: str) -> int:
    value = await client.get(key)
    assert value is not None, key
    return int(value)


async def test_script_allows_the_burst_then_returns_the_wait(redis_client: Redis) -> None:
    """Burst N passes at once; the (N+1)th is told ~1/rate; asking again spends nothing; keys expire."""
    acquire = redis_client.register_script(ACQUIRE_SCRIPT)
    keys, interval, burst = ["s:tat", "s:pause_until"], 100_000, 3  # 10/s, in microseconds
    started = time.monotonic()
    answers = [await acquire(keys=keys, args=[interval, burst]) for _ in range(burst + 1)]
    elapsed_us = (time.monotonic() - started) * 1e6
    assert answers[:burst] == [0] * burst
    assert interval - elapsed_us <= answers[burst] <= interval
    refused_at = time.monotonic()
    again = await acquire(keys=keys, args=[interval, burst])
    assert 0 < again <= answers[burst]  # a refusal changed nothing
    assert 0 < await redis_client.pttl("s:tat") <= burst * interval // 1000 + 1
    await asyncio.sleep(again / 1e6)
    assert await acquire(keys=keys, args=[interval, burst]) == 0
    wait = await acquire(keys=keys, args=[interval, burst])
    # One interval after the start the refusal promised, less however late we came to take it.
    late_us = (time.monotonic() - refused_at) * 1e6 - again
    assert interval - late_us <= wait <= interval


async def test_script_pause_is_the_longest_asked_and_restarts_without_burst(redis_client: Redis) -> None:
    """A pause blocks until it ends, a shorter one never shortens it, and then starts come one by one."""
    acquire = redis_client.register_script(ACQUIRE_SCRIPT)
    pause = redis_client.register_script(PAUSE_SCRIPT)
    # 0.1/s, burst 5: an interval (10 s) longer than any stall of a loaded machine between two calls.
    keys, interval, burst = ["p:tat", "p:pause_until"], 10_000_000, 5
    assert await pause(keys=keys, args=[300_000, interval, burst]) == 300_000
    pause_until = await get_int(redis_client, "p:pause_until")
    assert 0 < await pause(keys=keys, args=[100_000, interval, burst]) <= 300_000
    assert await get_int(redis_client, "p:pause_until") == pause_until  # the longer pause stands
    until_end = await acquire(keys=keys, args=[interval, burst])
    assert 0 < until_end <= 300_000
    assert 0 < await redis_client.pttl("p:pause_until") <= 301
    # A full bucket of 5 would let 5 in when the pause ends; after a pause only the steady rate is
    # allowed: the next start's theoretical arrival is the pause's end plus burst - 1 intervals.
    assert await get_int(redis_client, "p:tat") == pause_until + interval * (burst - 1)
    await asyncio.sleep(until_end / 1e6 + 0.01)
    assert await acquire(keys=keys, args=[interval, burst]) == 0
    assert await acquire(keys=keys, args=[interval, burst]) > interval / 2


# --- the limiter ---------------------------------------------------------------------------------


async def test_steady_acquisitions_conform_to_burst_plus_rate(
    make_limiter: Callable[..., RedisRateLimiter],
) -> None:
    """Many concurrent acquirers: in any window T at most burst + rate*T start, and they keep the pace."""
    rate, burst, count = 50.0, 3, 60
    starts = await starts_of(make_limiter(rate=rate, burst=burst), count)
    assert_conforms(starts, rate=rate, burst=burst, slack=LATENCY_SLACK)
    # The burst is spent: the first `burst` start together, well inside one interval (burst 1 would not).
    assert max_starts_in_window(starts, 0.5 / rate) >= burst
    ideal = (count - burst) / rate
    assert ideal - LATENCY_SLACK <= max(starts) - min(starts) < 1.5 * ideal  # it keeps the pace


async def test_pause_from_one_limiter_holds_back_another(
    make_limiter: Callable[..., RedisRateLimiter],
) -> None:
    """pause() on one instance delays the next acquire of another instance on the same key, only that key."""
    paused, other, elsewhere = (
        make_limiter(rate=100, burst=5),
        make_limiter(rate=100, burst=5),
        make_limiter(rate=100, key="test:another"),
    )
    loop = asyncio.get_running_loop()
    paused_at = loop.time()
    await paused.pause(0.3)
    await elsewhere.acquire()
    assert loop.time() - paused_at < 0.1
    await other.acquire()
    assert loop.time() - paused_at >= 0.3 - LATENCY_SLACK
    # Then the steady rate (one interval, 10 ms, after the pause's end), not a burst of 5.
    await other.acquire()
    assert loop.time() - paused_at >= 0.3 + 0.01 - LATENCY_SLACK
    await paused.pause(0)  # nothing to do


async def test_cancelled_acquire_frees_the_queue(make_limiter: Callable[..., RedisRateLimiter]) -> None:
    """A caller cancelled while waiting neither blocks the next one nor spends a start."""
    limiter = make_limiter(rate=4, burst=1)
    loop = asyncio.get_running_loop()
    await limiter.acquire()
    first = loop.time()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(limiter.acquire(), 1.0)
    assert loop.time() - first < 0.25 + 0.2  # the next start, not the one after (0.5 s)


async def test_aclose_closes_only_a_client_it_created(redis_client: Redis) -> None:
    """A given client stays open after aclose(); a closed limiter refuses further use."""
    async with RedisRateLimiter(redis_client, key="test:given", rate=100) as limiter:
        await limiter.acquire()
    assert await redis_client.ping()
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await limiter.acquire()


async def test_an_unclosed_limiter_warns(redis_server: RedisServer) -> None:
    """Dropping a limiter whose own client is still open warns, like an unclosed aiohttp session."""
    limiter = RedisRateLimiter(redis_server.url, key="test:leak", rate=100)
    await limiter.acquire()
    client = limiter._client
    assert client is not None
    await client.aclose()  # free the sockets behind its back: only the limiter's own warning is tested here
    del client
    with pytest.warns(ResourceWarning, match="unclosed RedisRateLimiter"):
        del limiter  # CPython frees it (and its client) right here: nothing else refers to it


async def test_a_fleet_of_processes_shares_one_budget(redis_server: RedisServer) -> None:
    """4 processes, one key, 200 creates: the relay sees at most its burst + rate*T and (almost) no 429."""
    workers, per_worker = 4, 50
    relay_rate, relay_burst = 40.0, 5
    async with MockRelay(rate=relay_rate, burst=relay_burst, seed=1) as relay:
        command = [sys.executable, "-m", "tests.redis_worker", redis_server.url, relay.url, "fleet"]
        procs = [
            await asyncio.create_subprocess_exec(
                *command,
                str(per_worker),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=REPO_ROOT,
            )
            for _ in range(workers)
        ]
        try:
            summaries = await asyncio.wait_for(_run_fleet(procs), 30.0)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        stats = relay.stats
    assert all(summary == {"ok": per_worker, "errors": []} for summary in summaries), summaries
    assert stats.accepted == workers * per_worker and not stats.duplicates
    assert stats.rate_limited <= 2
    starts = list(stats.accepted_times)
    assert_conforms(starts, rate=relay_rate, burst=relay_burst, slack=0.0)
    # The fleet's own budget holds too, give or take the jitter of getting a request to the relay.
    assert_conforms(starts, rate=redis_worker.FLEET_RATE, burst=redis_worker.FLEET_BURST, slack=0.05)
    # And the fleet uses its budget rather than crawling.
    assert max(starts) - min(starts) < 1.25 * len(starts) / redis_worker.FLEET_RATE


async def _run_fleet(procs: list[asyncio.subprocess.Process]) -> list[dict[str, Any]]:
    """Wait until every worker is ready, release them together, and collect their summaries."""
    for proc in procs:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
    assert [proc.returncode for proc in procs] == [0] * len(procs), outputs
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


# --- outages -------------------------------------------------------------------------------------


async def test_redis_down_without_fallback_raises_a_clear_error(
    redis_server: RedisServer, make_limiter: Callable[..., RedisRateLimiter]
) -> None:
    """With no fallback every waiting acquire fails fast with the address and the way out, no password;
    once Redis is back the same limiter works again."""
    secret_url = f"redis://:hunter2@127.0.0.1:{redis_server.port}/0"
    with_password, plain = make_limiter(url=secret_url, rate=50), make_limiter(rate=50)
    await plain.acquire()
    await asyncio.to_thread(redis_server.stop)
    outcomes = await asyncio.gather(*(plain.acquire() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(outcome, RateLimiterUnavailableError) for outcome in outcomes), outcomes
    with pytest.raises(RateLimiterUnavailableError) as info:
        await with_password.acquire()
    message = str(info.value)
    assert f"127.0.0.1:{redis_server.port}" in message and "fallback='local'" in message
    assert "hunter2" not in message and info.value.address == f"127.0.0.1:{redis_server.port}"
    await plain.pause(1.0)  # a pause while Redis is down is logged, not raised (it runs inside a retry)
    await asyncio.to_thread(redis_server.start)
    await asyncio.wait_for(plain.acquire(), 2.0)
    assert not plain.fallback_active


async def test_redis_restart_falls_back_locally_and_recovers(
    redis_server: RedisServer, make_limiter: Callable[..., RedisRateLimiter], caplog: pytest.LogCaptureFixture
) -> None:
    """Redis restarted mid-run: acquisitions go on at the local share (rate / fleet size), one warning is
    logged, and the limiter returns to the shared budget within about a second of Redis coming back."""
    caplog.set_level(logging.INFO, logger="sora_async")
    rate, fleet = 40.0, 4
    limiter = make_limiter(rate=rate, burst=2, fallback="local", expected_fleet_size=fleet)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def keep_acquiring() -> None:
        while True:
            await limiter.acquire()
            starts.append(loop.time())

    acquirers = [asyncio.ensure_future(keep_acquiring()) for _ in range(6)]
    try:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(redis_server.stop)
        down_at = loop.time()
        await asyncio.sleep(0.8)
        assert limiter.fallback_active
        paused_at = loop.time()
        await limiter.pause(0.3)  # a relay's Retry-After during the outage holds the local share
        await asyncio.sleep(0.7)
        await asyncio.to_thread(redis_server.start)
        up_at = loop.time()
        await wait_until(lambda: not limiter.fallback_active, timeout=1.0 + 0.5)
        recovered_at = loop.time()
        await asyncio.sleep(0.3)
    finally:
        for task in acquirers:
            task.cancel()
        await asyncio.gather(*acquirers, return_exceptions=True)
    during = [t for t in starts if down_at + 0.1 < t < up_at]
    assert_conforms(during, rate=rate / fleet, burst=1, slack=LATENCY_SLACK)
    assert len(during) >= 0.7 * (rate / fleet) * (up_at - down_at - 0.1 - 0.3)  # it kept going
    assert not [t for t in during if paused_at + LATENCY_SLACK < t < paused_at + 0.3 - LATENCY_SLACK]
    after = [t for t in starts if t > recovered_at]
    assert len(after) >= 0.5 * rate * 0.3  # back to the fleet's rate, well above the local share
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "sora_async"]
    assert [m for level, m in messages if level == logging.WARNING and "unreachable" in m] != []
    assert len([m for level, m in messages if "unreachable" in m]) == 1  # once per outage
    assert any(level == logging.INFO and "reachable again" in m for level, m in messages)


# --- cancellation, in every state ----------------------------------------------------------------


class HungServer:
    """A TCP server on loopback that accepts connections, reads what it is sent and never answers:
    a Redis that is wedged, or still starting behind a load balancer."""

    def __init__(self) -> None:
        self.received = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        while await reader.read(65536):
            self.received.set()

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def hung_server() -> AsyncIterator[HungServer]:
    server = HungServer()
    try:
        yield server
    finally:
        await server.stop()


async def assert_cancels_promptly(acquire: asyncio.Future[None]) -> None:
    """Cancelling a waiting acquire ends it with CancelledError, well before any timeout of its own."""
    assert not acquire.done()
    acquire.cancel()
    done, _ = await asyncio.wait([acquire], timeout=SOCKET_TIMEOUT / 2)
    assert done, "acquire() did not end when cancelled"
    assert acquire.cancelled(), acquire


async def test_acquire_is_cancellable_while_redis_is_up(
    make_limiter: Callable[..., RedisRateLimiter],
) -> None:
    """Waiting for the shared budget (the head of the queue sleeping, the rest queued): both cancel."""
    limiter = make_limiter(rate=1, burst=1)
    await limiter.acquire()
    head, queued = asyncio.ensure_future(limiter.acquire()), asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.05)
    await assert_cancels_promptly(queued)
    await assert_cancels_promptly(head)
    assert limiter._lock.locked() is False


async def test_acquire_is_cancellable_while_redis_is_down(
    redis_server: RedisServer, make_limiter: Callable[..., RedisRateLimiter]
) -> None:
    """Redis down, on the local fallback: a caller waiting for the local share cancels."""
    limiter = make_limiter(rate=4, fallback="local", expected_fleet_size=4)  # a local share of 1/s
    await limiter.acquire()
    await asyncio.to_thread(redis_server.stop)
    await limiter.acquire()  # the outage is found, the fallback serves (its first token)
    assert limiter.fallback_active
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.05)
    await assert_cancels_promptly(waiter)


async def test_acquire_is_cancellable_while_redis_hangs(hung_server: HungServer) -> None:
    """Redis accepts the connection and never answers: the caller waiting for the reply cancels."""
    port = await hung_server.start()
    async with RedisRateLimiter(f"redis://127.0.0.1:{port}/0", key="test:hung", rate=10) as limiter:
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.wait_for(hung_server.received.wait(), SOCKET_TIMEOUT)
        await assert_cancels_promptly(waiter)


async def test_acquire_is_cancellable_while_redis_comes_back(
    redis_server: RedisServer, make_limiter: Callable[..., RedisRateLimiter], hung_server: HungServer
) -> None:
    """Redis coming back (listening, not answering yet) while the fallback serves: the caller whose
    turn it is to probe Redis cancels."""
    limiter = make_limiter(rate=40, fallback="local", expected_fleet_size=4)
    await limiter.acquire()
    await asyncio.to_thread(redis_server.stop)
    await limiter.acquire()
    assert limiter.fallback_active
    await hung_server.start(redis_server.port)
    limiter._next_probe = 0.0  # the next caller probes Redis
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.wait_for(hung_server.received.wait(), SOCKET_TIMEOUT)
    await assert_cancels_promptly(waiter)


async def test_a_cancellation_the_redis_client_swallows_still_cancels_acquire(
    make_limiter: Callable[..., RedisRateLimiter],
) -> None:
    """Before Python 3.12 redis-py's write (asyncio.wait_for) can swallow a cancellation that arrives
    as it completes and return normally; acquire must end cancelled all the same, or a caller that
    cancels it (a deadline, shutdown, a test's teardown) waits for ever. Here a call that always
    swallows stands in for that race, which real runs hit about once in a dozen on a loaded machine."""
    limiter = make_limiter(rate=10)
    limiter._scripts()  # the registered scripts, replaced below by ones that swallow cancellation
    entered = asyncio.Event()

    async def swallowing_script(**_: Any) -> int:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        return 0  # "allowed": the caller would go on as if never cancelled

    limiter._acquire_script = swallowing_script  # type: ignore[assignment]
    limiter._pause_script = swallowing_script  # type: ignore[assignment]
    for call in (limiter.acquire, lambda: limiter.pause(1.0)):
        entered.clear()
        waiter = asyncio.ensure_future(call())
        await entered.wait()
        await assert_cancels_promptly(waiter)
