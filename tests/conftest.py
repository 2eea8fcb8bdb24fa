"""Shared fixtures: a scripted server and a client pointed at it, a real redis-server, a clean environment."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import sora_async as sa
from tests.fast_retry import FAST_RETRY
from tests.redis_server import REDIS_SERVER, RedisServer
from tests.scripted import ScriptedServer, running_server


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


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server; skipped without the binary, except on CI where that is a failure."""
    if REDIS_SERVER is None:
        reason = (
            "redis-server is not installed (apt-get install redis-server) - the Redis limiter is untested"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = RedisServer(REDIS_SERVER, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
