"""An embedded Sora-compatible relay for tests, demos and benchmarks (aiohttp.web, no other dependency).

It speaks the two endpoints of API.md with the relays' envelope, simulates task progress from the clock,
and can be made hostile on purpose: an API key, a per-key rate limit with any form of wait hint, seeded
faults before or after a task is created, added latency, honoured or ignored idempotency keys. Its
counters (`relay.stats`) let a test check what the server really saw: creations per idempotency key
(duplicates mean a client paid twice), 429s, faults, and the arrival time of every accepted create.

Construction: one frozen `MockConfig` holds every knob; `MockRelay` takes a config, keyword overrides of
its fields, or both (overrides win)::

    from sora_async.mock import MockConfig, MockRelay

    async with MockRelay(rate=50, burst=5, drop_after=0.05, seed=7) as relay:   # port 0: a free port
        ...  # point a client at relay.url
        assert not relay.stats.duplicates

    cfg = MockConfig(api_key="sk-test", queue_time=0.01, run_time=0.05)
    relay = MockRelay(cfg, port=8000)
    await relay.start()
    ...
    await relay.stop()

    run_mock_server(MockConfig(rate=10), port=8000)   # blocking, for the command line; Ctrl-C stops it

This package imports nothing from the rest of `sora_async`, so that it tests the client from the outside.
"""

from ._config import RETRY_AFTER_MODES, MockConfig, RetryAfterMode
from ._faults import FAULT_KINDS, FaultKind
from ._server import MockRelay, run_mock_server
from ._stats import RelayStats
from ._validate import SIZES

__all__ = [
    "FAULT_KINDS",
    "RETRY_AFTER_MODES",
    "SIZES",
    "FaultKind",
    "MockConfig",
    "MockRelay",
    "RelayStats",
    "RetryAfterMode",
    "run_mock_server",
]
