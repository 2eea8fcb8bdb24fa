"""Crash safety of the batch journal, tested at the worst moments, against the real mock relay.

Each test here fails if the journal records a line's key only after handing the line on to be sent,
if it never flushes or never fsyncs before a request leaves, or if a torn last record is not cut
before appending: the kill comes right after a request's bytes reach the kernel (the relay creates
the task; the process never learns of it), not at a convenient moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

import sora_async as sa
from sora_async.batch import BatchOptions, run_batch
from sora_async.mock import MockConfig, MockRelay

MARKER = "KILL-AFTER-SEND"
KIND = MockConfig(honour_idempotency=True, queue_time=0.01, run_time=0.01, seed=2)
"""A relay that replays a repeated Idempotency-Key: what lets a resumed line get its first task back."""


def write_prompts(path: Path, count: int, *, marked: int) -> Path:
    lines = [
        {"custom_id": f"c{n}", "prompt": f"clip {n}" + (f" {MARKER}" if n == marked else "")}
        for n in range(1, count + 1)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def results(path: Path) -> dict[int, dict[str, Any]]:
    return {r["line"]: r for r in map(json.loads, path.read_text().splitlines())}


async def run_worker(relay: MockRelay, source: Path, out: Path, *extra: str) -> int:
    """``tests.batch_worker`` at concurrency 1, in its own process; its exit code."""
    command = [
        sys.executable,
        "-m",
        "tests.batch_worker",
        relay.url,
        str(source),
        str(out),
        "--concurrency",
        "1",
    ]
    process = await asyncio.create_subprocess_exec(*command, *extra, stdout=asyncio.subprocess.DEVNULL)
    return await asyncio.wait_for(process.wait(), 60)


async def created(relay: MockRelay, count: int) -> None:
    """Wait (bounded) until the relay has made ``count`` tasks: the killed request's too."""
    for _ in range(500):
        if relay.stats.accepted >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the relay made {relay.stats.accepted} tasks, expected {count}")


async def test_kill_right_after_a_request_is_sent_then_rerun_pays_nothing_twice(tmp_path: Path) -> None:
    """SIGKILL the moment line 7's request is sent: the relay made its task, the re-run gets it back."""
    source, out = write_prompts(tmp_path / "in.jsonl", 12, marked=7), tmp_path / "out.jsonl"
    async with MockRelay(KIND) as relay:
        assert await run_worker(relay, source, out, "--kill-after-send", MARKER) == -signal.SIGKILL
        await created(relay, 7)
        assert await run_worker(relay, source, out) == 0
        assert relay.stats.accepted == 12, "a line was created twice (under a key the journal lost)"
        assert relay.stats.duplicates == {}
    by_line = results(out)
    assert sorted(by_line) == list(range(1, 13))
    assert len({r["task_id"] for r in by_line.values()}) == 12


async def test_a_torn_record_is_cut_so_the_next_crash_loses_nothing(tmp_path: Path) -> None:
    """A run that died mid-write left half a record; the next run, killed after sending, must not
    have written its first record onto that half line, or the run after it pays again."""
    source, out = write_prompts(tmp_path / "in.jsonl", 8, marked=4), tmp_path / "out.jsonl"
    journal = Path(f"{out}.journal")
    done = [
        {"line": n, "event": "done", "custom_id": f"c{n}", "key": f"k{n}", "task_id": f"t{n}", "attempts": 1}
        for n in (1, 2, 3)
    ]
    journal.write_text("".join(json.dumps(r) + "\n" for r in done) + '{"line": 4, "event": "se')
    async with MockRelay(KIND) as relay:
        assert await run_worker(relay, source, out, "--kill-after-send", MARKER) == -signal.SIGKILL
        await created(relay, 1)
        assert await run_worker(relay, source, out) == 0
        assert relay.stats.accepted == 5, "line 4 was created twice: its key was lost in the torn line"
    assert all(json.loads(raw) for raw in journal.read_text().splitlines())
    assert sorted(results(out)) == list(range(1, 9))


async def test_every_key_is_durable_before_its_request_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the moment a create's bytes go to the socket, its key is in the fsync'ed part of the journal
    (a power cut right then would otherwise lose the key of a task the relay made)."""
    source, out = write_prompts(tmp_path / "in.jsonl", 150, marked=0), tmp_path / "out.jsonl"
    journal = Path(f"{out}.journal")
    synced: dict[int, int] = {}
    real_fsync, real_send = os.fsync, socket.socket.send

    def fsync(fd: int) -> None:
        real_fsync(fd)
        stat = os.fstat(fd)
        synced[stat.st_ino] = max(synced.get(stat.st_ino, 0), stat.st_size)

    seen: list[bytes] = []
    not_durable: list[bytes] = []

    def send(self: socket.socket, data: Any, *args: Any) -> int:
        match = re.search(rb"idempotency-key: *(\S+)\r\n", bytes(data), re.IGNORECASE)
        if match:
            seen.append(match[1])
            durable = journal.read_bytes()[: synced.get(os.stat(journal).st_ino, 0)]
            if b'"key":"' + match[1] + b'"' not in durable:
                not_durable.append(match[1])
        return real_send(self, data, *args)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(socket.socket, "send", send)
    async with (
        MockRelay(queue_time=0.01, run_time=0.01) as relay,
        sa.SoraClient("sk-fsync", base_url=relay.url, max_concurrency=8) as client,
    ):
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=out))
    assert summary.all_ok
    assert len(seen) == 150
    assert not_durable == []
