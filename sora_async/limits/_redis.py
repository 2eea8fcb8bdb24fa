"""``RedisRateLimiter``: one rate budget shared by every process that uses the same Redis key.

Each start is decided by one Lua script run atomically inside Redis (GCRA, the generic cell rate
algorithm, as in the mock relay), on Redis's own clock: client clocks never enter, so a fleet spread
over machines whose clocks disagree still gets at most ``burst + rate * T`` starts in any window T.

The scripts and their two keys are in ``_redis_scripts``.

A refusal returns the exact wait; the caller sleeps that long plus a little jitter (so a fleet does not
wake at once) and asks again. Within one process, callers queue on a lock and only the head of the
queue talks to Redis, so Redis sees one contender per process, not one per waiting request.

redis-py is an optional extra, imported only when a limiter is built.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .._errors import ConfigurationError, RateLimiterUnavailableError
from ._base import Limiter
from ._bucket import TokenBucket
from ._rate import RateLimit
from ._redis_scripts import ACQUIRE_SCRIPT, PAUSE_SCRIPT
from ._redis_setup import check_options, import_redis, resolve_target

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisRateLimiter"]

logger = logging.getLogger("sora_async")

PROBE_INTERVAL = 1.0
"""Seconds between attempts to reach Redis again while the local fallback is in use."""
SOCKET_TIMEOUT = 1.0
"""Connect and reply timeout of a client the limiter creates: better to fail (or fall back) than hang."""

MAX_PAUSE = 86_400.0
"""The longest pause published, in seconds: a day is already a misconfiguration, and infinity is no time."""

_MICROS = 1_000_000

T = TypeVar("T")


async def _cancellable(call: Awaitable[T]) -> T:
    """Await one Redis call so that cancelling the caller always cancels it, at once.

    redis-py bounds a write with ``asyncio.wait_for``, which before Python 3.12 returns the inner
    result instead of raising when a cancellation arrives in the loop turn the write completes in
    (and the ``async-timeout`` package used on 3.10 can do the same). The cancellation is then lost:
    ``acquire`` went on, and a caller cancelling it (a deadline, a shutdown, a test tearing down)
    waited forever. Run in a task of its own behind a shield, the call can swallow nothing of ours:
    the caller's cancellation takes effect here, and the call is cancelled (or finishes) behind it.
    """
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_discard_outcome)
        raise


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned call's outcome, so that asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


class RedisRateLimiter(Limiter):
    """A rate limit shared by a fleet: at most ``rate`` starts per ``per`` seconds across every process
    that uses the same Redis ``key``, with up to ``burst`` at once.

    Pass it as ``SoraClient(rate_limit=...)``; close it with ``aclose()`` (or ``async with``). The Redis
    client is created on first use inside the running loop, and closed by ``aclose`` only if this limiter
    created it (from a URL).

    When Redis cannot be reached, ``acquire`` raises ``RateLimiterUnavailableError``; with
    ``fallback="local"`` it instead limits this process to ``rate / expected_fleet_size`` (burst 1), logs
    a warning, and tries Redis again about once a second until it is back.

    Args:
        url_or_client: A ``redis://`` URL (this limiter then owns, and closes, the client it makes)
            or a ``redis.asyncio.Redis`` client of yours (left open). A password in the URL never
            appears in the repr or in errors.
        key: The Redis key prefix of the budget: every process with the same key shares one rate.
        rate: Starts allowed per ``per`` seconds, across the fleet.
        per: The period of ``rate``, in seconds.
        burst: Starts allowed at once after a quiet spell.
        fallback: ``"local"`` to keep going on this process's share while Redis is unreachable; None
            (the default) to raise ``RateLimiterUnavailableError`` instead.
        expected_fleet_size: How many processes share the key; needed with ``fallback="local"``,
            whose share is ``rate / expected_fleet_size``.
        jitter: Up to this many seconds added at random to each wait, so that waiting processes do
            not all wake (and retry Redis) at the same instant.

    Raises:
        ConfigurationError: redis-py is not installed (the ``redis`` extra).
        ValidationError: An argument of the wrong type or range (named in the message).

    >>> RedisRateLimiter("redis://:s3cret@cache.internal:6380/0", key="sora:prod", rate=40)
    RedisRateLimiter(redis='cache.internal:6380', key='sora:prod', rate=40, per=1.0, burst=1, fallback=None)
    """

    __slots__ = (
        "_acquire_script",
        "_address",
        "_client",
        "_closed",
        "_down_errors",
        "_down_since",
        "_keys",
        "_last_error",
        "_local",
        "_lock",
        "_next_probe",
        "_outages",
        "_owns_client",
        "_pause_script",
        "_url",
        "expected_fleet_size",
        "fallback",
        "jitter",
        "key",
        "rate_limit",
    )

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        key: str,
        rate: float,
        per: float = 1.0,
        burst: int = 1,
        fallback: Literal["local"] | None = None,
        expected_fleet_size: int | None = None,
        jitter: float = 0.005,
    ) -> None:
        self._down_errors = import_redis()
        self.rate_limit = RateLimit(rate, per=per, burst=burst)  # validates rate, per and burst
        check_options(key, fallback, expected_fleet_size, jitter)
        self.key = key
        self.fallback = fallback
        self.expected_fleet_size = expected_fleet_size
        self.jitter = float(jitter)
        self._url, self._client, self._address = resolve_target(url_or_client)
        self._owns_client = self._client is None
        self._keys = (f"{key}:tat", f"{key}:pause_until")
        self._acquire_script: AsyncScript | None = None
        self._pause_script: AsyncScript | None = None
        self._local: TokenBucket | None = None
        if fallback == "local" and expected_fleet_size is not None:
            self._local = TokenBucket(RateLimit(rate / expected_fleet_size, per=per, burst=1))
        self._lock = asyncio.Lock()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._outages = 0
        self._last_error: Exception | None = None
        self._closed = False

    # --- the Limiter interface ----------------------------------------------------------------------

    async def acquire(self) -> None:
        """Wait until the fleet's budget allows one more start, then count it (in Redis).

        While Redis is down and ``fallback="local"``, the local share of the rate decides instead.
        """
        self._check_open()
        while True:
            if self._local_turn():
                assert self._local is not None
                await self._local.acquire()
                return
            if await self._acquire_shared():
                return

    async def pause(self, seconds: float) -> None:
        """Hold back every process on this key for ``seconds`` (extending, never shortening, a pause).

        Never raises for an unreachable Redis: it is called while retrying a 429, and an exception
        here would replace the relay's answer; the next ``acquire`` reports the outage instead.

        Args:
            seconds: How long, from now (capped, so a bogus hint cannot stall the fleet for days);
                zero or less does nothing.

        Raises:
            ConfigurationError: The limiter is closed.
        """
        if not seconds > 0:
            return
        self._check_open()
        seconds = min(seconds, MAX_PAUSE)
        if self._local is not None:
            await self._local.pause(seconds)  # so a fallback that starts now still honours it
        if self.fallback_active:
            return  # the fleet cannot read Redis either; don't spend a connect timeout finding out
        script = self._scripts()[1]
        interval, burst = self._gcra_args()
        try:
            await _cancellable(script(keys=self._keys, args=[math.ceil(seconds * _MICROS), interval, burst]))
        except self._down_errors as exc:
            logger.warning("could not publish a %.3gs pause to Redis at %s: %s", seconds, self._address, exc)

    # --- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the Redis client if this limiter created it. Safe to call more than once."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_owns_client", False) and getattr(self, "_client", None) is not None:
            _warn(
                f"unclosed {self!r}: use 'async with limiter' or 'await limiter.aclose()'",
                ResourceWarning,
                source=self,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("this RedisRateLimiter is closed; create a new one")

    @property
    def fallback_active(self) -> bool:
        """True while Redis is unreachable and the local fallback decides."""
        return self._down_since is not None and self._local is not None

    def __repr__(self) -> str:
        limit = self.rate_limit
        return (
            f"RedisRateLimiter(redis={self._address!r}, key={self.key!r}, rate={limit.rate!r}, "
            f"per={limit.per!r}, burst={limit.burst}, fallback={self.fallback!r})"
        )

    # --- internals ---------------------------------------------------------------------------------

    async def _acquire_shared(self) -> bool:
        """Take one start from the shared budget; False when Redis is down and the fallback should serve.

        One caller per process talks to Redis at a time (the lock): the others would only be told the
        same wait, and waking them all would be a thundering herd.
        """
        outages = self._outages
        async with self._lock:
            script = self._scripts()[0]
            interval, burst = self._gcra_args()
            while True:
                if self._outages != outages and self._down_since is not None:
                    return self._unavailable()  # it went down while this call queued: don't ask again
                try:
                    wait_us = int(await _cancellable(script(keys=self._keys, args=[interval, burst])))
                except self._down_errors as exc:
                    self._went_down(exc)
                    return self._unavailable()
                self._came_back()
                if wait_us <= 0:
                    return True
                await asyncio.sleep(wait_us / _MICROS + random.uniform(0.0, self.jitter))

    def _local_turn(self) -> bool:
        """Whether the local fallback serves this call: Redis is down and no probe of it is due.

        A due probe is claimed by the caller that sees it (the next one moves a second on), so at most
        one caller a second tries Redis while it is down.
        """
        if self._down_since is None or self._local is None:
            return False
        now = asyncio.get_running_loop().time()
        if now < self._next_probe:
            return True
        self._next_probe = now + PROBE_INTERVAL
        return False

    def _went_down(self, exc: Exception) -> None:
        """Record an outage; with a fallback, warn once per outage (not once per failed call)."""
        now = asyncio.get_running_loop().time()
        self._last_error = exc
        self._next_probe = now + PROBE_INTERVAL
        if self._down_since is not None:
            return
        self._down_since = now
        self._outages += 1
        if self._local is not None:
            share = self._local.rate_limit
            logger.warning(
                "Redis rate limiter at %s is unreachable (%s: %s); limiting this process to its local "
                "share (%.4g per %gs) until it returns",
                self._address,
                type(exc).__name__,
                exc,
                share.rate,
                share.per,
            )

    def _unavailable(self) -> bool:
        """False (let the local fallback serve), or raise when there is no fallback."""
        if self._local is None:
            cause = self._last_error or ConnectionError("Redis is unreachable")
            raise RateLimiterUnavailableError(self._address, cause) from cause
        return False

    def _came_back(self) -> None:
        if self._down_since is None:
            return
        down_for = asyncio.get_running_loop().time() - self._down_since
        self._down_since = None
        logger.info("Redis rate limiter at %s is reachable again after %.1fs", self._address, down_for)

    def _gcra_args(self) -> tuple[int, int]:
        """The interval between starts in whole microseconds (rounded up: never faster) and the burst."""
        limit = self.rate_limit
        return math.ceil(limit.per * _MICROS / limit.rate), limit.burst

    def _scripts(self) -> tuple[AsyncScript, AsyncScript]:
        """The registered scripts (EVALSHA, reloaded on NOSCRIPT), creating the client on first use."""
        if self._acquire_script is None or self._pause_script is None:
            client = self._connect()
            self._acquire_script = client.register_script(ACQUIRE_SCRIPT)
            self._pause_script = client.register_script(PAUSE_SCRIPT)
        return self._acquire_script, self._pause_script

    def _connect(self) -> Redis:
        """The given client, or one made from the URL (only ever called inside the running loop)."""
        if self._client is None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = Redis.from_url(
                self._url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                retry=Retry(NoBackoff(), 1),  # one reconnect after a restart, not seconds of backoff
            )
        return self._client
