"""``SoraClient``: the one object users hold. It wires the stages of a request together.

    VideoRequest -> JSON body -> concurrency gate -> limiter -> HTTP exchange -> result or error
                                      ^__________ retry policy (tenacity) __________|

Each stage lives in its own module; this one owns the lifecycle (the aiohttp session is created
lazily inside the running loop and closed by ``aclose``), the per-call options and the awaitable
results (``submit``, ``submit_many``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import os
import re
import uuid
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Union

import aiohttp
import attrs
import yarl

from ._errors import (
    APIResponseValidationError,
    ConfigurationError,
    RateLimitError,
    SoraError,
    TaskFailedError,
    TaskTimeoutError,
)
from ._errors import ValidationError as _ValidationError
from ._http import send
from ._models import TaskStatus, VideoRequest, VideoTask
from ._retry import CallState, OnRetry, RetryPolicy, run_with_retries
from ._serde import dumps_request
from .limits import AdaptiveLimiter, Limiter, RateLimit, make_limiter

__all__ = ["SoraClient", "SubmitItem", "SubmitResult", "Submission"]

logger = logging.getLogger("sora_async")

try:
    _VERSION = version("sora-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    _VERSION = "0+unknown"

USER_AGENT = f"sora-async/{_VERSION}"
CREATE_PATH = "sora/v1/videos"
_TASK_ID = re.compile(r"^[A-Za-z0-9._~:-]{1,256}$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

ProgressCallback = Callable[[VideoTask], object]


@attrs.frozen
class SubmitItem:
    """A request for ``submit_many`` with its own idempotency key and a tag carried to its result.

    Use it to resume work under the keys you recorded, or to join results back to your records.

    >>> item = SubmitItem(VideoRequest(prompt="a fox"), idempotency_key="job-7-row-42", tag=42)
    >>> item.idempotency_key, item.tag
    ('job-7-row-42', 42)
    """

    request: VideoRequest | Mapping[str, Any]
    idempotency_key: str | None = attrs.field(default=None, kw_only=True)
    tag: Any = attrs.field(default=None, kw_only=True)


@attrs.frozen(kw_only=True)
class SubmitResult:
    """The outcome of one item of ``submit_many``: a task id, or the error that stopped it.

    >>> result = SubmitResult(
    ...     index=0, request=None, task_id="task_1", error=None, idempotency_key="k-1", attempts=1
    ... )
    >>> result.ok
    True
    """

    index: int
    request: VideoRequest | Mapping[str, Any] | None
    task_id: str | None
    error: BaseException | None
    idempotency_key: str
    attempts: int
    tag: Any = None

    @property
    def ok(self) -> bool:
        """True when the item got a task id."""
        return self.task_id is not None


SubmitInput = Union[VideoRequest, Mapping[str, Any], SubmitItem]  # noqa: UP007 - runtime alias on 3.10


class Submission:
    """The handle ``submit`` returns at once; ``await`` it for the task id, ``cancel()`` to give up.

    ``idempotency_key`` is known from the start, so it can be recorded before the request is sent.
    Awaiting it from a task that is then cancelled cancels the submission too; await
    ``asyncio.shield(handle)`` to let it finish regardless.

    >>> async def create_in_background(client: SoraClient, request: VideoRequest) -> str:
    ...     handle = client.submit(request)
    ...     print("sent under key", handle.idempotency_key)  # known before anything is sent
    ...     return await handle
    """

    __slots__ = ("_state", "_task", "idempotency_key", "request")

    def __init__(self, request: VideoRequest, state: CallState, task: asyncio.Task[str]) -> None:
        self.request = request
        self.idempotency_key: str = state.idempotency_key or ""
        self._state = state
        self._task = task

    def __await__(self) -> Generator[Any, None, str]:
        return self._task.__await__()

    @property
    def attempts(self) -> int:
        """How many HTTP attempts the submission has made so far."""
        return self._state.attempts

    def done(self) -> bool:
        """True once the submission has a task id, an error, or was cancelled."""
        return self._task.done()

    def cancel(self) -> bool:
        """Stop the submission and free its slot; awaiting it then raises ``CancelledError``."""
        return self._task.cancel()

    def __repr__(self) -> str:
        status = "done" if self._task.done() else "pending"
        return f"<Submission {self.idempotency_key} {status}>"


class SoraClient:
    """An async client for a Sora relay: rate-limited, retrying, idempotent.

    Create one per process and reuse it (``async with`` or ``aclose()``). ``api_key`` defaults to
    ``$SORA_API_KEY`` and ``base_url`` to ``$SORA_BASE_URL``.

    >>> client = SoraClient(api_key="sk-secret", base_url="https://relay.example")
    >>> "sk-secret" in repr(client)
    False
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        rate_limit: RateLimit | Limiter | None = None,
        adaptive: bool | None = None,
        max_concurrency: int = 32,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        on_retry: OnRetry | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise _ValidationError("max_concurrency", "must be an integer >= 1", max_concurrency)
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise _ValidationError(name, "must be a positive number of seconds", value)
        self._api_key = api_key if api_key is not None else os.environ.get("SORA_API_KEY")
        self.base_url = base_url if base_url is not None else os.environ.get("SORA_BASE_URL")
        self.limiter: Limiter = _choose_limiter(rate_limit, adaptive)
        self._owns_limiter = not isinstance(rate_limit, Limiter)  # built here from a RateLimit or None
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy()
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self.allow_insecure_http = allow_insecure_http
        self.on_retry = on_retry
        self._extra_headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._gate: asyncio.Semaphore | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._create_url = ""

    # --- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> SoraClient:
        self._ensure_session()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel unfinished submissions and close the connections. Safe to call more than once."""
        self._closed = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
        if self._owns_limiter:
            await self.limiter.aclose()

    @property
    def closed(self) -> bool:
        """True once ``aclose()`` has run (or the ``async with`` block has ended)."""
        return self._closed

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return (
            f"SoraClient(base_url={self.base_url!r}, api_key=<{key}>, limiter={self.limiter!r}, "
            f"max_concurrency={self.max_concurrency})"
        )

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        session = getattr(self, "_session", None)
        if session is not None and not session.closed:
            _warn(
                f"unclosed {self!r}: use 'async with' or 'await client.aclose()'",
                ResourceWarning,
                source=self,
            )

    def _ensure_session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use inside the running loop."""
        if self._closed:
            raise ConfigurationError("this SoraClient is closed; create a new one")
        if self._session is None:
            base = self._checked_base_url()
            self._create_url = str(base / CREATE_PATH)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_concurrency),
                timeout=self.timeout,
                headers=self._default_headers(),
                raise_for_status=False,
            )
            self._gate = asyncio.Semaphore(self.max_concurrency)
        return self._session

    def _checked_base_url(self) -> yarl.URL:
        if not self.base_url:
            raise ConfigurationError(
                "no base URL: pass base_url=... or set $SORA_BASE_URL (e.g. https://relay.example)"
            )
        if not self._api_key:
            raise ConfigurationError("no API key: pass api_key=... or set $SORA_API_KEY")
        url = yarl.URL(self.base_url.rstrip("/") + "/")
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(f"base URL must be an http(s) URL with a host (got {self.base_url!r})")
        if url.scheme == "http" and not _is_loopback(url.host) and not self.allow_insecure_http:
            raise ConfigurationError(
                f"refusing to send the API key over plain http to {url.host}: use https, "
                "or pass allow_insecure_http=True if you really mean it"
            )
        return url

    def _default_headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Content-Type": "application/json"}
        headers.update(self._extra_headers)
        headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    # --- single calls ------------------------------------------------------------------------------

    async def create_video(
        self, request: VideoRequest, *, idempotency_key: str | None = None, retry: RetryPolicy | None = None
    ) -> str:
        """Create one video task and return its id. Retries per the policy under one idempotency key.

        Raises ``AmbiguousSubmissionError`` when the task may exist but we could not learn its id.
        """
        state = CallState(
            operation="create_video", creates=True, idempotency_key=idempotency_key or new_key()
        )
        return await self._create(request, state, retry or self.retry)

    async def _create(self, request: VideoRequest, state: CallState, policy: RetryPolicy) -> str:
        if not isinstance(request, VideoRequest):
            raise _ValidationError("request", "must be a VideoRequest", request)
        session = self._ensure_session()
        body = dumps_request(request)
        headers = {"Idempotency-Key": state.idempotency_key or new_key()}
        gate, limiter, url = self._gate, self.limiter, self._create_url
        secret = self._api_key
        assert gate is not None

        async def attempt() -> str:
            state.attempts += 1
            async with gate:  # one slot and one rate token per attempt, released on every path
                await limiter.acquire()
                data = await _observed_send(limiter, session, url, headers, body, secret)
            if not isinstance(data, str) or not data:
                raise APIResponseValidationError(
                    f"expected a task id string in 'data', got {data!r}", status_code=200
                )
            return data

        return await run_with_retries(
            attempt, policy=policy, state=state, pause=limiter.pause, on_retry=self.on_retry
        )

    async def get_task(self, task_id: str, *, retry: RetryPolicy | None = None) -> VideoTask:
        """Query a task (free on the relays). Transient failures are retried."""
        _check_task_id(task_id)
        session = self._ensure_session()
        url = f"{self._create_url}/{task_id}"
        state = CallState(operation="get_task", creates=False)
        gate = self._gate
        assert gate is not None

        async def attempt() -> VideoTask:
            state.attempts += 1
            async with gate:  # queries are free on the relays: they take no rate token
                data = await send(session, "GET", url, headers={}, body=None, secret=self._api_key)
            if data is not None and not isinstance(data, Mapping):
                raise APIResponseValidationError(
                    f"expected a task object in 'data', got {data!r}", status_code=200
                )
            return VideoTask.from_api(task_id, data)

        policy = retry or self.retry
        return await run_with_retries(
            attempt, policy=policy, state=state, pause=_no_pause, on_retry=self.on_retry
        )

    async def wait_for_task(
        self,
        task_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        max_poll_interval: float = 15.0,
        on_progress: ProgressCallback | None = None,
    ) -> VideoTask:
        """Poll until the task succeeds (returned), fails (``TaskFailedError``) or ``timeout`` passes.

        The interval starts at ``poll_interval`` and grows by half each poll up to ``max_poll_interval``.
        ``on_progress`` (plain or async) is called with every answer. On timeout, ``TaskTimeoutError``
        says how long it waited and the last status seen.
        """
        _check_task_id(task_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout
        interval = poll_interval
        last: VideoTask | None = None
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TaskTimeoutError(task_id, loop.time() - started, last)
            try:
                last = await asyncio.wait_for(self.get_task(task_id), remaining)
            except asyncio.TimeoutError:
                raise TaskTimeoutError(task_id, loop.time() - started, last) from None
            if on_progress is not None:
                outcome = on_progress(last)
                if isinstance(outcome, Awaitable):
                    await outcome
            if last.status is TaskStatus.SUCCESS:
                return last
            if last.status is TaskStatus.FAILURE:
                raise TaskFailedError(last)
            await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
            interval = min(max_poll_interval, interval * 1.5)

    # --- awaitable results -------------------------------------------------------------------------

    def submit(
        self, request: VideoRequest, *, idempotency_key: str | None = None, retry: RetryPolicy | None = None
    ) -> Submission:
        """Start creating a task in the background; ``await`` the returned handle for the task id."""
        if not isinstance(request, VideoRequest):
            raise _ValidationError("request", "must be a VideoRequest", request)
        self._ensure_session()
        state = CallState(
            operation="create_video", creates=True, idempotency_key=idempotency_key or new_key()
        )
        task = self._track(self._create(request, state, retry or self.retry))
        return Submission(request, state, task)

    async def submit_many(
        self,
        requests: Iterable[SubmitInput] | AsyncIterable[SubmitInput],
        *,
        retry: RetryPolicy | None = None,
        max_pending: int | None = None,
    ) -> AsyncGenerator[SubmitResult, None]:
        """Submit every request and yield a ``SubmitResult`` for each as it completes (not in order).

        Items are ``VideoRequest``, wire-format mappings (validated here: a bad one gets an error result
        and nothing is sent) or ``SubmitItem``. At most ``max_pending`` (default twice
        ``max_concurrency``) items are held at once, so a generator of millions keeps memory flat. One
        failed item never stops the others. Breaking out cancels the work in flight; wrap the call in
        ``contextlib.aclosing`` to have that happen at once rather than when the generator is collected.
        """
        self._ensure_session()
        policy = retry or self.retry
        window = max_pending or 2 * self.max_concurrency
        items = _aenumerate(requests)
        finished: asyncio.Queue[SubmitResult] = asyncio.Queue()
        in_flight: set[asyncio.Task[SubmitResult]] = set()

        def collect(task: asyncio.Task[SubmitResult]) -> None:
            in_flight.discard(task)
            if not task.cancelled():
                finished.put_nowait(task.result())

        exhausted = False
        try:
            while True:
                # Results waiting to be yielded count against the window too: memory stays O(window).
                while not exhausted and len(in_flight) + finished.qsize() < window:
                    try:
                        index, item = await items.__anext__()
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    task = self._track(self._submit_item(index, item, policy))
                    in_flight.add(task)
                    task.add_done_callback(collect)
                if exhausted and not in_flight and finished.empty():
                    return
                yield await finished.get()
        finally:
            await _cancel_all(in_flight)

    async def _submit_item(self, index: int, item: SubmitInput, policy: RetryPolicy) -> SubmitResult:
        wrapped = item if isinstance(item, SubmitItem) else SubmitItem(item)
        state = CallState(
            operation="create_video", creates=True, idempotency_key=wrapped.idempotency_key or new_key()
        )
        request: VideoRequest | Mapping[str, Any] = wrapped.request
        task_id: str | None = None
        error: BaseException | None = None
        try:
            request = request if isinstance(request, VideoRequest) else VideoRequest.from_dict(request)
            task_id = await self._create(request, state, policy)
        except (SoraError, aiohttp.ClientError, OSError) as exc:
            error = exc
        return SubmitResult(
            index=index,
            request=request,
            task_id=task_id,
            error=error,
            idempotency_key=state.idempotency_key or "",
            attempts=state.attempts,
            tag=wrapped.tag,
        )

    def _track(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


_KEY_PREFIX = uuid.uuid4().hex
_key_counter = itertools.count(1)


async def _observed_send(
    limiter: Limiter,
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secret: str | None,
) -> Any:
    """Send, telling the limiter whether the relay throttled this attempt."""
    started = asyncio.get_running_loop().time()
    try:
        data = await send(session, "POST", url, headers=headers, body=body, secret=secret)
    except RateLimitError:
        limiter.observe(started=started, throttled=True)
        raise
    limiter.observe(started=started, throttled=False)
    return data


async def _no_pause(seconds: float) -> None:
    """Queries ignore server pauses meant for creates (they are free and limited apart, if at all)."""


def _choose_limiter(rate_limit: RateLimit | Limiter | None, adaptive: bool | None) -> Limiter:
    """Adaptive discovery by default when no rate is given; a given RateLimit is then its ceiling."""
    if adaptive is None:
        adaptive = rate_limit is None
    if not adaptive:
        return make_limiter(rate_limit)
    if rate_limit is not None and not isinstance(rate_limit, RateLimit):
        raise _ValidationError(
            "adaptive", "can only be combined with a RateLimit (as its ceiling)", rate_limit
        )
    return AdaptiveLimiter(ceiling=rate_limit)


def new_key() -> str:
    """A fresh idempotency key: a random per-process prefix and a counter.

    As unique as a uuid4 per key (the 128-bit prefix is random), without a system call per request.
    """
    return f"{_KEY_PREFIX}-{next(_key_counter)}"


def _check_task_id(task_id: object) -> None:
    if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
        raise _ValidationError(
            "task_id", "must be a non-empty URL-safe string (letters, digits, - _ . ~ :)", task_id
        )


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False


async def _aenumerate(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[tuple[int, Any]]:
    index = 0
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield index, item
            index += 1
    else:
        for item in items:
            yield index, item
            index += 1


async def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
