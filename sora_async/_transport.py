"""The transport seam: how one HTTP exchange goes out and what comes back, nothing more.

The client hands a ``Request`` to a ``Transport`` and gets a ``Response`` with the whole body, read
in chunks and never more than ``max_body`` bytes; or, for downloads, a ``StreamedResponse`` whose
body it reads itself. What the answer means is decided above (``_core``); what failed on the wire
is said here, as ``APIConnectionError`` / ``APITimeoutError`` with ``request_sent`` telling whether
the relay may have seen the request.

Two transports: ``AiohttpTransport`` (the default, one pooled ``aiohttp.ClientSession``) and
``MockTransport``, which answers from a function in memory, for tests::

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        return sa.TransportResponse(200, body=b'{"code": "success", "data": "task_1"}')

    client = sa.SoraClient(api_key="sk-test", base_url="https://relay.test",
                           transport=sa.MockTransport(handler))

Redirects are never followed: a create sent again to another origin could pay twice, and the key
would go with it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Union

import aiohttp
import yarl

from ._compat import current_task_cancelling, timeout_after
from ._deadlines import COARSE_FROM, DeadlineWatch
from ._errors import APIConnectionError, APIResponseValidationError, APITimeoutError, ConfigurationError

__all__ = [
    "AiohttpTransport",
    "MockTransport",
    "StreamedResponse",
    "Transport",
    "TransportRequest",
    "TransportResponse",
    "origin_of",
]

CHUNK = 64 * 1024
RECV_SIZE = 64 * 1024
"""The most a plain-HTTP connection receives at once. asyncio's socket transport receives into a new
bytes object of its ``max_size`` (256 KiB) per read: above glibc's threshold for mapping memory,
so each answer costs an mmap, an mremap and an munmap, about a sixth of a raw aiohttp loop's time
per small answer, until the process frees one such block whole (glibc then raises its threshold;
any TLS connection does that soon). 64 KiB comes from the heap whatever the process did before."""
_CAN_UNCANCEL = sys.version_info >= (3, 11)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})  # a shared default that nobody can change


class TransportRequest(NamedTuple):
    """One request as it goes on the wire. Its repr leaves out the headers (they hold the key).

    A named tuple: immutable, and cheap to build once per attempt on the hot path.

    >>> TransportRequest("GET", "https://relay.test/sora/v1/videos/t1", {"Authorization": "Bearer sk-x"})
    <TransportRequest GET https://relay.test/sora/v1/videos/t1>

    Args:
        method: The HTTP method, upper case.
        url: The whole URL, query included.
        headers: Every header to send, the key's ``Authorization`` included.
        body: The body's bytes, or None for a request without one.
    """

    method: str
    url: str
    headers: Mapping[str, str] = _NO_HEADERS
    body: bytes | None = None

    def __repr__(self) -> str:
        return f"<TransportRequest {self.method} {self.url}>"

    def describe(self) -> str:
        """Method and path, for messages and logs: no host, no query (it might carry something private)."""
        return f"{self.method} {path_of(self.url)}"


class TransportResponse(NamedTuple):
    """One answer: status, headers and the body as bytes.

    >>> TransportResponse(429, {"Retry-After": "1"}, b"").status
    429

    Args:
        status: The HTTP status code.
        headers: The answer's headers (any mapping; aiohttp's is case-insensitive).
        body: The whole body, at most the ``max_body`` the transport was given.
    """

    status: int
    headers: Mapping[str, str] = _NO_HEADERS
    body: bytes = b""


def path_of(url: str) -> str:
    """The path of a URL, for messages and logs (no host, no query)."""
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].split("?", 1)[0] if slash >= 0 else "/"


class StreamedResponse(abc.ABC):
    """An answer whose body is read piece by piece (downloads): status and headers first."""

    status: int
    headers: Mapping[str, str]

    @abc.abstractmethod
    def iter_chunks(self, size: int = CHUNK) -> AsyncIterator[bytes]:
        """The body, ``size`` bytes or fewer at a time."""


class Transport(abc.ABC):
    """What the client needs to talk to a relay. Subclass it to send through something else.

    >>> class Recording(Transport):
    ...     def __init__(self) -> None:
    ...         self.sent: list[TransportRequest] = []
    ...     async def send(self, request, *, max_body, timeout=None) -> TransportResponse:
    ...         self.sent.append(request)
    ...         return TransportResponse(200, body=b'{"code": "success", "data": "task_1"}')
    >>> isinstance(Recording(), Transport)
    True
    """

    @abc.abstractmethod
    async def send(
        self, request: TransportRequest, *, max_body: int, timeout: float | None = None
    ) -> TransportResponse:
        """Send ``request`` and return the answer, its body capped at ``max_body`` bytes.

        A caller's own cancellation (its deadline) must pass through as ``CancelledError``.

        Args:
            request: What to send.
            max_body: The largest body to read, in bytes; a longer one raises
                ``APIResponseValidationError``.
            timeout: Seconds for the whole exchange, connection to last byte; None for no bound.

        Raises:
            APIConnectionError: No answer came (the connection failed); ``request_sent`` says
                whether the relay may have seen the request.
            APITimeoutError: No answer came in time (a subclass of ``APIConnectionError``).
            APIResponseValidationError: The body is longer than ``max_body``.
        """

    def stream(self, request: TransportRequest) -> contextlib.AbstractAsyncContextManager[StreamedResponse]:
        """Send ``request`` and give its answer with a body to read in chunks (for downloads).

        Args:
            request: What to send (a GET of a video, usually); the answer's body is read in chunks.

        Raises:
            NotImplementedError: The transport cannot stream (the default, for a subclass that does
                not override it).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot stream")

    async def aclose(self) -> None:  # noqa: B027 - optional: most transports hold nothing
        """Release connections. The client calls it for transports it built."""


# --- aiohttp ----------------------------------------------------------------------------------------

# aiohttp >= 3.10 tells a connect timeout (nothing sent) from a read timeout (maybe sent).
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    cls for cls in (getattr(aiohttp, "ConnectionTimeoutError", None),) if cls is not None
)


class _SmallReadsConnector(aiohttp.TCPConnector):
    """aiohttp's connector, whose plain-HTTP connections receive RECV_SIZE bytes at most at once.

    Only asyncio's socket transports have a ``max_size``; TLS connections (whose reads end in a
    freed 256 KiB block, which raises glibc's threshold by itself), uvloop's and test doubles are
    left as they are.
    """

    async def connect(self, *args: Any, **kwargs: Any) -> aiohttp.connector.Connection:
        connection = await super().connect(*args, **kwargs)
        socket_transport = connection.transport
        size = getattr(socket_transport, "max_size", None)
        if type(size) is int and size > RECV_SIZE:
            with contextlib.suppress(AttributeError):  # a transport whose size is not ours to set
                socket_transport.max_size = RECV_SIZE  # type: ignore[union-attr]
        return connection


class AiohttpTransport(Transport):
    """The default transport: one ``aiohttp.ClientSession``, made on first use in the running loop.

    ``max_connections`` bounds the pool (the client matches it to its concurrency),
    ``connect_timeout`` bounds setting up a connection, and the ``timeout`` of each ``send`` the
    whole exchange. A timeout of ``COARSE_FROM`` (2.5) seconds or more is kept by one shared
    ``DeadlineWatch`` for all requests in flight and ends at most a quarter of a second late; a
    shorter one has aiohttp's exact timer. A caller's own deadline always wins, as a cancellation.
    Once ``aclose`` has run it stays closed: a request after it raises ``ConfigurationError``
    rather than open a session nobody would close.
    """

    DEADLINE_TICK = 0.25
    """Seconds between two looks of the shared deadline watch: how late a coarse timeout may end."""

    def __init__(self, *, max_connections: int = 100, connect_timeout: float = 10.0) -> None:
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        self._untimed = aiohttp.ClientTimeout(total=None, connect=connect_timeout)
        self._watch = DeadlineWatch(tick=self.DEADLINE_TICK)
        self._closed = False

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:  # a session opened now would never be closed: nothing is sent
            raise ConfigurationError("this AiohttpTransport is closed; create a new one")
        if self._session is None or self._session.closed:
            # A new session may mean a new loop: a new watch. The old one goes on for the requests
            # it still holds (its timer stops by itself once they are over).
            self._watch = DeadlineWatch(tick=self.DEADLINE_TICK, loop=asyncio.get_running_loop())
            self._session = aiohttp.ClientSession(
                connector=_SmallReadsConnector(limit=self.max_connections),
                timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout),
                raise_for_status=False,
                auto_decompress=True,
            )
        return self._session

    def _timeout(self, total: float | None) -> aiohttp.ClientTimeout:
        """aiohttp's own per-request timer (it lets a caller's cancellation through on 3.11+)."""
        cached = self._timeouts.get(total)
        if cached is None:
            cached = self._timeouts[total] = aiohttp.ClientTimeout(total=total, connect=self.connect_timeout)
        return cached

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def send(
        self, request: TransportRequest, *, max_body: int, timeout: float | None = None
    ) -> TransportResponse:
        session = self._ensure_session()
        watch = self._watch  # this request's, even if a later one makes a new session and watch
        task = self._watched(watch, timeout)
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
                timeout=self._timeout(timeout) if task is None else self._untimed,
            ) as response:
                length = response.content_length
                if length is not None and length <= max_body and not _compressed(response):
                    body = await response.read()  # one read of a known, allowed length
                else:
                    body = await _read_capped(response, max_body)
                return TransportResponse(response.status, response.headers, body)
        except APIResponseValidationError:
            raise
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            if task is not None and watch.timed_out(task):  # the watch's cancel, turned into another error
                raise _no_answer(request.url) from exc
            raise _wire_error(exc, request.url) from exc
        except asyncio.CancelledError:
            if task is not None and watch.timed_out(task):
                raise _no_answer(request.url) from None
            raise
        finally:
            if task is not None:
                watch.release(task)

    @staticmethod
    def _watched(watch: DeadlineWatch, timeout: float | None) -> asyncio.Task[Any] | None:
        """The task whose deadline the shared watch keeps for this request; None: aiohttp's timer.

        Python 3.10 has no ``Task.uncancel``, so there the watch could not tell its cancellation
        from a caller's that lands in the same instant: aiohttp's timer keeps every deadline.
        """
        if timeout is None or timeout < COARSE_FROM or not _CAN_UNCANCEL:
            return None  # no deadline, one too short for a coarse watch, or Python 3.10
        loop = watch.loop  # the session's: on Python 3.11 each get_running_loop() is a getpid() call
        if loop is None:
            return None
        task = asyncio.current_task(loop)
        if task is None or not watch.watch(task, loop.time() + timeout):
            return None
        return task

    @contextlib.asynccontextmanager
    async def stream(self, request: TransportRequest) -> AsyncIterator[StreamedResponse]:
        session = self._ensure_session()
        try:
            async with session.request(
                request.method, request.url, headers=request.headers, allow_redirects=False
            ) as response:
                yield _AiohttpStream(response)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            raise _wire_error(exc, request.url) from exc

    async def aclose(self) -> None:
        self._closed = True
        self._watch.close()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


class _AiohttpStream(StreamedResponse):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = response.headers

    async def iter_chunks(self, size: int = CHUNK) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(size):
                yield chunk
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            raise _wire_error(exc, str(self._response.url)) from exc


def _compressed(response: aiohttp.ClientResponse) -> bool:
    """A compressed answer: its ``Content-Length`` counts the compressed bytes, and aiohttp hands
    over the inflated ones, which the cap is about (a 50 KB gzip can hold 50 MB)."""
    encoding = response.headers.get("Content-Encoding")
    return encoding is not None and encoding.strip().lower() != "identity"


async def _read_capped(response: aiohttp.ClientResponse, max_body: int) -> bytes:
    """A body of unknown length or a compressed one, read in chunks (inflated) and refused past
    ``max_body`` bytes (a huge, endless or explosive answer), or one announced past it, refused
    unread. (``send`` reads a plain body of a known, allowed length itself, with one read and no
    coroutine more.)"""
    length = response.content_length
    if length is not None and length > max_body:
        raise _too_large(response.status, max_body, f"it announced {length} bytes")
    parts: list[bytes] = []
    total = 0
    while chunk := await response.content.read(CHUNK):
        total += len(chunk)
        if total > max_body:
            raise _too_large(response.status, max_body, "it went on past that")
        parts.append(chunk)
    return b"".join(parts)


def _too_large(status: int, max_body: int, detail: str) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"HTTP {status} with an answer longer than max_response_bytes={max_body} ({detail}); "
        "the rest was not read",
        status_code=status,
    )


def _wire_error(exc: BaseException, url: str) -> APIConnectionError:
    """The SDK error for a failure on the wire; a caller's own cancellation is never one of these."""
    if isinstance(exc, asyncio.TimeoutError) and current_task_cancelling():
        raise asyncio.CancelledError  # the caller's deadline, not ours: let it through
    where = origin_of(url)
    if _CONNECT_TIMEOUT and isinstance(exc, _CONNECT_TIMEOUT):
        return APITimeoutError(f"timed out connecting to {where}", request_sent=False)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(f"could not connect to {where}: {exc.os_error}", request_sent=False)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return _no_answer(url)
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(f"connection to {where} failed: {detail}", request_sent=True)


def _no_answer(url: str) -> APITimeoutError:
    return APITimeoutError(f"timed out waiting for {origin_of(url)} to answer", request_sent=True)


def origin_of(url: str) -> str:
    """Scheme, host and port only: never a path or query that might carry something private."""
    parsed = yarl.URL(url)
    port = f":{parsed.explicit_port}" if parsed.explicit_port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


# --- in memory --------------------------------------------------------------------------------------

Handler = Callable[
    [TransportRequest], Union[TransportResponse, Awaitable[TransportResponse]]  # noqa: UP007 - 3.10
]


class MockTransport(Transport):
    """Answers every request from ``handler`` (plain or async), in memory: for tests of code that uses
    the client.

    Args:
        handler: Called with each ``TransportRequest`` (plain or async); returns the
            ``TransportResponse``, or raises ``sa.APIConnectionError`` to simulate a failure on the
            wire.

    >>> import sora_async as sa
    >>> seen = []
    >>> def handler(request):
    ...     seen.append((request.method, request.url))
    ...     return sa.TransportResponse(200, body=b'{"code": "success", "data": "task_1"}')
    >>> async def main():
    ...     transport = sa.MockTransport(handler)
    ...     client = sa.SoraClient(api_key="sk-test", base_url="https://relay.test", transport=transport)
    ...     async with client:
    ...         return await client.create_video(prompt="a fox")
    >>> import asyncio; asyncio.run(main()), seen
    ('task_1', [('POST', 'https://relay.test/sora/v1/videos')])
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[TransportRequest] = []

    async def _answer(self, request: TransportRequest) -> TransportResponse:
        self.requests.append(request)
        outcome = self.handler(request)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if not isinstance(outcome, TransportResponse):
            raise TypeError(f"MockTransport handler must return a TransportResponse (got {outcome!r})")
        return outcome

    async def send(
        self, request: TransportRequest, *, max_body: int, timeout: float | None = None
    ) -> TransportResponse:
        """Answer ``request`` from the handler, its body capped at ``max_body`` bytes.

        Whatever the handler raises (``sa.APIConnectionError``, say) passes through as it is.

        Args:
            request: What to send.
            max_body: The largest body to return, in bytes; a longer one raises
                ``APIResponseValidationError``.
            timeout: Seconds the handler may take to answer; None for no bound.

        Raises:
            APITimeoutError: The handler did not answer within ``timeout`` (``request_sent`` True).
            APIResponseValidationError: The body is longer than ``max_body``.
            TypeError: The handler returned something other than a ``TransportResponse``.
        """
        try:
            async with timeout_after(timeout):
                response = await self._answer(request)
        except asyncio.TimeoutError:
            raise APITimeoutError(
                f"no answer within {timeout:g}s (MockTransport)", request_sent=True
            ) from None
        if len(response.body) > max_body:
            raise _too_large(response.status, max_body, f"it held {len(response.body)} bytes")
        return response

    @contextlib.asynccontextmanager
    async def stream(self, request: TransportRequest) -> AsyncIterator[StreamedResponse]:
        """Answer ``request`` from the handler, its body given in chunks (for downloads).

        Args:
            request: What to send (a GET of a video, usually); the answer's body is read in chunks.

        Raises:
            TypeError: The handler returned something other than a ``TransportResponse``.
        """
        yield _MemoryStream(await self._answer(request))


class _MemoryStream(StreamedResponse):
    def __init__(self, response: TransportResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self._body = response.body

    async def iter_chunks(self, size: int = CHUNK) -> AsyncIterator[bytes]:
        for start in range(0, len(self._body), size):
            yield self._body[start : start + size]
