"""Awaitable results: the ``submit`` handle, and ``submit_many``'s items and results.

``submit_many``'s engine, which gives every item it takes exactly one ``SubmitResult``, is
``_stream``.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    Generator,
    Mapping,
)
from typing import Any, Union

import attrs

from ._errors import SoraError, ValidationError
from ._models import VideoRequest
from ._retry import CallState

__all__ = ["SubmitInput", "SubmitItem", "SubmitResult", "Submission", "validated_request"]


@attrs.frozen
class SubmitItem:
    """A request for ``submit_many`` with its own idempotency key and a tag carried to its result.

    Use it to resume work under the keys you recorded, or to join results back to your records.

    >>> item = SubmitItem(VideoRequest(prompt="a fox"), idempotency_key="job-7-row-42", tag=42)
    >>> item.idempotency_key, item.tag
    ('job-7-row-42', 42)
    """

    request: VideoRequest | Mapping[str, Any]
    """The request, as a ``VideoRequest`` or a mapping of its wire fields."""
    idempotency_key: str | None = attrs.field(default=None, kw_only=True)
    """The key to send it under (one you recorded, to resume safely); default a new one."""
    tag: Any = attrs.field(default=None, kw_only=True)
    """Anything of yours, handed back on its ``SubmitResult`` to join results to your records."""


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
    """The item's position in the input, 0-based (results come as completed, not in order)."""
    request: VideoRequest | Mapping[str, Any] | None
    """The request: the ``VideoRequest`` the item became, or the item's request as given when it
    was never sent (it failed validation, or the client was closed first)."""
    task_id: str | None
    """The created task's id, or None when it failed."""
    error: SoraError | None
    """Why it failed: always a ``SoraError`` (its ``verdict`` says whether a retry is safe), or None."""
    idempotency_key: str
    """The key it was sent under: record it to retry an ambiguous item safely."""
    attempts: int
    """HTTP attempts made for it (0 when nothing was sent)."""
    tag: Any = None
    """The ``tag`` of its ``SubmitItem``, or None."""

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

    Built by ``client.submit``, not by hand.

    Args:
        request: The request being submitted.
        state: The call's running tally (its key, its attempts so far).
        task: The task that submits it.

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


def validated_request(request: object) -> VideoRequest:
    """An item's request as a ``VideoRequest``: a mapping is read as wire fields; anything else is refused."""
    if isinstance(request, VideoRequest):
        return request
    if isinstance(request, Mapping):
        return VideoRequest.from_dict(request)
    raise ValidationError(
        "request", "must be a VideoRequest, a mapping of its fields or a SubmitItem", request
    )
