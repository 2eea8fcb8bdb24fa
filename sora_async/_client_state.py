"""What a ``SoraClient`` holds: the per-call options a view may change, and the state it shares.

A ``with_options`` view is a copy of its client with other ``Options``; everything in ``Shared``
(the request core, with its connections, gate and limiter, and the background submissions) is the
same object for the client and all its views, and only the client closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._checks import check_headers, check_positive_int, check_seconds
from ._core import RequestCore
from ._errors import ValidationError
from ._retry import OnRetry, RetryPolicy

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "Options", "Shared", "check_call_options", "checked_policy"]

DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The largest answer body read (8 MiB; task answers are a few KB): a bigger one is an error."""


@attrs.frozen(kw_only=True)
class Options:
    """What a ``with_options`` view may change; everything else is shared with the parent."""

    retry: RetryPolicy
    timeout: float
    max_response_bytes: int
    on_retry: OnRetry | None
    headers: Mapping[str, str]

    @classmethod
    def checked(
        cls,
        *,
        retry: object,
        timeout: object,
        max_response_bytes: int,
        on_retry: OnRetry | None,
        headers: Mapping[str, str] | None,
    ) -> Options:
        """A client's options from its arguments (``max_response_bytes`` already checked)."""
        return cls(
            retry=checked_policy(retry) or RetryPolicy(),
            timeout=check_seconds("timeout", timeout),
            max_response_bytes=max_response_bytes,
            on_retry=on_retry,
            headers=MappingProxyType(check_headers(headers)),
        )

    def changed(
        self,
        *,
        retry: object = None,
        timeout: object = None,
        max_response_bytes: object = None,
        on_retry: OnRetry | None = None,
    ) -> Options:
        """These options with each one given (not None) checked and put in its place."""
        changes: dict[str, Any] = {}
        if retry is not None:
            changes["retry"] = checked_policy(retry)
        if timeout is not None:
            changes["timeout"] = check_seconds("timeout", timeout)
        if max_response_bytes is not None:
            changes["max_response_bytes"] = check_positive_int("max_response_bytes", max_response_bytes)
        if on_retry is not None:
            changes["on_retry"] = on_retry
        return attrs.evolve(self, **changes)


class Shared:
    """Connections, gate, limiter and background submissions: one per client and all its views."""

    def __init__(self) -> None:
        self.core: RequestCore | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    async def cancel_tasks(self) -> None:
        """Mark the client closed, then cancel its unfinished submissions and wait for them to end."""
        self.closed = True
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def checked_policy(retry: object) -> RetryPolicy | None:
    """``retry`` if it is a ``RetryPolicy`` or None; anything else is refused."""
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValidationError("retry", "must be a RetryPolicy", retry)
    return retry


def check_call_options(timeout: object, retry: object) -> None:
    """A call's own ``timeout=`` and ``retry=``, checked before anything is sent: a NaN, negative or
    text timeout would otherwise never expire, or expire at once, or fail deep in the transport."""
    if timeout is not None:
        check_seconds("timeout", timeout)
    checked_policy(retry)
