"""An embedded Sora-compatible relay for tests, demos and benchmarks (aiohttp.web, no other dependency).

It speaks one relay family at a time, chosen by `profile` (docs/relays.md): "sora" (the seed's
envelope relays of API.md), "new-api" (`/v1/video/generations`, TaskDto answers, `result_url` on the
relay's own content route) or "openai" (`/v1/videos` video objects and `/v1/videos/{id}/content`),
with each family's routes, answer shapes, statuses, URL places, errors and 429s, including new-api's
200 HTML dashboard for a path it does not serve. It simulates task progress from the clock, and can be
made hostile on purpose: an API key, a per-key rate limit with any form of wait hint, upstream
saturation, seeded faults before or after a task is created, added latency, a content route that
ignores `Range` or cuts its body short.

Like the real relays it ignores `Idempotency-Key` and sends no wait hint on a 429 unless asked by
name (`honour_idempotency=True`, `retry_after="seconds"`): a test that needs the kinder relay says so. Its
counters (`relay.stats`) let a test check what the server really saw: creations per idempotency key
(duplicates mean a client paid twice), 429s, faults, and the arrival time of every accepted create.

Construction: one frozen `MockConfig` holds every knob; `MockRelay` takes a config, keyword overrides of
its fields, or both (overrides win)::

    from sora_async.mock import MockConfig, MockRelay

    async with MockRelay(profile="new-api", rate=50, burst=5, drop_after=0.05, seed=7) as relay:
        ...  # point a client at relay.url
        assert not relay.stats.duplicates

    cfg = MockConfig(api_key="sk-test", queue_time=0.01, run_time=0.05)
    relay = MockRelay(cfg, port=8000)
    await relay.start()
    ...
    await relay.stop()

    run_mock_server(MockConfig(rate=10), port=8000)   # blocking, for the command line; Ctrl-C stops it

From the rest of `sora_async` it imports only the shared validators (`sora_async._checks`, which
bring their `ValidationError` from `sora_async._errors`): a bad `MockConfig` is refused with the same
messages as a bad `RateLimit`. It never imports the client, its transports or its models, so that it
tests the client from the outside.
"""

from ._config import (
    CREATE_ANSWERS,
    LIMIT_BODIES,
    PROFILES,
    RETRY_AFTER_MODES,
    URL_LOCATIONS,
    MockConfig,
    Profile,
    RetryAfterMode,
)
from ._content import video_body
from ._faults import FAULT_KINDS, FaultKind
from ._run import run_mock_server
from ._server import MockRelay
from ._stats import RelayStats
from ._validate import SIZES

__all__ = [
    "CREATE_ANSWERS",
    "FAULT_KINDS",
    "LIMIT_BODIES",
    "PROFILES",
    "RETRY_AFTER_MODES",
    "SIZES",
    "URL_LOCATIONS",
    "FaultKind",
    "MockConfig",
    "MockRelay",
    "Profile",
    "RelayStats",
    "RetryAfterMode",
    "run_mock_server",
    "video_body",
]
