"""What a batch checks before its first paid request, when it stops early, and how bad lines fare.

Against the real mock relay: every refusal here must come with ``relay.stats.requests == 0``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import sora_async as sa
from sora_async.batch import BatchInputError, BatchLockedError, BatchOptions, run_batch
from sora_async.batch.lock import JournalLock
from sora_async.mock import MockRelay

FAST = sa.RetryPolicy(initial_backoff=0.005, max_backoff=0.02)


def write_lines(path: Path, rows: list[Any]) -> Path:
    with path.open("wb") as handle:
        for row in rows:
            data = (
                row if isinstance(row, bytes) else (row if isinstance(row, str) else json.dumps(row)).encode()
            )
            handle.write(data + b"\n")
    return path


def read_results(path: Path) -> dict[int, dict[str, Any]]:
    return {r["line"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture
async def relay() -> AsyncIterator[MockRelay]:
    async with MockRelay(queue_time=0.01, run_time=0.03, seed=5) as r:
        yield r


def client_for(relay: MockRelay, key: str = "sk-batch", **kwargs: Any) -> sa.SoraClient:
    kwargs.setdefault("retry", FAST)
    return sa.SoraClient(key, base_url=relay.url, **kwargs)


PROMPTS = [{"prompt": f"clip {i}"} for i in range(5)]


# --- paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["same name", "hard link", "symlink", "journal"])
async def test_an_output_that_is_the_input_is_refused(relay: MockRelay, tmp_path: Path, how: str) -> None:
    """The same file under any name (same device and inode) is refused; the input is untouched."""
    source = write_lines(tmp_path / "in.jsonl", PROMPTS)
    before = source.read_bytes()
    alias = tmp_path / "alias.jsonl"
    if how == "hard link":
        os.link(source, alias)
    elif how == "symlink":
        alias.symlink_to(source)
    options = {
        "same name": BatchOptions(input_path=source, out_path=tmp_path / "." / "in.jsonl"),
        "hard link": BatchOptions(input_path=source, out_path=alias),
        "symlink": BatchOptions(input_path=source, out_path=alias),
        "journal": BatchOptions(input_path=source, out_path=tmp_path / "r.jsonl", journal_path=source),
    }[how]
    async with client_for(relay) as client:
        with pytest.raises(BatchInputError, match="is the input file"):
            await run_batch(client, options)
    assert relay.stats.requests == 0
    assert source.read_bytes() == before


async def test_an_output_that_cannot_be_written_is_found_before_paying(
    relay: MockRelay, tmp_path: Path
) -> None:
    """--out a directory: refused before any request; the same journal then works with a good --out."""
    source = write_lines(tmp_path / "in.jsonl", PROMPTS)
    (tmp_path / "dir").mkdir()
    journal = tmp_path / "j.journal"
    async with client_for(relay) as client:
        with pytest.raises(BatchInputError, match="is a directory"):
            await run_batch(
                client, BatchOptions(input_path=source, out_path=tmp_path / "dir", journal_path=journal)
            )
        assert relay.stats.requests == 0
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "r.jsonl"))
    assert summary.all_ok and relay.stats.accepted == 5


async def test_a_journal_that_cannot_be_written_is_found_first(relay: MockRelay, tmp_path: Path) -> None:
    """A journal under a path that is a file: refused with the flag's name, nothing sent."""
    source = write_lines(tmp_path / "in.jsonl", PROMPTS)
    (tmp_path / "file").write_text("")
    options = BatchOptions(
        input_path=source, out_path=tmp_path / "r.jsonl", journal_path=tmp_path / "file" / "j"
    )
    async with client_for(relay) as client:
        with pytest.raises(BatchInputError, match=r"--journal .* cannot be written"):
            await run_batch(client, options)
    assert relay.stats.requests == 0


# --- one run per journal -------------------------------------------------------------------------------


async def test_a_second_run_on_a_journal_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """While one run holds the journal, another is refused (naming pid and host) and sends nothing."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(30)])
    options = BatchOptions(input_path=source, out_path=tmp_path / "r.jsonl")
    async with MockRelay(latency=0.02, queue_time=0.01, run_time=0.01) as relay:
        async with client_for(relay, max_concurrency=2) as first_client:
            first = asyncio.ensure_future(run_batch(first_client, options))
            for _ in range(500):  # bounded: until the first run has started sending
                if relay.stats.create_requests:
                    break
                await asyncio.sleep(0.01)
            sent_by_first = relay.stats.create_requests
            async with client_for(relay) as second_client:
                with pytest.raises(BatchLockedError) as refused:
                    await run_batch(second_client, options)
            message = str(refused.value)
            assert f"pid {os.getpid()} on host {socket.gethostname()}" in message
            summary = await first
        assert summary.all_ok and relay.stats.accepted == 30
        assert sent_by_first >= 1
        async with client_for(relay) as again:  # the lock is gone with its run
            assert (await run_batch(again, options)).skipped == 30
        assert relay.stats.accepted == 30


def test_the_lock_file_says_who_holds_it(tmp_path: Path) -> None:
    """The lock is held per open file: a second acquire in the same process is refused too."""
    lock = JournalLock.acquire(tmp_path / "j")
    try:
        holder = json.loads((tmp_path / "j.lock").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(BatchLockedError, match=f"pid {os.getpid()}"):
            JournalLock.acquire(tmp_path / "j")
    finally:
        lock.release()
    JournalLock.acquire(tmp_path / "j").release()


# --- lines changed since the first run -----------------------------------------------------------------


async def test_a_line_changed_since_the_first_run_is_refused_with_its_number(
    relay: MockRelay, tmp_path: Path
) -> None:
    """Edited lines that already have a task stop the re-run before anything is sent, by line number;
    --resend-changed sends them again under new keys; the others keep their tasks."""
    source = write_lines(tmp_path / "in.jsonl", PROMPTS)
    out = tmp_path / "r.jsonl"
    async with client_for(relay) as client:
        await run_batch(client, BatchOptions(input_path=source, out_path=out))
        first = read_results(out)
        write_lines(source, [PROMPTS[0], {"prompt": "edited"}, *PROMPTS[2:4], {"prompt": "edited too"}])
        with pytest.raises(BatchInputError, match=r"line\(s\) 2, 5 of .* changed since"):
            await run_batch(client, BatchOptions(input_path=source, out_path=out))
        assert relay.stats.create_requests == 5
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=out, resend_changed=True))
    assert summary.all_ok and relay.stats.create_requests == 7
    now = read_results(out)
    assert [now[n]["task_id"] == first[n]["task_id"] for n in range(1, 6)] == [True, False, True, True, False]
    assert now[2]["idempotency_key"] != first[2]["idempotency_key"]


async def test_a_removed_line_counts_as_changed(relay: MockRelay, tmp_path: Path) -> None:
    """A line blanked out since the first run cannot be silently dropped from the results either."""
    source = write_lines(tmp_path / "in.jsonl", PROMPTS)
    out = tmp_path / "r.jsonl"
    async with client_for(relay) as client:
        await run_batch(client, BatchOptions(input_path=source, out_path=out))
        write_lines(source, [*PROMPTS[:2], "", *PROMPTS[3:]])
        with pytest.raises(BatchInputError, match=r"line\(s\) 3 of"):
            await run_batch(client, BatchOptions(input_path=source, out_path=out))
        await run_batch(client, BatchOptions(input_path=source, out_path=out, resend_changed=True))
    assert sorted(read_results(out)) == [1, 2, 4, 5]


async def test_an_edited_invalid_line_is_simply_sent(relay: MockRelay, tmp_path: Path) -> None:
    """Invalid lines cost nothing, so fixing one needs no flag: the re-run sends it."""
    source = write_lines(tmp_path / "in.jsonl", [PROMPTS[0], {"prompt": "x", "size": "9x9"}])
    out = tmp_path / "r.jsonl"
    async with client_for(relay) as client:
        assert (await run_batch(client, BatchOptions(input_path=source, out_path=out))).invalid == 1
        write_lines(source, [PROMPTS[0], {"prompt": "x", "size": "720x720"}])
        assert (await run_batch(client, BatchOptions(input_path=source, out_path=out))).all_ok
    assert relay.stats.accepted == 2


# --- stop early when every further request must fail ----------------------------------------------------


async def test_a_rejected_key_stops_the_batch_after_its_first_request(tmp_path: Path) -> None:
    """401 on the first line: one request in all, every line left pending (not failed), and a re-run
    with the right key sends each line once."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(50)])
    out = tmp_path / "r.jsonl"
    options = BatchOptions(input_path=source, out_path=out)
    async with MockRelay(api_key="sk-the-right-key", queue_time=0.01, run_time=0.01) as relay:
        async with client_for(relay, "sk-a-wrong-key") as client:
            summary = await run_batch(client, options)
        assert isinstance(summary.stopped_by, sa.AuthenticationError)
        assert relay.stats.create_requests == 1
        assert (summary.pending, summary.failed, summary.all_ok) == (50, 0, False)
        assert out.read_text() == ""
        async with client_for(relay, "sk-the-right-key") as client:
            again = await run_batch(client, options)
        assert again.all_ok and relay.stats.accepted == 50


async def test_a_key_revoked_mid_batch_stops_it_there(tmp_path: Path) -> None:
    """A 401 after some successes stops the run too; what was done stays done."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(200)])
    options = BatchOptions(input_path=source, out_path=tmp_path / "r.jsonl")
    async with MockRelay(queue_time=0.01, run_time=0.01, latency=0.005) as relay:
        client = client_for(relay, max_concurrency=4)
        async with client:
            task = asyncio.ensure_future(run_batch(client, options))
            for _ in range(500):
                if relay.stats.accepted >= 20:
                    break
                await asyncio.sleep(0.01)
            relay.configure(api_key="sk-someone-else")
            summary = await task
    assert isinstance(summary.stopped_by, sa.AuthenticationError)
    assert summary.ok >= 20 and summary.pending == 200 - summary.ok and summary.failed == 0
    assert relay.stats.create_requests < summary.ok + 10


async def test_other_failures_never_stop_the_batch(tmp_path: Path) -> None:
    """503s that outlast the retries fail their lines; every line is still tried."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(20)])
    async with MockRelay(fail_503=1.0) as relay:
        async with client_for(relay, retry=sa.RetryPolicy(max_attempts=1)) as client:
            summary = await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "r.jsonl"))
        assert summary.stopped_by is None and summary.failed == 20
        assert relay.stats.create_requests == 20


# --- bad lines ---------------------------------------------------------------------------------------------


BAD_LINES: list[tuple[Any, str]] = [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (b'{"prompt": "caf\xe9"}', "not valid UTF-8"),
    (b"\x00\x01\x02\xff", "not valid UTF-8"),
    (
        '{"prompt": "a\\u0000b", "custom_id": {"id": 1}}',
        "'custom_id' must be a string or a whole number (got dict)",
    ),
    ({"prompt": "x", "custom_id": [1]}, "(got list)"),
    ({"prompt": "x", "custom_id": True}, "(got a boolean)"),
    ({"prompt": "x", "custom_id": 1.5}, "(got float)"),
    ({"prompt": "x", "custom_id": ""}, "must not be empty"),
    ('"just a string"', "expected a JSON object, got a string"),
    ("null", "expected a JSON object, got null"),
    ("12", "expected a JSON object, got int"),
    ({"prompt": {"nested": ["deep"]}}, "'prompt'"),
    ({"prompt": "x", "actions": [[[[[]]]]]}, "actions"),
    ({"prompt": "x", "n_variants": "many"}, "n_variants"),
    ('{"prompt": "x", "size": "' + "9" * 5000 + '"}', "'size'"),
    ('{"prompt": 1' + "0" * 5000 + "}", "not valid JSON"),
    ('{"custom_id": "fox-4", "prompt": "a fox in snow" ', "(Expecting ',' delimiter at the end of the line)"),
    ('{"prompt": "a fox" "in snow"}', "(Expecting ',' delimiter at column 20)"),
    ('{"prompt": "a\tfox"}', "(Invalid control character at column 14)"),
]


async def test_every_bad_line_is_reported_by_number_and_the_rest_goes_on(
    relay: MockRelay, tmp_path: Path
) -> None:
    """Whatever a line holds (any depth, bytes, type), it gets its own reason and line number; a
    wrong-typed custom_id is reported, never replaced; the good lines between them are all sent."""
    rows: list[Any] = []
    for bad, _ in BAD_LINES:
        rows += [{"prompt": f"good {len(rows)}"}, bad]
    source = write_lines(tmp_path / "in.jsonl", rows)
    async with client_for(relay) as client:
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "r.jsonl"))
    results = read_results(tmp_path / "r.jsonl")
    assert summary.ok == len(BAD_LINES) and summary.invalid == len(BAD_LINES)
    assert relay.stats.create_requests == len(BAD_LINES)
    for index, (_, reason) in enumerate(BAD_LINES):
        line = 2 * index + 2
        assert results[line]["task_id"] is None
        assert reason in results[line]["error"]["message"], (line, results[line]["error"])
    for line in (8, 10, 12, 14, 16):  # the custom_id lines: no substitute id
        assert results[line]["custom_id"] is None
