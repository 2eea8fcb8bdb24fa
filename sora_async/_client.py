"""``SoraClient``: the one object users hold. It wires the stages of a request together.

    VideoRequest -> JSON body -> request core (gate, limiter, transport, the answer's meaning,
    retries) -> the dialect reads the success -> task id / VideoTask

This module owns the lifecycle (connections are opened lazily inside the running loop and closed by
``aclose``), the per-call options (``timeout=``, ``retry=``, ``with_options``), and the calls users
make. What is shared between a client and its ``with_options`` views (connections, the concurrency
gate, the limiter, background submissions) lives in one ``_Shared`` object.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import uuid
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
)
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import attrs

from ._checks import (
    check_headers,
    check_idempotency_key,
    check_positive_int,
    check_seconds,
    check_task_id,
    checked_base_url,
    clean_api_key,
)
from ._compat import timeout_after
from ._core import RequestCore, no_task_id
from ._dialects import Dialect, get_dialect
from ._download import DownloadProgress, download_video
from ._errors import (
    AmbiguousSubmissionError,
    APIResponseValidationError,
    ConfigurationError,
    TaskFailedError,
    TaskTimeoutError,
)
from ._errors import ValidationError as _ValidationError
from ._models import TaskStatus, VideoRequest, VideoTask
from ._redact import Redactor
from ._retry import CallState, OnRetry, RetryPolicy
from ._serde import dumps_request
from ._stream import stream_results
from ._submit import Submission, SubmitInput, SubmitResult
from ._transport import AiohttpTransport, Transport
from .limits import AdaptiveLimiter, Limiter, RateLimit, make_limiter

__all__ = ["SoraClient"]

logger = logging.getLogger("sora_async")

try:
    _VERSION = version("sora-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    _VERSION = "0+unknown"

USER_AGENT = f"sora-async/{_VERSION}"
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The largest answer body read (8 MiB; task answers are a few KB): a bigger one is an error."""
UNKNOWN_STATUS_POLLS = 5
"""Polls in a row with a status word nobody documents before ``wait_for_task`` stops with an error."""

ProgressCallback = Callable[[VideoTask], object]


@attrs.frozen(kw_only=True)
class _Options:
    """What a ``with_options`` view may change; everything else is shared with the parent."""

    retry: RetryPolicy
    timeout: float
    max_response_bytes: int
    on_retry: OnRetry | None
    headers: Mapping[str, str]


class _Shared:
    """Connections, gate, limiter and background submissions: one per client and all its views."""

    def __init__(self) -> None:
        self.core: RequestCore | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False


class SoraClient:
    """An async client for a Sora relay: rate-limited, retrying, idempotent, bounded.

    Create one per process and reuse it (``async with`` or ``aclose()``). Configuration is read-only
    once built; ``with_options(...)`` gives a view with other per-call options that shares the
    connections, the concurrency gate and the limiter.

    Args:
        api_key: The relay key; default ``$SORA_API_KEY``. Whitespace around it is stripped.
        base_url: The relay's address, e.g. ``https://relay.example``; default ``$SORA_BASE_URL``. A
            version path copied the openai-python way (``.../v1``) is understood, not doubled.
        dialect: The relay family: ``"sora"`` (``/sora/v1/videos``, the default), ``"new-api"``
            (``/v1/video/generations``), ``"openai"`` (``/v1/videos``), or a ``Dialect`` with its
            own paths (``get_dialect("sora").with_paths(...)``).
        rate_limit: The key's limit as a ``RateLimit`` (exact, never exceeded), a ``Limiter`` of
            your own, or None: no client-side limit until the relay first answers 429, then the
            limit found from its answers (``adaptive=False`` turns finding off).
        adaptive: Find the limit from 429s; default True without a ``rate_limit``. With a
            ``RateLimit`` it makes the limit a ceiling for the adaptive limiter.
        max_concurrency: Requests in flight at once (and connections in the pool).
        retry: The default ``RetryPolicy`` of every call.
        timeout: Seconds one attempt may take, connection to last byte (per call: ``timeout=``).
        connect_timeout: Seconds to set up a connection.
        headers: Extra headers sent with every request (checked now: no control characters).
        allow_insecure_http: Send the key over plain http to a non-loopback host.
        on_retry: Called with a ``RetryEvent`` before each retry's wait.
        transport: Where requests go: the aiohttp transport by default, or ``MockTransport(handler)``
            in tests.
        max_response_bytes: The largest answer body read; a larger one raises
            ``APIResponseValidationError`` (memory per request stays bounded).

    Raises:
        ValidationError: An argument of the wrong type or range (named in the message).
        ConfigurationError: An API key with characters no HTTP header can carry (not shown).

    >>> client = SoraClient(api_key="sk-secret-key", base_url="https://relay.example")
    >>> "sk-secret" in repr(client)
    False
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        dialect: str | Dialect = "sora",
        rate_limit: RateLimit | Limiter | None = None,
        adaptive: bool | None = None,
        max_concurrency: int = 32,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        on_retry: OnRetry | None = None,
        transport: Transport | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        check_positive_int("max_concurrency", max_concurrency)
        check_positive_int("max_response_bytes", max_response_bytes)
        check_seconds("connect_timeout", connect_timeout)
        if transport is not None and not isinstance(transport, Transport):
            raise _ValidationError("transport", "must be a sora_async Transport (or None)", transport)
        key = api_key if api_key is not None else os.environ.get("SORA_API_KEY")
        self._api_key = clean_api_key(key)
        self._base_url = base_url if base_url is not None else os.environ.get("SORA_BASE_URL")
        self._dialect = get_dialect(dialect)
        self._limiter: Limiter = _choose_limiter(rate_limit, adaptive)
        self._owns_limiter = not isinstance(rate_limit, Limiter)
        self._max_concurrency = max_concurrency
        self._allow_insecure_http = bool(allow_insecure_http)
        self._transport = transport or AiohttpTransport(
            max_connections=max_concurrency, connect_timeout=connect_timeout
        )
        self._owns_transport = transport is None
        self._redact = Redactor(self._api_key)
        self._options = _Options(
            retry=_checked_policy(retry) or RetryPolicy(),
            timeout=check_seconds("timeout", timeout),
            max_response_bytes=max_response_bytes,
            on_retry=on_retry,
            headers=MappingProxyType(check_headers(headers)),
        )
        self._shared = _Shared()
        self._parent: SoraClient | None = None
        self._call_headers: Mapping[str, str] = {}  # a view's own extra headers, sent per call

    # --- configuration (read-only) ------------------------------------------------------------------

    @property
    def base_url(self) -> str | None:
        """The relay's address as given."""
        return self._base_url

    @property
    def dialect(self) -> Dialect:
        """The relay family spoken: routes and answer shapes."""
        return self._dialect

    @property
    def limiter(self) -> Limiter:
        """The rate limiter every create passes through."""
        return self._limiter

    @property
    def max_concurrency(self) -> int:
        """Requests in flight at once."""
        return self._max_concurrency

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of this client (or view)."""
        return self._options.retry

    @property
    def timeout(self) -> float:
        """Seconds one attempt may take."""
        return self._options.timeout

    @property
    def max_response_bytes(self) -> int:
        """The largest answer body read."""
        return self._options.max_response_bytes

    @property
    def on_retry(self) -> OnRetry | None:
        """The callback told of each retry (change it with ``with_options``)."""
        return self._options.on_retry

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
        on_retry: OnRetry | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SoraClient:
        """A view of this client with other per-call options, sharing its connections, gate and limiter.

        Closing the view closes nothing: the client it came from owns the connections.

        Args:
            retry: Another default ``RetryPolicy``.
            timeout: Another per-attempt timeout in seconds.
            max_response_bytes: Another cap on answer bodies.
            on_retry: Another retry callback.
            headers: Extra headers, merged over this client's.

        Raises:
            ValidationError: An option of the wrong type or range.

        >>> client = SoraClient(api_key="sk-test-key", base_url="https://relay.example")
        >>> patient = client.with_options(timeout=300, retry=RetryPolicy(max_attempts=10))
        >>> patient.timeout, patient.retry.max_attempts, patient.limiter is client.limiter
        (300, 10, True)
        """
        changes: dict[str, Any] = {}
        if retry is not None:
            changes["retry"] = _checked_policy(retry)
        if timeout is not None:
            changes["timeout"] = check_seconds("timeout", timeout)
        if max_response_bytes is not None:
            changes["max_response_bytes"] = check_positive_int("max_response_bytes", max_response_bytes)
        if on_retry is not None:
            changes["on_retry"] = on_retry
        extra = check_headers(headers) if headers is not None else {}
        view = object.__new__(SoraClient)
        view.__dict__.update(self.__dict__)
        view._options = attrs.evolve(self._options, **changes)
        view._parent = self._parent or self
        view._call_headers = MappingProxyType({**self._call_headers, **extra})
        return view

    # --- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> SoraClient:
        self._core()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel unfinished submissions and close the connections. Safe to call more than once.

        On a ``with_options`` view this does nothing: the client it came from owns the connections.
        """
        if self._parent is not None:
            return
        shared = self._shared
        shared.closed = True
        tasks = [t for t in shared.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_transport:
            await self._transport.aclose()
        if self._owns_limiter:
            await self._limiter.aclose()
        shared.core = None

    @property
    def closed(self) -> bool:
        """True once ``aclose()`` has run (or the ``async with`` block has ended)."""
        return self._shared.closed

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return (
            f"SoraClient(base_url={self._base_url!r}, dialect={self._dialect.name!r}, api_key=<{key}>, "
            f"limiter={self._limiter!r}, max_concurrency={self._max_concurrency})"
        )

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        shared = self.__dict__.get("_shared")
        owner = self.__dict__.get("_parent") is None and self.__dict__.get("_owns_transport")
        if owner and shared is not None and shared.core is not None and not shared.closed:
            _warn(
                f"unclosed {self!r}: use 'async with' or 'await client.aclose()'",
                ResourceWarning,
                source=self,
            )

    def _core(self) -> RequestCore:
        """The shared request core, made on first use inside the running loop."""
        shared = self._shared
        if shared.closed:
            raise ConfigurationError("this SoraClient is closed; create a new one")
        if shared.core is None:
            if not self._api_key:
                raise ConfigurationError("no API key: pass api_key=... or set $SORA_API_KEY")
            base = checked_base_url(self._base_url, allow_insecure_http=self._allow_insecure_http)
            shared.core = RequestCore(
                transport=self._transport,
                base_url=base,
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    **self._options.headers,
                    "Authorization": f"Bearer {self._api_key}",
                },
                limiter=self._limiter,
                max_concurrency=self._max_concurrency,
                redact=self._redact,
            )
        return shared.core

    # --- single calls ------------------------------------------------------------------------------

    async def create_video(
        self,
        request: VideoRequest | None = None,
        *,
        idempotency_key: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> str:
        """Create one video task and return its id, retrying per the policy under one idempotency key.

        Args:
            request: The request; or leave it out and give its fields as keywords
                (``create_video(prompt="a fox", size="1280x720", duration=10)``).
            idempotency_key: The key sent with every attempt; default a fresh one.
            retry: The retry policy of this call.
            timeout: Seconds one attempt may take (this call only).
            **fields: ``VideoRequest`` fields, when ``request`` is not given.

        Returns:
            The task id.

        Raises:
            ValidationError: A bad request, field or key, before anything is sent.
            AmbiguousSubmissionError: The task may exist but no id came back (``idempotency_key`` says
                which); not retried blindly, so nothing is paid twice.
            APIStatusError: The relay refused (``verdict`` says whether trying again can help).
            APIConnectionError: No answer came after the retries.
        """
        video = _request_from(request, fields)
        state = _create_state(idempotency_key)
        return self._task_id(await self._create_call(video, state, retry, timeout), state)

    async def _create(
        self, request: VideoRequest, state: CallState, retry: RetryPolicy | None, timeout: float | None
    ) -> str:
        """``create_video`` for ``submit`` and ``submit_many``, which make the state themselves."""
        return self._task_id(await self._create_call(request, state, retry, timeout), state)

    def _create_call(
        self, request: VideoRequest, state: CallState, retry: RetryPolicy | None, timeout: float | None
    ) -> Coroutine[Any, Any, Any]:
        """The core's call for a create, not yet awaited: a plain function, so that a call waiting
        for its slot holds no coroutine of its own here (thousands wait under ``gather``)."""
        core = self._core()
        options = self._options
        return core.call(
            self._dialect.create,
            state=state,
            policy=retry or options.retry,
            timeout=timeout or options.timeout,
            max_body=options.max_response_bytes,
            body=dumps_request(request),
            headers={**self._call_headers, "Idempotency-Key": state.idempotency_key or ""},
            on_retry=options.on_retry,
        )

    def _task_id(self, payload: Any, state: CallState) -> str:
        """The task id in a create's success answer; a success without one is ambiguous."""
        task_id = self._dialect.task_id_from_create(payload)
        if task_id is None:  # the task may exist, so it is never retried blind
            cause = no_task_id(payload, self._redact)
            raise AmbiguousSubmissionError(
                state.idempotency_key or "", cause, attempts=state.attempts
            ) from cause
        return task_id

    async def get_task(
        self, task_id: str, *, retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> VideoTask:
        """Query a task (free on the relays); transient failures are retried.

        Args:
            task_id: The id ``create_video`` returned.
            retry: The retry policy of this call.
            timeout: Seconds one attempt may take (this call only).

        Returns:
            The task as the relay describes it, parsed by the dialect.

        Raises:
            ValidationError: A task id that is not a URL-safe string.
            NotFoundError: No such task.
        """
        check_task_id(task_id)
        core = self._core()
        options = self._options
        payload = await core.call(
            self._dialect.get_task,
            state=CallState(operation="get_task", creates=False),
            policy=retry or options.retry,
            timeout=timeout or options.timeout,
            max_body=options.max_response_bytes,
            task_id=task_id,
            headers=self._call_headers,
            on_retry=options.on_retry,
        )
        try:
            return self._dialect.parse_task(task_id, payload, base_url=core.base_url)
        except Exception as exc:  # pragma: no cover - dialect parsing never raises by contract
            raise APIResponseValidationError(
                f"could not read the task answer ({type(exc).__name__})", status_code=200
            ) from None

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

        Args:
            task_id: The id ``create_video`` returned.
            timeout: Seconds to wait in all; the call ends then, whatever a query is doing.
            poll_interval: The first wait between polls; it grows by half each poll.
            max_poll_interval: The longest wait between polls.
            on_progress: Called (plain or async) with every answer.

        Returns:
            The finished task, with its ``video_urls``.

        Raises:
            TaskFailedError: The task ended in FAILURE (``fail_reason`` says why).
            TaskTimeoutError: ``timeout`` passed first; the task keeps running.
            APIResponseValidationError: The relay kept answering a status word no family documents.
        """
        check_task_id(task_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        interval = poll_interval
        last: VideoTask | None = None
        unknown_in_a_row = 0
        try:
            async with timeout_after(timeout):
                while True:
                    last = await self.get_task(task_id)
                    if on_progress is not None:
                        outcome = on_progress(last)
                        if isinstance(outcome, Awaitable):
                            await outcome
                    if last.status is TaskStatus.SUCCESS:
                        return last
                    if last.status is TaskStatus.FAILURE:
                        raise TaskFailedError(last)
                    unknown_in_a_row = unknown_in_a_row + 1 if last.status is TaskStatus.UNKNOWN else 0
                    if unknown_in_a_row >= UNKNOWN_STATUS_POLLS:
                        raise _unknown_status(last, unknown_in_a_row, self._dialect)
                    await asyncio.sleep(interval)
                    interval = min(max_poll_interval, interval * 1.5)
        except asyncio.TimeoutError:
            raise TaskTimeoutError(task_id, loop.time() - started, last) from None

    async def download_video(
        self,
        task_or_url: VideoTask | str,
        path: str | os.PathLike[str],
        *,
        index: int = 0,
        on_progress: DownloadProgress | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Path:
        """Stream a finished task's video to ``path``: atomic, resumed, length-checked (``_download``).

        The key goes only to the relay's own origin (its ``/v1/videos/{id}/content``), never to a CDN.

        Args:
            task_or_url: A ``VideoTask`` (its ``video_urls[index]``), a task id (queried; it must have
                succeeded) or a URL.
            path: The file to write; it appears only when complete (``<path>.part`` until then, and
                a ``.part`` left by an earlier try is continued where the server allows).
            index: Which of the task's videos.
            on_progress: Called (plain or async) with ``(done_bytes, total_bytes or None)`` per chunk.
            retry: The retry policy (a try that got further than all before earns fresh retries).
            timeout: Seconds to wait for an answer, and for each chunk of it (not for the whole file).

        Returns:
            ``path``, as a ``Path``.

        Raises:
            DownloadError: The body ended short after the retries, or the file could not be written.
            TaskFailedError: The task failed. APIStatusError: The server refused (e.g. an expired URL).
        """
        options = self._options
        return await download_video(
            self._core(),
            task_or_url,
            path,
            get_task=self.get_task,
            index=index,
            policy=retry or options.retry,
            timeout=timeout or options.timeout,
            headers=self._call_headers,
            on_progress=on_progress,
            on_retry=options.on_retry,
        )

    # --- awaitable results -------------------------------------------------------------------------

    def submit(
        self,
        request: VideoRequest | None = None,
        *,
        idempotency_key: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> Submission:
        """Start creating a task in the background; ``await`` the returned handle for the task id.

        Args:
            request: The request (or its fields as keywords, as for ``create_video``).
            idempotency_key: The key sent with every attempt; default a fresh one.
            retry: The retry policy of this call.
            timeout: Seconds one attempt may take (this call only).
            **fields: ``VideoRequest`` fields, when ``request`` is not given.

        Raises:
            ValidationError: A bad request or key, at once.
            ConfigurationError: The client is closed or has no key or base URL.
        """
        video = _request_from(request, fields)
        self._core()
        state = _create_state(idempotency_key)
        task = self._track(self._create(video, state, retry, timeout))
        return Submission(video, state, task)

    def submit_many(
        self,
        requests: Iterable[SubmitInput] | AsyncIterable[SubmitInput],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        max_pending: int | None = None,
    ) -> AsyncGenerator[SubmitResult, None]:
        """Submit every request; yield one ``SubmitResult`` for each as it completes (not in order).

        Items are ``VideoRequest``, wire-format mappings (validated here: a bad one gets an error
        result and nothing is sent) or ``SubmitItem``. At most ``max_pending`` items (default twice
        ``max_concurrency``) are held at once, results not yet consumed included, so a generator of
        millions keeps memory flat. Every item gets exactly one result, whatever went wrong with it.
        Breaking out cancels the work in flight; wrap the call in ``contextlib.aclosing`` to have that
        happen at once rather than when the generator is collected.

        Args:
            requests: Any iterable or async iterable of items.
            retry: The retry policy of every item.
            timeout: Seconds one attempt may take.
            max_pending: The most items held at once.

        Raises:
            ValidationError: A bad ``max_pending``.
            ConfigurationError: The client is closed or has no key or base URL.
        """
        if max_pending is not None:
            check_positive_int("max_pending", max_pending)
        self._core()

        async def create(request: VideoRequest, state: CallState) -> str:
            return await self._create(request, state, retry, timeout)

        window = max_pending or 2 * self._max_concurrency
        return stream_results(
            requests,
            create=create,
            new_key=new_key,
            track=self._track,
            window=window,
            workers=min(window, self._max_concurrency),
        )

    def _track(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks = self._shared.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task


_KEY_PREFIX = uuid.uuid4().hex
_key_counter = itertools.count(1)


def new_key() -> str:
    """A fresh idempotency key: a random per-process prefix and a counter.

    As unique as a uuid4 per key (the 128-bit prefix is random), without a system call per request.
    """
    return f"{_KEY_PREFIX}-{next(_key_counter)}"


def _create_state(idempotency_key: str | None) -> CallState:
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    return CallState(operation="create_video", creates=True, idempotency_key=idempotency_key or new_key())


def _request_from(request: VideoRequest | None, fields: Mapping[str, Any]) -> VideoRequest:
    """The request given, or one built from keyword fields; never both."""
    if request is None:
        if not fields:
            raise _ValidationError("request", "must be a VideoRequest, or its fields as keywords", None)
        return VideoRequest(**fields)
    if not isinstance(request, VideoRequest):
        raise _ValidationError("request", "must be a VideoRequest", request)
    if fields:
        raise _ValidationError(
            "request", "cannot be combined with keyword fields (give one or the other)", sorted(fields)
        )
    return request


def _unknown_status(task: VideoTask, polls: int, dialect: Dialect) -> APIResponseValidationError:
    word = task.raw.get("status") if isinstance(task.raw, Mapping) else None
    error = APIResponseValidationError(
        f"task {task.task_id} reported the status {word!r} {polls} times in a row; no relay family "
        f"documents it, so its end cannot be told (dialect {dialect.name!r}: is it the right one?)",
        status_code=200,
    )
    error.verdict = error.verdict.FATAL
    return error


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


def _checked_policy(retry: object) -> RetryPolicy | None:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise _ValidationError("retry", "must be a RetryPolicy", retry)
    return retry
