"""Deadlines that tell the caller's cancellation from our own timeout, on every supported Python.

``asyncio.timeout`` (3.11+) knows whether a cancellation came from its own timer or from outside,
so a caller's ``asyncio.wait_for(client.create_video(...), 1)`` always ends at the caller's deadline
even when the client's own timeout fires in the same instant. On 3.10, ``async_timeout`` (which
aiohttp already depends on there) is the closest equivalent.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import AbstractAsyncContextManager

__all__ = ["current_task_cancelling", "timeout_after"]

if sys.version_info >= (3, 11):

    def timeout_after(seconds: float | None) -> AbstractAsyncContextManager[object]:
        """A deadline ``seconds`` from now (None: no deadline); raises ``TimeoutError`` past it."""
        return asyncio.timeout(seconds)

    def current_task_cancelling() -> bool:
        """True when someone asked the running task to stop (its own deadline or its caller)."""
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

else:  # pragma: no cover - Python 3.10
    import async_timeout  # type: ignore[import-not-found, unused-ignore]

    def timeout_after(seconds: float | None) -> AbstractAsyncContextManager[object]:
        """A deadline ``seconds`` from now (None: no deadline); raises ``TimeoutError`` past it."""
        return async_timeout.timeout(seconds)  # type: ignore[no-any-return, unused-ignore]

    def current_task_cancelling() -> bool:
        """Python 3.10 cannot tell; assume nobody asked."""
        return False
