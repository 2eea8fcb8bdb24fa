"""`run_mock_server`: the mock relay served until Ctrl-C, for the command line's `mock-server`."""

from __future__ import annotations

import asyncio
import contextlib

from ._config import MockConfig
from ._server import MockRelay


def run_mock_server(config: MockConfig, *, port: int, host: str = "127.0.0.1") -> None:
    """Serve a mock relay until Ctrl-C, after printing a line with its URL (for `sora-async mock-server`).

    Args:
        config: How the relay behaves (profile, key, rate limit, faults).
        port: The TCP port to listen on (0 for any free one; the printed URL says which).
        host: The address to listen on; the loopback address by default, so nothing outside the
            machine can reach it.
    """
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(config, host=host, port=port))


async def _serve_forever(config: MockConfig, *, host: str, port: int) -> None:
    async with MockRelay(config, host=host, port=port) as relay:
        profile = config.profile
        print(f"mock Sora relay ({profile} profile) serving at {relay.url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
