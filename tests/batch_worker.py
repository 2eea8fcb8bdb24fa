"""A batch run in its own process, for the crash tests.

    python -m tests.batch_worker URL IN OUT [--concurrency N] [--kill-after-send MARKER]

``--kill-after-send`` is the fault hook of the crash tests: the process SIGKILLs itself the moment
the bytes of a request holding MARKER (a word in one line's prompt) have been handed to the kernel,
that is after the request is sent and before anything else of the batch can run: the worst moment
for a journal, when the relay may create the task and the process never hears of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import sora_async as sa
from sora_async.batch import BatchOptions, run_batch


def kill_after_send(marker: bytes) -> None:
    """SIGKILL this process right after a socket write that carries ``marker``."""
    real_send = socket.socket.send

    def send(self: socket.socket, data: Any, *args: Any) -> int:
        sent = real_send(self, data, *args)
        if marker in bytes(data):
            os.kill(os.getpid(), signal.SIGKILL)
        return sent

    socket.socket.send = send  # type: ignore[method-assign,assignment]


async def main(args: argparse.Namespace) -> int:
    policy = sa.RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
    client = sa.SoraClient("sk-crash", base_url=args.url, max_concurrency=args.concurrency, retry=policy)
    async with client:
        options = BatchOptions(input_path=Path(args.input), out_path=Path(args.out))
        summary = await run_batch(client, options)
    print(f"ok={summary.ok} resumed={summary.resumed} skipped={summary.skipped}", flush=True)
    return 0 if summary.all_ok else 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batch_worker")
    parser.add_argument("url")
    parser.add_argument("input")
    parser.add_argument("out")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kill-after-send", metavar="MARKER")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    if arguments.kill_after_send:
        kill_after_send(arguments.kill_after_send.encode())
    sys.exit(asyncio.run(main(arguments)))
