"""``SoraClient``: the one object users hold. It wires the stages of a request together.

    VideoRequest -> JSON body -> request core (gate, limiter, transport, the answer's meaning,
    retries) -> the dialect reads the success -> task id / VideoTask

This module holds the constructor and the calls users make, with their per-call options
(``timeout=``, ``retry=``). Its parts live next to it: the read-only configuration, ``with_options``
views and the lifecycle (``_client_base``: connections opened lazily inside the running loop, closed
by ``aclose``), the options and what a client shares with its ``with_options``
views (``_client_state``), the choices made from its arguments (``_client_setup``), what a create
starts from (``_create``) and the polling of ``wait_for_task`` (``_wait``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._checks import (
    check_callback,
    check_idempotency_key,
    check_positive_int,
    check_seconds,
    check_task_id,
    clean_api_key,
)
from ._client_base import ClientBase
from ._client_setup import choose_limiter, choose_transport
from ._client_state import DEFAULT_MAX_RESPONSE_BYTES, Options, Shared, check_call_options
from ._core import RequestCore, no_task_id
from ._create import create_state, new_key, request_from
from ._dialects import Dialect, get_dialect
from ._download import DownloadProgress, download_video
from ._errors import (
    AmbiguousSubmissionError,
    APIResponseValidationError,
    SoraError,
    ValidationError,
)
from ._models import VideoRequest, VideoTask
from ._redact import Redactor
from ._retry import CallState, OnRetry, RetryPolicy
from ._serde import dumps_request
from ._stream import stream_results
from ._submit import Submission, SubmitInput, SubmitResult
from ._transport import Transport
from ._wait import ProgressCallback, poll_until_done
from .limits import Limiter, RateLimit

__all__ = ["SoraClient"]


class SoraClient(ClientBase):
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
        max_response_bytes: The largest answer body read (inflated, for a compressed one); a
            larger one raises ``APIResponseValidationError`` (memory per request stays bounded).

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
        check_callback("on_retry", on_retry)
        self._transport = choose_transport(
            transport, max_concurrency=max_concurrency, connect_timeout=connect_timeout
        )
        key = api_key if api_key is not None else os.environ.get("SORA_API_KEY")
        self._api_key = clean_api_key(key)
        self._base_url = base_url if base_url is not None else os.environ.get("SORA_BASE_URL")
        self._dialect = get_dialect(dialect)
        self._limiter: Limiter = choose_limiter(rate_limit, adaptive)
        self._owns_limiter = not isinstance(rate_limit, Limiter)
        self._max_concurrency = max_concurrency
        self._allow_insecure_http = bool(allow_insecure_http)
        self._owns_transport = transport is None
        self._redact = Redactor(self._api_key)
        self._options = Options.checked(
            retry=retry,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            on_retry=on_retry,
            headers=headers,
        )
        self._shared = Shared()
        self._parent: SoraClient | None = None
        self._call_headers: Mapping[str, str] = {}  # a view's own extra headers, sent per call

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
            ValidationError: A bad request, field, key, ``timeout`` or ``retry``, before anything is
                sent.
            AmbiguousSubmissionError: The task may exist but no id came back (``idempotency_key`` says
                which); not retried blindly, so nothing is paid twice.
            APIStatusError: The relay refused (``verdict`` says whether trying again can help).
            APIConnectionError: No answer came after the retries.
        """
        video = request_from(request, fields)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)  # at once, not when the call gets its slot
        check_call_options(timeout, retry)
        core = self._core()
        gate = core.gate
        if not gate.try_enter():  # wait here: a call waiting for its slot holds this coroutine only
            turn = gate.queue()
            try:
                await turn
            except asyncio.CancelledError:
                gate.abandon(turn)
                raise
        return await self._create_in_slot(core, video, idempotency_key, retry, timeout)

    async def _create(
        self,
        request: VideoRequest,
        state: CallState | str | None,
        retry: RetryPolicy | None,
        timeout: float | None,
    ) -> str:
        """One create for ``submit``: a slot of the gate, then ``_create_in_slot``."""
        core = self._core()
        if not core.gate.try_enter():
            await core.gate.wait_turn()
        return await self._create_in_slot(core, request, state, retry, timeout)

    async def _create_in_slot(
        self,
        core: RequestCore,
        request: VideoRequest,
        state: CallState | str | None,
        retry: RetryPolicy | None,
        timeout: float | None,
    ) -> str:
        """One create whose caller holds a slot of ``core``'s gate (``create_video``, ``submit``,
        ``submit_many``); the slot is given back here, whatever happens. A client closed while the
        caller waited for the slot makes it a ``ConfigurationError``: nothing is sent.

        ``state`` is the call's state, or the caller's key (or None: a fresh one) to make it from.
        The state, the body and the headers are made only now: a call waiting for its slot (thousands
        wait under ``gather``) holds none of them while it waits. Then the request core's steps,
        attempt 1 and, only if it fails, the retry loop.
        """
        endpoint = self._dialect.create
        try:  # until the core's exchange takes it over, the slot is this code's to give back
            if not isinstance(state, CallState):
                state = create_state(state)
            body = dumps_request(request)
        except BaseException as exc:
            core.gate.leave()
            if isinstance(exc, UnicodeEncodeError):  # a lone surrogate: no relay can be sent that
                raise ValidationError("request", "must hold text that UTF-8 can encode", str(exc)) from exc
            raise
        sent = core.request_in_slot(
            endpoint,
            state,
            body=body,
            headers=self._call_headers,
            idempotency_key=state.idempotency_key or "",
        )
        options = self._options
        timeout = timeout or options.timeout
        try:
            payload = await core.exchange(endpoint, sent, state, timeout, options.max_response_bytes)
            first: SoraError | None = None
        except SoraError as exc:
            first = exc
        if first is not None:  # retried outside the except: the final error is not chained to it
            payload = await core.retry(
                first,
                endpoint,
                sent,
                state,
                retry or options.retry,
                timeout,
                options.max_response_bytes,
                options.on_retry,
            )
        return self._task_id(payload, state)

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
            ValidationError: A task id that is not a URL-safe string, or a bad ``timeout`` or
                ``retry``.
            NotFoundError: No such task.
        """
        check_task_id(task_id)
        check_call_options(timeout, retry)
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
            task = self._dialect.parse_task(task_id, payload, base_url=core.base_url)
        except Exception as exc:  # pragma: no cover - dialect parsing never raises by contract
            raise APIResponseValidationError(
                f"could not read the task answer ({type(exc).__name__})", status_code=200
            ) from None
        return self._without_key(task)

    def _without_key(self, task: VideoTask) -> VideoTask:
        """The task with the key blanked out of what the relay wrote, should it have echoed it (an
        upstream error quoting the request in ``fail_reason``, say): a task goes on into
        ``TaskFailedError``, a batch's results file and the CLI's output."""
        redact = self._redact
        if not redact or redact(text := repr(task.raw)) is text:
            return task  # nothing to blank: the common case costs one repr and one look
        return attrs.evolve(
            task,
            fail_reason=redact(task.fail_reason),
            action=redact.value(task.action),
            video_urls=tuple(redact(url) for url in task.video_urls),
            data=redact.value(task.data),
            raw=redact.value(task.raw),
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

        Args:
            task_id: The id ``create_video`` returned.
            timeout: Seconds to wait in all; the call ends then, whatever a query is doing.
            poll_interval: The first wait between polls; it grows by half each poll.
            max_poll_interval: The longest wait between polls.
            on_progress: Called (plain or async) with every answer.

        Returns:
            The finished task, with its ``video_urls``.

        Raises:
            ValidationError: A bad task id, or a ``timeout`` or poll interval that is not a positive
                number of seconds.
            TaskFailedError: The task ended in FAILURE (``fail_reason`` says why).
            TaskTimeoutError: ``timeout`` passed first; the task keeps running.
            APIResponseValidationError: The relay kept answering a status word no family documents.
        """
        check_task_id(task_id)
        check_seconds("timeout", timeout)
        check_seconds("poll_interval", poll_interval)
        check_seconds("max_poll_interval", max_poll_interval)
        check_callback("on_progress", on_progress)
        return await poll_until_done(
            self.get_task,
            task_id,
            dialect=self._dialect,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            on_progress=on_progress,
            sleep=self._core().nap,
        )

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
            ValidationError: A bad ``index``, ``path``, task id, ``timeout`` or ``retry``, at once.
            DownloadError: The body ended short after the retries, or the file could not be written.
            TaskFailedError: The task failed. APIStatusError: The server refused (e.g. an expired URL).
        """
        check_call_options(timeout, retry)
        check_callback("on_progress", on_progress)
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
            ValidationError: A bad request, key, ``timeout`` or ``retry``, at once.
            ConfigurationError: The client is closed or has no key or base URL.
        """
        video = request_from(request, fields)
        check_call_options(timeout, retry)
        self._core()
        state = create_state(idempotency_key)
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
            ValidationError: A bad ``max_pending``, ``timeout`` or ``retry`` (at once, when called).
            ConfigurationError: The client is closed or has no key or base URL (at once).
            Exception: Whatever ``requests`` itself raises, as a loop over it would: nothing more
                is read from it, and the stream raises it once every item already taken has
                yielded its result.
        """
        if max_pending is not None:
            check_positive_int("max_pending", max_pending)
        check_call_options(timeout, retry)
        core = self._core()

        # a partial, not a closure: one coroutine less per item
        create = functools.partial(self._create_in_slot, core, retry=retry, timeout=timeout)
        window = max_pending or 2 * self._max_concurrency
        return stream_results(
            requests,
            gate=core.gate,
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
