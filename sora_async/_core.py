"""The request core: the one path every call to the relay takes, whatever the endpoint.

    endpoint (data) -> [ concurrency gate -> URL and headers -> rate token (if the endpoint takes
    one) -> transport -> the answer's meaning ] -> payload for the dialect
    on a failure, the retry loop (``_retry``) runs the bracket again

An ``Endpoint`` (``_dialects``) says the method, the path, whether it creates a task and whether
it takes a rate token; nothing here is specific to one endpoint. Every exception that leaves an
attempt is a ``SoraError`` with its verdict for this endpoint: whatever the transport, the limiter
or a parser raises that we did not foresee becomes ``UnexpectedError`` (its cause kept, with the
key blanked out), so a caller never meets a raw exception and a stream never loses an item.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._dialects import Endpoint
from ._errors import (
    APIResponseValidationError,
    ConfigurationError,
    RateLimitError,
    SoraError,
    UnexpectedError,
    Verdict,
)
from ._gate import Gate
from ._http import parse_response
from ._redact import Redactor, scrub_exception
from ._retry import CallState, OnRetry, RetryPolicy, retry_after_failure
from ._throttle import ThrottleWatch
from ._transport import Transport, TransportRequest, path_of
from .limits import Limiter

__all__ = ["CLOSED", "RequestCore"]

CLOSED = "this SoraClient is closed; create a new one"

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})

logger = logging.getLogger("sora_async")


class RequestCore:
    """Sends one logical call (all its attempts) for an endpoint; shared by a client and its views."""

    __slots__ = (
        "_clock",
        "_closing",
        "_gate",
        "_throttle",
        "_urls",
        "base_url",
        "closed",
        "headers",
        "limiter",
        "redact",
        "transport",
    )

    def __init__(
        self,
        *,
        transport: Transport,
        base_url: str,
        headers: Mapping[str, str],
        limiter: Limiter,
        max_concurrency: int,
        redact: Redactor,
    ) -> None:
        self.transport = transport
        self.base_url = base_url
        self.headers = dict(headers)
        self.limiter = limiter
        self.redact = redact
        self._gate = Gate(max_concurrency)
        loop = asyncio.get_running_loop()
        # the event loop's clock, kept: on Python 3.11 every get_running_loop() is a getpid()
        # system call, and this one is read three times per attempt
        self._clock = loop.time
        self._throttle = ThrottleWatch(loop.time)
        self._urls: dict[Endpoint, str] = {}  # endpoints without a task id: their URL never changes
        self.closed = False
        """Set by ``close`` (the client's ``aclose``): an attempt that gets its slot later sends nothing."""
        self._closing: asyncio.Future[None] = loop.create_future()

    @property
    def gate(self) -> Gate:
        """The concurrency gate: one slot per request in flight (a download holds one while it streams)."""
        return self._gate

    async def call(
        self,
        endpoint: Endpoint,
        *,
        state: CallState,
        policy: RetryPolicy,
        timeout: float,
        max_body: int,
        task_id: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        on_retry: OnRetry | None = None,
    ) -> Any:
        """The parsed JSON of the relay's success answer; raises a ``SoraError`` otherwise.

        A slot of the gate first: a call waiting for one holds its place in the queue (a future)
        and nothing else, which keeps thousands of waiting calls cheap. Then attempt 1
        (``exchange``), and only if it fails the retry loop (``retry``). Creates take the same three
        steps from the client, which waits for the slot before it builds the body.
        """
        gate = self._gate
        if not gate.try_enter():
            turn = gate.queue()
            try:
                await turn
            except asyncio.CancelledError:
                gate.abandon(turn)
                raise
        request = self.request_in_slot(endpoint, state, task_id, body, headers, idempotency_key)
        try:
            return await self.exchange(endpoint, request, state, timeout, max_body)
        except SoraError as exc:
            first = exc
        # retried outside the except: the final error is not chained to attempt 1's
        return await self.retry(first, endpoint, request, state, policy, timeout, max_body, on_retry)

    def request_in_slot(
        self,
        endpoint: Endpoint,
        state: CallState,
        task_id: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> TransportRequest:
        """The request of a call that holds a slot (every attempt sends it as it is); if building it
        fails, or the client was closed while the call waited, the slot is given back and the
        failure is an SDK error."""
        self.leave_if_closed()
        try:
            return self._request(endpoint, task_id, body, headers, idempotency_key)
        except Exception as exc:
            self._gate.leave()
            raise self._unexpected(exc, state, endpoint) from exc

    async def retry(
        self,
        first: SoraError,
        endpoint: Endpoint,
        request: TransportRequest,
        state: CallState,
        policy: RetryPolicy,
        timeout: float,
        max_body: int,
        on_retry: OnRetry | None,
    ) -> Any:
        """Attempts 2..n, after attempt 1 failed with ``first``: the same request again (the same
        URL, headers, ``Idempotency-Key`` and body), each attempt in a slot of its own.
        """
        gate = self._gate

        async def attempt() -> Any:
            if not gate.try_enter():  # one slot per attempt: a backoff holds none
                await gate.wait_turn()
            self.leave_if_closed()  # closed during the backoff: no attempt more
            return await self.exchange(endpoint, request, state, timeout, max_body)

        return await retry_after_failure(
            first,
            attempt,
            started=state.started,
            policy=policy,
            state=state,
            pause=self.limiter.pause if endpoint.takes_rate_token else _no_pause,
            on_retry=on_retry,
            throttle=self._throttle,
            sleep=self.nap,
        )

    def close(self) -> None:
        """The client is closing: calls still waiting for a slot, a rate token or the end of a
        backoff send nothing more (a backoff ends at once)."""
        self.closed = True
        closing = self._close_signal()
        if not closing.done():
            closing.set_result(None)

    async def nap(self, seconds: float) -> None:
        """A retry's backoff, cut short when the client closes (the next attempt then refuses)."""
        if seconds > 0 and not self.closed:
            await asyncio.wait([self._close_signal()], timeout=seconds)

    def _close_signal(self) -> asyncio.Future[None]:
        """The running loop's close signal: a client may outlive the loop it was first used in."""
        loop = asyncio.get_running_loop()
        if self._closing.get_loop() is not loop:
            self._closing = loop.create_future()
        return self._closing

    def leave_if_closed(self) -> None:
        """In a slot after the client was closed: give the slot back and refuse, sending nothing."""
        if self.closed:
            self._gate.leave()
            raise ConfigurationError(CLOSED)

    def _request(
        self,
        endpoint: Endpoint,
        task_id: str | None,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        idempotency_key: str | None,
    ) -> TransportRequest:
        """The URL of an endpoint without a task id is built once, and the headers in one merge:
        the client's, the call's, the key."""
        if task_id is None:
            url = self._urls.get(endpoint)
            if url is None:
                url = self._urls[endpoint] = endpoint.url(self.base_url, None)
        else:
            url = endpoint.url(self.base_url, task_id)
        if idempotency_key is not None:
            merged = {**self.headers, **(headers or _NO_HEADERS), "Idempotency-Key": idempotency_key}
        elif headers:
            merged = {**self.headers, **headers}
        else:
            merged = self.headers
        return TransportRequest(endpoint.method, url, merged, body)

    async def exchange(
        self,
        endpoint: Endpoint,
        request: TransportRequest,
        state: CallState,
        timeout: float,
        max_body: int,
    ) -> Any:
        """One attempt in the gate slot its caller holds, which it gives back: rate token,
        transport, the answer's meaning, feedback."""
        clock = self._clock
        started = clock()
        state.attempts += 1
        if state.attempts == 1:
            state.started = started
        status: int | None = None
        sent = False  # for the log: an attempt that never reached the transport had no answer to miss
        try:
            if endpoint.takes_rate_token:
                await self.limiter.acquire()
                if self.closed:  # closed while this attempt waited for its token: nothing is sent
                    raise ConfigurationError(CLOSED)
                started = clock()
            sent = True
            response = await self.transport.send(request, max_body=max_body, timeout=timeout)
            status = response.status
            payload = parse_response(
                status,
                response.headers,
                response.body,
                creates=endpoint.creates,
                redact=self.redact,
                where=request.describe,
            )
        except SoraError as exc:
            self._after_failure(endpoint, started, exc)
            if exc.__cause__ is not None:  # a library's exception keeps what it saw: headers, the key
                scrub_exception(exc, self.redact)
            raise _settled(exc, endpoint.creates) from exc.__cause__
        except Exception as exc:  # whatever it was, the caller gets an SDK error for it
            raise self._unexpected(exc, state, endpoint) from exc
        finally:
            self._gate.leave()
            if logger.isEnabledFor(logging.DEBUG):
                _log_attempt(request, status, sent, state.attempts, clock() - started)
        if endpoint.takes_rate_token:  # an accepted start: the limiter and the throttle watch hear of it
            self._throttle.succeeded()
            self.limiter.observe(started=started, throttled=False)
        return payload

    def _after_failure(self, endpoint: Endpoint, started: float, exc: SoraError) -> None:
        """Tell the limiter how a refused rate-token attempt was answered (a 429 or another status;
        a failure with no answer says nothing about the rate)."""
        if not endpoint.takes_rate_token:
            return
        throttled = isinstance(exc, RateLimitError)
        if throttled or getattr(exc, "status_code", None) is not None:
            self.limiter.observe(started=started, throttled=throttled)

    def _unexpected(self, exc: Exception, state: CallState, endpoint: Endpoint) -> UnexpectedError:
        scrub_exception(exc, self.redact)
        error = UnexpectedError(exc, during=state.operation)
        error.args = (self.redact(str(error)),)
        logger.error("%s", error.args[0])
        return error


def _settled(exc: SoraError, creates: bool) -> SoraError:
    """A query cannot be ambiguous: whatever may have reached the relay, asking again is free."""
    if not creates and exc.verdict is Verdict.AMBIGUOUS:
        exc.verdict = Verdict.RETRY
    return exc


def no_task_id(payload: Any, redact: Redactor) -> APIResponseValidationError:
    """A 2xx create answer that holds no task id: the task may exist, so this is ambiguous."""
    excerpt = redact(repr(payload)[:200])
    return APIResponseValidationError(
        f"the create answer holds no task id: {excerpt}", status_code=200, body=excerpt
    )


async def _no_pause(seconds: float) -> None:
    """Queries ignore server pauses meant for creates (they are free and limited apart, if at all)."""


def _log_attempt(
    request: TransportRequest, status: int | None, sent: bool, attempt: int, duration: float
) -> None:
    path = path_of(request.url)
    logger.debug(
        "%s %s -> %s (attempt %d, %.1f ms)",
        request.method,
        path,
        status if status is not None else "no answer" if sent else "not sent",
        attempt,
        duration * 1000,
        extra={
            "method": request.method,
            "path": path,
            "status": status,
            "sent": sent,
            "attempt": attempt,
            "duration": duration,
        },
    )
