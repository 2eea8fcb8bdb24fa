"""A MockRelay in a thread of its own, for code under test that calls ``asyncio.run`` itself."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sora_async.mock import MockRelay


@contextlib.contextmanager
def relay_in_thread(**config: Any) -> Iterator[MockRelay]:
    """A MockRelay serving from its own event loop in a thread, stopped cleanly afterwards."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mock-relay", daemon=True)
    thread.start()
    relay = MockRelay(**config)
    try:
        asyncio.run_coroutine_threadsafe(relay.start(), loop).result(timeout=5)
        yield relay
    finally:
        asyncio.run_coroutine_threadsafe(relay.stop(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
