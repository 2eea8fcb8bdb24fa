"""`run_mock_server`: the mock relay served until Ctrl-C, for the command line's `mock-server`."""

from __future__ import annotations

import asyncio
import contextlib

from ._config import MockConfig
from ._server import MockRelay


def run_mock_server(config: MockConfig, *, port: int, host: str = "127.0.0.1") -> None:
    """Serve a mock relay until Ctrl-C, after printing one line with its URL (the CLI's `mock` command)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(config, host=host, port=port))


async def _serve_forever(config: MockConfig, *, host: str, port: int) -> None:
    async with MockRelay(config, host=host, port=port) as relay:
        profile = config.profile
        print(f"mock Sora relay ({profile} profile) serving at {relay.url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
