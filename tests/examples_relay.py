"""The mock relay the examples, the README and the docs run against: its key and quick task timings."""

from __future__ import annotations

import contextlib
from typing import Any

from sora_async.mock import MockRelay
from tests.relay_thread import relay_in_thread

KEY = "sk-examples-test-key"
FAST: dict[str, Any] = {"api_key": KEY, "queue_time": 0.01, "run_time": 0.05, "seed": 4}
"""Tasks finish in 60 ms, so waits take a poll or two."""


def examples_relay(**overrides: Any) -> contextlib.AbstractContextManager[MockRelay]:
    """A MockRelay serving from its own event loop in a thread, for code that calls ``asyncio.run``."""
    return relay_in_thread(**{**FAST, **overrides})
