"""A batch run in its own process, for the crash tests: ``python -m tests.batch_worker URL IN OUT``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import sora_async as sa
from sora_async.batch import BatchOptions, run_batch


async def main(url: str, input_path: str, out_path: str) -> int:
    policy = sa.RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
    async with sa.SoraClient("sk-crash", base_url=url, max_concurrency=16, retry=policy) as client:
        summary = await run_batch(client, BatchOptions(input_path=Path(input_path), out_path=Path(out_path)))
    print(f"ok={summary.ok} resumed={summary.resumed} skipped={summary.skipped}", flush=True)
    return 0 if summary.all_ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
