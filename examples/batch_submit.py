"""Submit many video requests from asyncio code: bounded memory, a result for every request.

    python examples/batch_submit.py --count 100                   # made-up prompts
    python examples/batch_submit.py --prompts prompts.txt         # one prompt per line of a file
    python examples/batch_submit.py --prompts prompts.txt --run-id monday   # re-run: same keys

The relay comes from $SORA_BASE_URL and the key from $SORA_API_KEY (or --base-url and --api-key).
To try it without a relay, start the mock one in another terminal:

    sora-async mock-server --port 8000 --rate 20 --fail-503 0.05
    python examples/batch_submit.py --base-url http://127.0.0.1:8000 --api-key anything --count 100

What it shows:

* ``client.submit_many`` takes any iterable or async iterable and pulls from it only as fast as it
  sends, so the input can be a huge file or an endless queue: memory stays flat.
* ``sa.SubmitItem`` gives a request its own idempotency key and a tag. The key here is built from
  ``--run-id`` and the line number, so re-running with the same run id re-sends every line under the
  key it had before: a relay that honours keys answers with the original tasks instead of new ones.
  The tag (the line number) comes back on the result, to join it to the input.
* One failed item never stops the others; ``--max-errors`` stops the whole batch early, and
  ``contextlib.aclosing`` makes that stop cancel the requests in flight at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import sora_async as sa


def items_from_file(path: Path, run_id: str) -> Iterator[sa.SubmitItem]:
    """One SubmitItem per non-blank line of a text file, read lazily (a plain generator is fine too)."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            prompt = line.strip()
            if prompt:
                request = sa.VideoRequest(prompt=prompt, size="1280x720", duration=5)
                yield sa.SubmitItem(request, idempotency_key=f"{run_id}-{number}", tag=number)


async def made_up_items(count: int, run_id: str) -> AsyncIterator[sa.SubmitItem]:
    """An async source, like a database cursor or a queue would be: submit_many awaits each item."""
    subjects = ("a red fox", "a paper boat", "a lighthouse", "a koi pond", "a vintage tram")
    for number in range(1, count + 1):
        await asyncio.sleep(0)  # stands for the await of a real source (a query, a queue.get())
        prompt = f"{subjects[number % len(subjects)]} at dawn, take {number}"
        request = sa.VideoRequest(prompt=prompt, size="854x480", duration=5)
        yield sa.SubmitItem(request, idempotency_key=f"{run_id}-{number}", tag=number)


async def submit_all(args: argparse.Namespace) -> int:
    """Submit everything and print one line per result; return the exit code (0: all got a task id)."""
    run_id = args.run_id or uuid.uuid4().hex
    source = items_from_file(args.prompts, run_id) if args.prompts else made_up_items(args.count, run_id)
    rate = sa.RateLimit(args.rate) if args.rate else None  # None: the client finds the key's limit itself
    ok = failed = 0
    ambiguous: list[sa.SubmitResult] = []

    async with (
        sa.SoraClient(
            args.api_key,  # None: $SORA_API_KEY
            base_url=args.base_url,  # None: $SORA_BASE_URL
            rate_limit=rate,
            max_concurrency=args.concurrency,
            # retry_ambiguous: also retry failures after which the task may exist. Safe only if the relay
            # honours idempotency keys; see docs/concepts/idempotency.md.
            retry=sa.RetryPolicy(retry_ambiguous=args.retry_ambiguous),
        ) as client,
        # aclosing: if we break out of the loop below, the generator is closed at once, which cancels
        # the requests still in flight (instead of whenever the garbage collector gets to it).
        contextlib.aclosing(client.submit_many(source)) as results,
    ):
        async for result in results:  # in the order they finish, not the input order
            line = result.tag
            if result.ok:
                ok += 1
                print(f"line {line}: {result.task_id}")
            elif isinstance(result.error, sa.AmbiguousSubmissionError):
                ambiguous.append(result)  # the relay may have created it: do not blindly resend
                print(f"line {line}: ambiguous (key {result.idempotency_key}): {result.error.cause}")
            else:
                failed += 1
                print(f"line {line}: failed: {result.error}")
            if args.max_errors is not None and failed + len(ambiguous) >= args.max_errors:
                print(f"stopping early: {args.max_errors} error(s)", file=sys.stderr)
                break

    print(f"run {run_id}: {ok} ok, {failed} failed, {len(ambiguous)} ambiguous", file=sys.stderr)
    if ambiguous:
        print(
            "ambiguous lines may or may not have created a task; if your relay honours idempotency "
            f"keys, re-run with --run-id {run_id} --retry-ambiguous: every line is sent again under "
            "its old key, and the relay answers the ones it already created with their original task",
            file=sys.stderr,
        )
    return 0 if failed == 0 and not ambiguous else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--base-url", help="the relay (default: $SORA_BASE_URL)")
    parser.add_argument("--api-key", help="the API key (default: $SORA_API_KEY)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--prompts", type=Path, help="a text file with one prompt per line")
    source.add_argument("--count", type=int, default=20, help="how many made-up prompts (default: 20)")
    parser.add_argument("--run-id", help="names the idempotency keys; reuse it to re-send the same work")
    parser.add_argument("--rate", type=float, help="the key's limit in requests/s (default: discover it)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default: 32)")
    parser.add_argument("--max-errors", type=int, help="stop after this many failed requests")
    parser.add_argument(
        "--retry-ambiguous", action="store_true", help="retry creates that may have succeeded (see above)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(submit_all(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
