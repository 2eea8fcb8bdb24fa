"""Downloads: a finished task's video, streamed to disk, resumed, checked, and the key kept home.

    task / task id / URL -> the video URL -> retry rounds -> [ concurrency gate -> GET, with ``Range``
    from the partial file -> redirects by hand -> resume, start over or done -> chunks to
    ``<path>.part`` -> the promised length checked ] -> fsync -> rename onto ``path``

Why each step is there:

* **The key goes to the relay's own origin only** (scheme, host and port equal to the base URL's).
  new-api's ``result_url`` can be the relay's own ``/v1/videos/{id}/content``, which needs the key; a
  CDN or storage URL must never see it, nor the headers configured on the client (they may carry
  credentials too). Redirects are followed here, at most ``MAX_REDIRECTS``, so that the key is dropped
  as soon as the origin changes, and not sent again on that download even if it comes back.
* **Atomic**: the body goes to ``<path>.part``, which is renamed onto ``path`` once complete and on
  disk, so a file under the final name is always whole, whatever crashed or was cancelled.
* **Resumable**: a ``.part`` left by a crash, a cancel or a broken connection is continued with
  ``Range: bytes=<size>-`` when the server answers 206 with exactly that ``Content-Range``; a 200 (a
  server without ranges) or any other range starts over from zero.
* **Checked**: the length the server promised (``Content-Length``, or the total of ``Content-Range``)
  must arrive, else ``DownloadError``, which is retried, resuming.
* **Bounded**: the body is read ``CHUNK`` bytes at a time and written as it comes.
* **Paced like a query**: no rate token (a download creates nothing), but one slot of the client's
  concurrency gate per attempt, held while it streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Union

import yarl

from ._compat import timeout_after
from ._core import CLOSED, RequestCore
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    DownloadError,
    SoraError,
    UnexpectedError,
    ValidationError,
    Verdict,
)
from ._http import parse_response
from ._models import VideoTask
from ._ranges import Plan, plan_body
from ._redact import scrub_exception
from ._retry import CallState, OnRetry, RetryPolicy, run_with_retries
from ._transport import CHUNK, StreamedResponse, TransportRequest, origin_of
from ._video_source import checked_path, part_path_of, same_origin, video_url

__all__ = ["MAX_REDIRECTS", "DownloadProgress", "download_video"]

logger = logging.getLogger("sora_async")

MAX_REDIRECTS = 5
"""Redirects followed for one request; more is a loop or a trap."""
ERROR_BODY_LIMIT = 64 * 1024
"""The most of an error answer read to say what went wrong (the rest is not a video)."""

DownloadProgress = Callable[[int, Union[int, None]], object]  # noqa: UP007 - Python 3.10
"""``on_progress(done_bytes, total_bytes_or_None)``, plain or async."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PAGE_TYPES = ("text/html", "application/json")
_DOWNLOAD_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity"}  # offsets count stored bytes


async def download_video(
    core: RequestCore,
    source: VideoTask | str,
    path: str | os.PathLike[str],
    *,
    get_task: Callable[[str], Awaitable[VideoTask]],
    index: int,
    policy: RetryPolicy,
    timeout: float,
    headers: Mapping[str, str],
    on_progress: DownloadProgress | None,
    on_retry: OnRetry | None,
) -> Path:
    """``SoraClient.download_video``: the whole download, retries and resumes included."""
    target = checked_path(path)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValidationError("index", "must be an integer >= 0", index)
    url = await video_url(source, index, get_task, core.base_url)
    download = _Download(core, url, target, timeout=timeout, headers=headers, on_progress=on_progress)
    return await download.run(policy, on_retry)


# --- one download -----------------------------------------------------------------------------------


class _Download:
    """One file's download, and what it learned across attempts (its size, its validator)."""

    def __init__(
        self,
        core: RequestCore,
        url: str,
        path: Path,
        *,
        timeout: float,
        headers: Mapping[str, str],
        on_progress: DownloadProgress | None,
    ) -> None:
        self.core = core
        self.url = url
        self.path = path
        self.part = part_path_of(path)
        self.where = origin_of(url)
        self.timeout = timeout
        self.on_progress = on_progress
        own = {k: v for k, v in core.headers.items() if k.lower() not in ("accept", "content-type")}
        self._own_headers = {**own, **headers, **_DOWNLOAD_HEADERS}
        user_agent = core.headers.get("User-Agent")
        self._plain_headers = {**({"User-Agent": user_agent} if user_agent else {}), **_DOWNLOAD_HEADERS}
        self._validator: str | None = None  # the file's ETag or Last-Modified, for If-Range
        self._size: int | None = None  # the file's whole size, as an earlier answer gave it
        self._best = 0  # the most bytes ever on disk: a round of retries that beat it earns another

    async def run(self, policy: RetryPolicy, on_retry: OnRetry | None) -> Path:
        """Rounds of retries: a round that got further than any before earns a fresh one.

        A large file over a poor line may need more tries than ``max_attempts``, or longer than
        ``max_elapsed``; as long as each round gets further, it goes on (a policy without retries
        still means one try).
        """
        self._best = self._part_size()
        while True:
            before = self._best
            state = CallState(operation="download_video", creates=False)

            async def attempt(state: CallState = state) -> None:
                await self._attempt(state)

            try:
                await run_with_retries(
                    attempt,
                    policy=policy,
                    state=state,
                    pause=_no_pause,
                    on_retry=on_retry,
                    sleep=self.core.nap,
                )
                return self.path
            except SoraError as exc:
                if exc.verdict is not Verdict.RETRY or self._best <= before or policy.max_attempts < 2:
                    raise
                logger.debug("download from %s got to %d bytes; retrying afresh", self.where, self._best)

    async def _attempt(self, state: CallState) -> None:
        """One attempt, in one slot of the gate; every failure leaves it as a ``SoraError``."""
        state.attempts += 1  # the retry loop counts attempts by it
        try:
            async with self.core.gate:
                if self.core.closed:  # the client closed while this attempt waited or backed off
                    raise ConfigurationError(CLOSED)
                await self._fetch()
        except SoraError as exc:
            if exc.__cause__ is not None:
                scrub_exception(exc, self.core.redact)
            raise
        except Exception as exc:  # whatever it was, the caller gets an SDK error for it
            scrub_exception(exc, self.core.redact)
            raise UnexpectedError(exc, during="download_video") from exc

    async def _fetch(self) -> None:
        """Requests until the file is whole: a resume, a start over, the rest of a short range."""
        start = self._part_size()
        while True:
            async with contextlib.AsyncExitStack() as stack:
                response = await self._open(stack, start)
                plan = plan_body(response.status, response.headers, start, self.where)
                if plan is None or (start and not self._same_file(response.headers, plan)):
                    logger.debug("%s cannot continue %s; starting over", self.where, self.part)
                    start = 0
                    continue
                self._remember(response.headers, plan)
                done = start if response.status == 416 else await self._receive(response, plan)
            if plan.size is None or done >= plan.size:
                break
            start = done  # the server sent less than the rest (a capped range): ask for more
        with self._disk():
            os.replace(self.part, self.path)
            _sync_directory(self.path.parent)

    # --- the request ------------------------------------------------------------------------------

    async def _open(self, stack: contextlib.AsyncExitStack, start: int) -> StreamedResponse:
        """The answer to a GET from byte ``start``, redirects followed; error answers raised."""
        url = self.url
        trusted = same_origin(url, self.core.base_url)
        for _ in range(MAX_REDIRECTS + 1):
            request = TransportRequest("GET", url, self._headers(trusted, start))
            async with contextlib.AsyncExitStack() as hop:
                response = await self._send(hop, request)
                logger.debug("download GET %s -> %s", origin_of(url), response.status)
                if response.status not in _REDIRECTS:
                    await self._refuse_errors(response, url, trusted)
                    stack.push_async_exit(hop.pop_all())
                    return response
                url = self._redirect(url, response)
            trusted = trusted and same_origin(url, self.core.base_url)  # dropped once, dropped for good
        raise DownloadError(f"more than {MAX_REDIRECTS} redirects from {self.where}", verdict=Verdict.FATAL)

    def _headers(self, trusted: bool, start: int) -> dict[str, str]:
        headers = dict(self._own_headers if trusted else self._plain_headers)
        if start:
            headers["Range"] = f"bytes={start}-"
            if self._validator is not None:
                headers["If-Range"] = self._validator
        return headers

    async def _send(self, hop: contextlib.AsyncExitStack, request: TransportRequest) -> StreamedResponse:
        try:
            async with timeout_after(self.timeout):
                return await hop.enter_async_context(self.core.transport.stream(request))
        except asyncio.TimeoutError:  # our own deadline; a caller's cancel goes through as it is
            raise APITimeoutError(
                f"no answer within {self.timeout:g}s from {origin_of(request.url)}", request_sent=True
            ) from None
        except NotImplementedError:
            name = type(self.core.transport).__name__
            raise ConfigurationError(f"the transport {name} cannot stream downloads") from None

    def _redirect(self, url: str, response: StreamedResponse) -> str:
        location = response.headers.get("Location")
        if not location:
            raise DownloadError(
                f"{origin_of(url)} redirected ({response.status}) without a Location", verdict=Verdict.FATAL
            )
        try:
            target = yarl.URL(url).join(yarl.URL(location))
        except ValueError:  # a bad IPv6 host, a port past 65535
            raise DownloadError(
                f"{origin_of(url)} redirected to a malformed URL", verdict=Verdict.FATAL
            ) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise DownloadError(f"{origin_of(url)} redirected to a non-http URL", verdict=Verdict.FATAL)
        return str(target)

    async def _refuse_errors(self, response: StreamedResponse, url: str, trusted: bool) -> None:
        """Raise what an error answer, or a page where a video should be, means."""
        status = response.status
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if status == 416 or (200 <= status < 300 and kind not in _PAGE_TYPES):
            return
        raw = b""
        async with contextlib.aclosing(self._chunks(response)) as chunks:
            async for chunk in chunks:
                raw += chunk
                if len(raw) >= ERROR_BODY_LIMIT:
                    break
        where = origin_of(url)
        if 200 <= status < 300 and kind == "text/html":
            raise DownloadError(f"{where} answered with a web page, not a video file", verdict=Verdict.FATAL)
        try:
            parse_response(
                status, response.headers, raw, creates=False, redact=self.core.redact, where=f"GET {where}"
            )
        except APIStatusError as exc:
            if not trusted:  # a CDN's refusal (an expired link) says nothing about the key
                exc.affects_all_requests = False
            raise
        raise DownloadError(f"{where} answered with JSON, not a video file", verdict=Verdict.FATAL)

    def _remember(self, headers: Mapping[str, str], plan: Plan) -> None:
        """The file's validator and size, so that a later resume gets the same file or all of a new one."""
        self._validator = _validator_of(headers)
        if plan.size is not None:
            self._size = plan.size

    def _same_file(self, headers: Mapping[str, str], plan: Plan) -> bool:
        """A resumed answer is of the file the part came from: the same validator and size, where
        both answers name them. A server that ignores ``If-Range`` and sends the rest of a new
        version, or a smaller total than it first promised, would leave a file of two halves."""
        validator = _validator_of(headers)
        if self._validator is not None and validator is not None and validator != self._validator:
            return False
        return self._size is None or plan.size is None or plan.size == self._size

    # --- the body ---------------------------------------------------------------------------------

    async def _receive(self, response: StreamedResponse, plan: Plan) -> int:
        """Write the body into the partial file from ``plan.start``; the bytes on disk after it."""
        done = plan.start
        with self._disk(), self.part.open("r+b" if plan.start else "wb") as out:
            out.seek(plan.start)
            out.truncate()
            await self._report(done, plan.size)
            try:
                async with contextlib.aclosing(self._chunks(response)) as chunks:
                    async for chunk in chunks:
                        if plan.end is not None and done + len(chunk) > plan.end:
                            raise self._too_long(done + len(chunk), plan.end)
                        out.write(chunk)
                        done += len(chunk)
                        self._best = max(self._best, done)
                        await self._report(done, plan.size)
            except APIConnectionError as exc:
                raise self._short(done, plan, broke=True) from exc
            if plan.end is not None and done < plan.end:
                raise self._short(done, plan, broke=False)
            out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
        return done

    async def _chunks(self, response: StreamedResponse) -> AsyncGenerator[bytes, None]:
        """The body in chunks of at most ``CHUNK`` bytes, each due within ``timeout`` seconds."""
        chunks = response.iter_chunks(CHUNK)
        try:
            while True:
                try:
                    async with timeout_after(self.timeout):
                        chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.TimeoutError:
                    raise APITimeoutError(
                        f"no data for {self.timeout:g}s from {self.where}", request_sent=True
                    ) from None
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)  # an async generator: let it clean up now
            if close is not None:
                await close()

    def _too_long(self, received: int, promised: int) -> DownloadError:
        return DownloadError(
            f"{self.where} sent more than the {promised} bytes it promised",
            received=received,
            expected=promised,
            verdict=Verdict.FATAL,
        )

    def _short(self, done: int, plan: Plan, *, broke: bool) -> DownloadError:
        how = "the connection broke" if broke else "the body ended"
        of = f"{done} of {plan.end}" if plan.end is not None else f"{done}"
        return DownloadError(
            f"{how} after {of} bytes from {self.where}; the next try resumes from {self.part.name}",
            received=done,
            expected=plan.size if plan.size is not None else plan.end,
            part_path=str(self.part),
        )

    async def _report(self, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            outcome = self.on_progress(done, total)
            if inspect.isawaitable(outcome):
                await outcome

    def _part_size(self) -> int:
        with self._disk():
            try:
                return self.part.stat().st_size
            except FileNotFoundError:
                return 0

    @contextlib.contextmanager
    def _disk(self) -> Iterator[None]:
        """A file system failure (full disk, no permission) as the SDK error that names the file."""
        try:
            yield
        except OSError as exc:
            raise DownloadError(
                f"could not write {self.part}: {exc.strerror or exc}",
                part_path=str(self.part),
                verdict=Verdict.FATAL,
            ) from exc


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); best effort where directories cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def _no_pause(seconds: float) -> None:
    """A download takes no rate token, so a server's wait is not a fact about the key's pace."""


def _validator_of(headers: Mapping[str, str]) -> str | None:
    """A strong ETag, else Last-Modified: what ``If-Range`` sends and a resume must match."""
    etag = headers.get("ETag")
    return etag if etag and not etag.startswith("W/") else headers.get("Last-Modified")
