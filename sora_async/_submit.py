"""Awaitable results: the ``submit`` handle, ``submit_many``'s items and results, and its window.

``submit_many`` holds at most ``window`` items at once, counting results not yet consumed, so a
generator of millions keeps memory flat; and every item it takes gets exactly one ``SubmitResult``
whatever happens to it (an error of any kind, its task cancelled by ``aclose``), so the stream can
never lose an item or wait forever.
"""

from __future__ import annotations

import asyncio
import functools
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
from typing import Any, Union

import attrs

from ._errors import ConfigurationError, SoraError, UnexpectedError, ValidationError
from ._models import VideoRequest
from ._retry import CallState

__all__ = ["SubmitInput", "SubmitItem", "SubmitResult", "Submission", "stream_results"]


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

    ``error`` is always a ``SoraError`` (anything unforeseen arrives as ``UnexpectedError`` with
    its ``cause``), so ``error.verdict`` says whether trying the item again is safe.

    >>> result = SubmitResult(
    ...     index=0, request=None, task_id="task_1", error=None, idempotency_key="k-1", attempts=1
    ... )
    >>> result.ok
    True
    """

    index: int
    request: VideoRequest | Mapping[str, Any] | None
    task_id: str | None
    error: SoraError | None
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

    >>> async def create_in_background(client, request: VideoRequest) -> str:
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


CreateOne = Callable[[VideoRequest, CallState], Awaitable[str]]
"""Sends one item's create under its state: the client's ``_create`` bound to the call's options."""
Track = Callable[[Awaitable[Any]], "asyncio.Task[Any]"]


async def stream_results(
    items: Iterable[SubmitInput] | AsyncIterable[SubmitInput],
    *,
    create: CreateOne,
    new_key: Callable[[], str],
    track: Track,
    window: int,
) -> AsyncGenerator[SubmitResult, None]:
    """Yield one ``SubmitResult`` per item as each completes, holding at most ``window`` at once."""
    finished: asyncio.Queue[SubmitResult] = asyncio.Queue()
    in_flight: set[asyncio.Task[SubmitResult]] = set()

    def collect(index: int, item: SubmitItem, state: CallState, task: asyncio.Task[SubmitResult]) -> None:
        in_flight.discard(task)
        if task.cancelled():  # the client was closed under the stream: the item still gets its answer
            error: SoraError = ConfigurationError("the SoraClient was closed before this item finished")
            finished.put_nowait(_result(index, item.request, item, state, None, error))
        else:
            finished.put_nowait(task.result())

    numbered = _aenumerate(items)
    exhausted = False
    try:
        while True:
            # Results waiting to be yielded count against the window too: memory stays O(window).
            while not exhausted and len(in_flight) + finished.qsize() < window:
                try:
                    index, raw = await numbered.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                item = raw if isinstance(raw, SubmitItem) else SubmitItem(raw)
                state = CallState(
                    operation="create_video", creates=True, idempotency_key=item.idempotency_key or new_key()
                )
                task = track(_one(index, item, state, create))
                in_flight.add(task)
                task.add_done_callback(functools.partial(collect, index, item, state))
            if exhausted and not in_flight and finished.empty():
                return
            yield await finished.get()
    finally:
        await _cancel_all(in_flight)


async def _one(index: int, item: SubmitItem, state: CallState, create: CreateOne) -> SubmitResult:
    """One item's result: never raises (short of cancellation), whatever the create raised."""
    request: VideoRequest | Mapping[str, Any] = item.request
    try:
        request = _validated(request)
        task_id = await create(request, state)
    except SoraError as exc:
        return _result(index, request, item, state, None, exc)
    except Exception as exc:  # the client wraps what it foresaw; this catches the rest
        return _result(index, request, item, state, None, UnexpectedError(exc, during="create_video"))
    return _result(index, request, item, state, task_id, None)


def _validated(request: object) -> VideoRequest:
    if isinstance(request, VideoRequest):
        return request
    if isinstance(request, Mapping):
        return VideoRequest.from_dict(request)
    raise ValidationError(
        "request", "must be a VideoRequest, a mapping of its fields or a SubmitItem", request
    )


def _result(
    index: int,
    request: VideoRequest | Mapping[str, Any],
    item: SubmitItem,
    state: CallState,
    task_id: str | None,
    error: SoraError | None,
) -> SubmitResult:
    return SubmitResult(
        index=index,
        request=request,
        task_id=task_id,
        error=error,
        idempotency_key=state.idempotency_key or "",
        attempts=state.attempts,
        tag=item.tag,
    )


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
