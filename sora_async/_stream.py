"""``submit_many``'s engine: a pool of workers sharing one input, at most ``window`` items held at once.

A worker takes the next item, creates it, and leaves its ``SubmitResult`` for the consumer; the
stream yields results as they come. Items in flight and results not yet consumed both count against
the window, so a generator of millions keeps memory flat and a slow consumer holds new sends back.

Workers, not a task per item: a task per item costs a task, two callbacks and a result hand-off for
each one, and that was a quarter of the SDK's time per create. As many workers as the client has
slots (``max_concurrency``), not as many as the window: a worker queued at the gate costs nothing
while it waits, but handing slots from task to task kept the garbage collector busy (a dozen times
the collections of a plain worker loop, measured). The guarantee is the same: every item
taken gets exactly one result, whatever happens to it. An error of any kind becomes its result; the
client closed under the stream (its tasks cancelled) gives the item in flight, and every item taken
after, a ``ConfigurationError`` result. The input raising ends the reading, not the stream: the
items already taken (sent, perhaps creating tasks) still get their results, and only then does the
stream raise the input's error. Only the consumer leaving the stream drops the work in flight, as it
must, and the stream closes only once a read of an async input under way has ended.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from typing import Any

from ._errors import ConfigurationError, SoraError, UnexpectedError
from ._gate import Gate
from ._retry import CallState
from ._submit import SubmitInput, SubmitItem, SubmitResult, validated_request

__all__ = ["CreateOne", "stream_results"]

CreateOne = Callable[[Any, CallState], Awaitable[str]]
"""Sends one item's create under its state, in a slot of the gate the worker holds (the client's
``_create_in_slot`` bound to the call's options); gives the slot back."""
Track = Callable[[Awaitable[Any]], "asyncio.Task[Any]"]

_CLOSED = "the SoraClient was closed before this item finished"

ABANDON_GRACE = 1.0
"""Seconds a stream being left waits for a cancelled read of its async input to end: a generator
that swallows the cancellation is left to run rather than hold the stream open."""


async def stream_results(
    items: Iterable[SubmitInput] | AsyncIterable[SubmitInput],
    *,
    gate: Gate,
    create: CreateOne,
    new_key: Callable[[], str],
    track: Track,
    window: int,
    workers: int,
) -> AsyncGenerator[SubmitResult, None]:
    """Yield one ``SubmitResult`` per item as each completes, holding at most ``window`` at once."""
    pool = _Pool(_Source(items), gate, create, new_key, window)
    tasks = [track(pool.work()) for _ in range(max(1, min(workers, window)))]
    pool.live = len(tasks)
    loop = asyncio.get_running_loop()  # once: on Python 3.11 each look-up is a getpid() call
    try:
        while True:
            if pool.done:
                if pool.waiting_for_room:
                    pool.room.set()
                yield pool.done.popleft()
            elif pool.live:  # wait for a result or a worker's end: a bare future, no coroutine
                news = pool.news = loop.create_future()
                try:
                    await news
                finally:
                    pool.news = None
            elif pool.failure is not None:  # the input raised, and every item taken is answered:
                raise pool.failure  # as if the loop over the input had
            elif pool.client_closed and not pool.source.exhausted:
                source = pool.source  # the client is gone: what is left still gets answers
                taken = source.take_now() if source.plain else await source.take()
                if taken is not None:
                    yield pool.closed_result(*taken)
            else:
                return
    finally:
        pool.leaving = True
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await pool.source.abandon()


class _Source:
    """The shared input, numbered. Async inputs are read one worker at a time (a lock); plain ones
    need none, because ``next`` never suspends."""

    def __init__(self, items: Iterable[SubmitInput] | AsyncIterable[SubmitInput]) -> None:
        self._async: AsyncIterator[SubmitInput] | None = None
        self._sync: Iterator[SubmitInput] | None = None
        if isinstance(items, AsyncIterable):
            self._async = items.__aiter__()
        else:
            self._sync = iter(items)
        self._lock = asyncio.Lock()
        self._fetch: asyncio.Future[SubmitInput] | None = None  # an async read under way
        self._index = 0
        self.exhausted = False
        self.plain = self._sync is not None
        """A plain iterable: ``take_now`` reads it without awaiting anything."""

    def take_now(self) -> tuple[int, SubmitInput] | None:
        """The next item of a plain iterable and its index, or None once it is spent."""
        assert self._sync is not None
        if self.exhausted:
            return None
        try:
            item = next(self._sync)
        except StopIteration:
            self.exhausted = True
            return None
        except BaseException:
            self.exhausted = True  # the input raised: it ends here, nothing more is read from it
            raise
        return self._numbered(item)

    async def take(self) -> tuple[int, SubmitInput] | None:
        """The next item of an async iterable and its index, or None once it is spent.

        The read runs shielded, as a task of its own: a worker cancelled while it waits (the client
        closed) leaves the read going, and the next taker gets that item. Cancelling the read
        itself would throw into the caller's generator and end it, and the items it had not
        yielded yet would get no answer.
        """
        assert self._async is not None
        try:
            async with self._lock:
                if self.exhausted:  # another worker may have spent it while this one waited
                    return None
                fetch = self._fetch
                if fetch is None:
                    fetch = self._fetch = asyncio.ensure_future(self._async.__anext__())
                try:
                    item = await asyncio.shield(fetch)
                except asyncio.CancelledError:
                    if fetch.cancelled():
                        self._fetch = None  # the read itself is over
                    raise  # else the read, done or not, is the next taker's: its item is not lost
                except StopAsyncIteration:
                    self._fetch = None
                    raise
                except BaseException:
                    self._fetch = None  # the input raised: it ends here, this taker has the error
                    self.exhausted = True
                    raise
                self._fetch = None
        except StopAsyncIteration:
            self.exhausted = True
            return None
        return self._numbered(item)

    async def abandon(self) -> None:
        """The consumer left: a read under way is cancelled (nobody will take its item) and waited
        for, so that the caller's generator is at rest when the stream has closed (its ``finally``
        has run, and its own ``aclose`` works); a finished read's outcome is marked as seen
        (asyncio would log an unread exception)."""
        fetch, self._fetch = self._fetch, None
        if fetch is not None:
            fetch.cancel()
            fetch.add_done_callback(_mark_seen)
            await asyncio.wait([fetch], timeout=ABANDON_GRACE)  # a generator may ignore the cancel

    def _numbered(self, item: SubmitInput) -> tuple[int, SubmitInput]:
        index = self._index
        self._index += 1
        return index, item


def _mark_seen(fetch: asyncio.Future[Any]) -> None:
    if not fetch.cancelled():
        fetch.exception()


class _Pool:
    """What the workers and the consumer share: the input, the finished results, two wake-ups."""

    def __init__(
        self, source: _Source, gate: Gate, create: CreateOne, new_key: Callable[[], str], window: int
    ) -> None:
        self.source = source
        self.gate = gate
        self.create = create
        self.new_key = new_key
        self.window = window
        self.done: collections.deque[SubmitResult] = collections.deque()
        self.news: asyncio.Future[None] | None = None  # the consumer's wait for a result or an end
        self.room = asyncio.Event()  # the consumer took a result
        self.waiting_for_room = 0
        self.in_flight = 0
        self.live = 0
        self.leaving = False  # the consumer left: work in flight is dropped
        self.client_closed = False
        self.failure: BaseException | None = None

    async def work(self) -> None:
        """Take items until the input is spent; a cancellation by the client ends the worker."""
        try:
            while await self._next():
                pass
        except asyncio.CancelledError:
            if self.leaving:
                raise
            self.client_closed = True  # the client was closed under the stream
        except BaseException as exc:  # the input raised: the consumer re-raises it
            self.failure = exc
        finally:
            self.live -= 1
            self._tell()

    async def _next(self) -> bool:
        while self.in_flight + len(self.done) >= self.window:
            self.room.clear()
            self.waiting_for_room += 1
            try:
                await self.room.wait()
            finally:
                self.waiting_for_room -= 1
        self.in_flight += 1
        try:
            source = self.source
            taken = source.take_now() if source.plain else await source.take()
            if taken is None:
                return False
            index, raw = taken
            if isinstance(raw, SubmitItem):
                request, key, tag = raw.request, raw.idempotency_key, raw.tag
            else:  # a plain item needs no SubmitItem built around it
                request, key, tag = raw, None, None
            state = self._state(key)
            try:  # one item's result, whatever the create raised (written out: a coroutine less)
                request = validated_request(request)
                gate = self.gate
                if not gate.try_enter():
                    await gate.wait_turn()
                task_id = await self.create(request, state)
            except SoraError as exc:
                result = _result(index, request, tag, state, None, exc)
            except asyncio.CancelledError:
                if not self.leaving:  # the client closed: this item still gets its answer
                    self._finish(_result(index, request, tag, state, None, ConfigurationError(_CLOSED)))
                raise
            except Exception as exc:  # the client wraps what it foresaw; this catches the rest
                error = UnexpectedError(exc, during="create_video")
                result = _result(index, request, tag, state, None, error)
            else:
                result = _result(index, request, tag, state, task_id, None)
            self._finish(result)
            return True
        finally:
            self.in_flight -= 1

    def _finish(self, result: SubmitResult) -> None:
        self.done.append(result)
        self._tell()

    def _tell(self) -> None:
        news = self.news
        if news is not None and not news.done():
            news.set_result(None)

    def closed_result(self, index: int, raw: SubmitInput) -> SubmitResult:
        """The answer for an item taken after the client was closed: nothing was sent."""
        item = raw if isinstance(raw, SubmitItem) else SubmitItem(raw)
        state = self._state(item.idempotency_key)
        return _result(index, item.request, item.tag, state, None, ConfigurationError(_CLOSED))

    def _state(self, key: str | None) -> CallState:
        return CallState(operation="create_video", creates=True, idempotency_key=key or self.new_key())


def _result(
    index: int, request: Any, tag: Any, state: CallState, task_id: str | None, error: SoraError | None
) -> SubmitResult:
    return SubmitResult(
        index=index,
        request=request,
        task_id=task_id,
        error=error,
        idempotency_key=state.idempotency_key or "",
        attempts=state.attempts,
        tag=tag,
    )
