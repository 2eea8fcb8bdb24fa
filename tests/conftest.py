"""Shared fixtures: a scripted server and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import sora_async as sa
from tests.scripted import ScriptedServer, running_server

FAST_RETRY = sa.RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.005, max_retry_after=0.05)
"""Real retries with tiny waits, so fault tests finish in milliseconds."""


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async for s in running_server():
        yield s


@pytest.fixture
async def client(server: ScriptedServer) -> AsyncIterator[sa.SoraClient]:
    async with sa.SoraClient(api_key="sk-test-secret", base_url=server.url, retry=FAST_RETRY) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_sora_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or relay from the environment."""
    monkeypatch.delenv("SORA_API_KEY", raising=False)
    monkeypatch.delenv("SORA_BASE_URL", raising=False)


from tests.test_redis import redis_server  # noqa: E402, F401 - the real redis-server fixture, shared
