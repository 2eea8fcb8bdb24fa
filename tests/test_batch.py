"""The durable batch: one result per line, invalid lines reported, crash-safe resume, no double creation."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import sora_async as sa
from sora_async.batch import BatchInputError, BatchOptions, BatchProgress, run_batch
from sora_async.batch.journal import Journal, read_journal
from sora_async.mock import MockRelay
from tests.foreground import CLI

FAST = sa.RetryPolicy(initial_backoff=0.005, max_backoff=0.02)


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read_results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
async def relay() -> AsyncIterator[MockRelay]:
    async with MockRelay(queue_time=0.01, run_time=0.03, seed=5) as r:
        yield r


def client_for(relay: MockRelay, **kwargs: Any) -> sa.SoraClient:
    kwargs.setdefault("retry", FAST)
    return sa.SoraClient("sk-batch", base_url=relay.url, **kwargs)


async def test_every_line_gets_exactly_one_result(relay: MockRelay, tmp_path: Path) -> None:
    """Valid lines get task ids, invalid ones their line number and reason; nothing is sent for them."""
    rows: list[Any] = [{"prompt": f"clip {i}", "custom_id": f"c{i}"} for i in range(40)]
    rows[7] = {"prompt": "bad size", "width": 1000, "height": 720, "custom_id": "c7"}
    rows[9] = "{not json"
    rows[11] = "[1, 2]"
    source = write_lines(tmp_path / "in.jsonl", [*rows[:20], "", *rows[20:]])
    progress = BatchProgress()
    async with client_for(relay) as client:
        summary = await run_batch(
            client, BatchOptions(input_path=source, out_path=tmp_path / "out.jsonl"), progress=progress
        )
    results = read_results(tmp_path / "out.jsonl")
    assert sorted(r["line"] for r in results) == [n for n in range(1, 42) if n != 21]
    by_line = {r["line"]: r for r in results}
    assert (
        by_line[8]["error"]["type"] == "ValidationError"
        and "'width/height'" in by_line[8]["error"]["message"]
    )
    assert "not valid JSON" in by_line[10]["error"]["message"]
    assert "expected a JSON object" in by_line[12]["error"]["message"]
    assert by_line[10]["custom_id"] == "10"  # an unreadable line falls back to its line number
    assert summary.ok == 37 and summary.invalid == 3 and summary.pending == 0 and not summary.all_ok
    assert [n for n, _ in summary.invalid_examples] == [8, 10, 12]
    assert relay.stats.create_requests == 37
    ok = [r for r in results if r["task_id"]]
    assert all(r["error"] is None and r["attempts"] == 1 and r["idempotency_key"] for r in ok)
    assert progress.done == 40 and progress.in_flight == 0


async def test_a_line_with_a_lone_surrogate_is_invalid_and_the_rest_goes_on(
    relay: MockRelay, tmp_path: Path
) -> None:
    """A prompt with a \\ud800 escape is valid JSON that no request can carry: the line is invalid,
    with its number and the field, nothing is sent for it, and the lines around it are created."""
    rows: list[Any] = [{"prompt": f"clip {i}", "custom_id": f"c{i}"} for i in range(3)]
    rows[1] = '{"prompt": "a fox \\ud800", "custom_id": "c1"}'
    source = write_lines(tmp_path / "in.jsonl", rows)
    async with client_for(relay) as client:
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "out.jsonl"))
    by_line = {r["line"]: r for r in read_results(tmp_path / "out.jsonl")}
    assert by_line[2]["error"]["type"] == "ValidationError"
    assert "'prompt'" in by_line[2]["error"]["message"] and "UTF-8" in by_line[2]["error"]["message"]
    assert summary.ok == 2 and summary.invalid == 1 and summary.failed == 0
    assert [n for n, _ in summary.invalid_examples] == [2]
    assert relay.stats.create_requests == 2


async def test_custom_id_defaults_to_the_line_number(relay: MockRelay, tmp_path: Path) -> None:
    """Lines without custom_id are joinable by their line number."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": "a"}, {"prompt": "b", "custom_id": 42}])
    async with client_for(relay) as client:
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "out.jsonl"))
    assert summary.all_ok
    assert sorted(r["custom_id"] for r in read_results(tmp_path / "out.jsonl")) == ["1", "42"]


async def test_duplicate_custom_ids_stop_the_batch_before_anything_is_sent(
    relay: MockRelay, tmp_path: Path
) -> None:
    """Two lines with one custom_id: a clear error naming both lines, and no request at all."""
    source = write_lines(
        tmp_path / "in.jsonl",
        [{"prompt": "a", "custom_id": "x"}, {"prompt": "b"}, {"prompt": "c", "custom_id": "x"}],
    )
    async with client_for(relay) as client:
        with pytest.raises(BatchInputError, match=r"duplicate custom_id 'x' on lines 1 and 3:"):
            await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "out.jsonl"))
    assert relay.stats.requests == 0


async def test_a_missing_input_file_is_a_clear_error(relay: MockRelay, tmp_path: Path) -> None:
    """The path is named."""
    async with client_for(relay) as client:
        with pytest.raises(BatchInputError, match=r"nope\.jsonl"):
            await run_batch(client, BatchOptions(input_path=tmp_path / "nope.jsonl", out_path=tmp_path / "o"))


async def test_resume_skips_done_lines_and_resends_in_flight_ones_under_their_key(
    relay: MockRelay, tmp_path: Path
) -> None:
    """A journal left by a crash: done lines are skipped, sent-but-unanswered lines reuse their key."""
    relay.configure(honour_idempotency=True)  # a relay kinder than real ones, asked for by name
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"p{i}"} for i in range(6)])
    out = tmp_path / "out.jsonl"
    async with client_for(relay) as client:
        # What a crashed run left: lines 1-2 done, lines 3-4 sent (line 3 even reached the relay).
        first_id = await client.create_video(sa.VideoRequest(prompt="p2"), idempotency_key="key-3")
        journal = Journal.open(Path(str(out) + ".journal"))
        for line in (1, 2):
            journal.append({"line": line, "event": "sent", "custom_id": str(line), "key": f"key-{line}"})
            journal.append(
                {
                    "line": line,
                    "event": "done",
                    "custom_id": str(line),
                    "key": f"key-{line}",
                    "task_id": f"t{line}",
                    "attempts": 1,
                }
            )
        for line in (3, 4):
            journal.append({"line": line, "event": "sent", "custom_id": str(line), "key": f"key-{line}"})
        journal.close()
        with Path(str(out) + ".journal").open("a") as torn:
            torn.write('{"line": 5, "event": "se')  # the process died mid-write
        summary = await run_batch(client, BatchOptions(input_path=source, out_path=out))
    assert (summary.skipped, summary.resumed, summary.ok) == (2, 2, 6)
    results = {r["line"]: r for r in read_results(out)}
    assert len(results) == 6
    assert results[1]["task_id"] == "t1"
    assert results[3]["task_id"] == first_id and results[3]["idempotency_key"] == "key-3"
    assert results[4]["idempotency_key"] == "key-4"
    assert relay.stats.duplicates == {}
    assert relay.stats.creations_by_key["key-3"] == 1


async def test_ambiguous_lines_are_recorded_and_retried_only_when_asked(tmp_path: Path) -> None:
    """A 500 after accepting is recorded as ambiguous with its key; --retry-ambiguous re-sends it under it."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"p{i}"} for i in range(30)])
    out = tmp_path / "out.jsonl"
    async with MockRelay(fail_500_after=0.3, seed=11, honour_idempotency=True) as relay:
        async with client_for(relay) as client:
            first = await run_batch(client, BatchOptions(input_path=source, out_path=out))
        assert first.ambiguous > 0 and first.ok + first.ambiguous == 30
        ambiguous = [r for r in read_results(out) if r["task_id"] is None]
        assert all(
            r["error"]["type"] == "AmbiguousSubmissionError" and r["error"]["status_code"] == 500
            for r in ambiguous
        )
        async with client_for(relay) as client:
            again = await run_batch(client, BatchOptions(input_path=source, out_path=out))
        assert again.ambiguous == first.ambiguous and again.resumed == 0
        relay.configure(fail_500_after=0.0)
        retry = sa.RetryPolicy(initial_backoff=0.005, retry_ambiguous=True)
        async with client_for(relay, retry=retry) as client:
            final = await run_batch(client, BatchOptions(input_path=source, out_path=out))
        assert final.all_ok and final.resumed == first.ambiguous
        assert relay.stats.duplicates == {}
    keys_now = {r["line"]: r["idempotency_key"] for r in read_results(out)}
    assert all(keys_now[r["line"]] == r["idempotency_key"] for r in ambiguous)


async def test_wait_records_status_and_video_urls(relay: MockRelay, tmp_path: Path) -> None:
    """With wait, each task is polled to its end; failures keep their reason."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": "fine"}, {"prompt": "this one will [fail]"}])
    async with client_for(relay) as client:
        summary = await run_batch(
            client, BatchOptions(input_path=source, out_path=tmp_path / "o.jsonl", wait=True, wait_timeout=5)
        )
    assert summary.ok == 2
    assert summary.task_failures == 1
    assert not summary.all_ok
    results = {r["line"]: r for r in read_results(tmp_path / "o.jsonl")}
    assert results[1]["status"] == "SUCCESS" and results[1]["video_urls"][0].startswith("http://127.0.0.1")
    assert results[2]["status"] == "FAILURE" and results[2]["fail_reason"]


async def test_shards_split_the_input_without_overlap(relay: MockRelay, tmp_path: Path) -> None:
    """Shards 0/3, 1/3 and 2/3 each take every third line; together they cover the file once."""
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"p{i}"} for i in range(10)])
    lines: list[int] = []
    async with client_for(relay) as client:
        for index in range(3):
            out = tmp_path / f"out{index}.jsonl"
            await run_batch(client, BatchOptions(input_path=source, out_path=out, shard=(index, 3)))
            lines += [r["line"] for r in read_results(out)]
        with pytest.raises(BatchInputError, match="shard"):
            await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "x", shard=(3, 3)))
    assert sorted(lines) == list(range(1, 11))
    assert relay.stats.accepted == 10


async def test_sigkill_mid_batch_then_rerun_loses_nothing_and_pays_nothing_twice(tmp_path: Path) -> None:
    """The crash test: kill -9 half-way, run again; every line has one result and no task was made twice."""
    lines = 3000
    source = write_lines(
        tmp_path / "in.jsonl", [{"prompt": f"clip {i}", "custom_id": f"id-{i}"} for i in range(lines)]
    )
    out = tmp_path / "out.jsonl"
    journal = Path(str(out) + ".journal")
    async with MockRelay(
        latency=0.005, queue_time=0.01, run_time=0.01, seed=2, honour_idempotency=True
    ) as relay:
        command = [sys.executable, "-m", "tests.batch_worker", relay.url, str(source), str(out)]
        victim = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        for _ in range(2000):  # bounded: at most ~20 s
            await asyncio.sleep(0.01)
            if journal.exists() and journal.stat().st_size > 100_000:
                break
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        assert victim.returncode == -signal.SIGKILL
        before = read_journal(journal)
        in_flight = sum(1 for line in before.pending if before.state(line) == 1)
        assert in_flight > 0, "the kill should catch requests in flight"
        assert 0 < relay.stats.accepted < lines
        rerun = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        stdout, _ = await asyncio.wait_for(rerun.communicate(), 60)
        assert rerun.returncode == 0, stdout
        assert f"resumed={in_flight}" in stdout.decode()
        assert relay.stats.duplicates == {}
        assert relay.stats.accepted == lines
    results = read_results(out)
    assert sorted(r["line"] for r in results) == list(range(1, lines + 1))
    assert all(r["task_id"] for r in results)
    assert len({r["task_id"] for r in results}) == lines


def test_journal_reader_ignores_garbage(tmp_path: Path) -> None:
    """Unknown events, non-objects and records without a line number are skipped."""
    path = tmp_path / "j"
    path.write_text(
        '{"line": 1, "event": "sent", "key": "k"}\n[1]\n{"event": "done"}\n'
        '{"line": 2, "event": "??"}\nnot json\n'
    )
    state = read_journal(path)
    assert state.state(1) == 1 and state.state(2) == 0 and state.pending[1]["key"] == "k"
    assert os.path.getsize(path) > 0


async def test_merge_joins_shards_in_input_order_and_lists_gaps(relay: MockRelay, tmp_path: Path) -> None:
    """Shard results merge into one file by line; a shard not yet run shows up as gaps."""
    from sora_async.batch import merge_results

    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"p{i}", "custom_id": f"c{i}"} for i in range(9)])
    async with client_for(relay) as client:
        for index in (0, 1):
            await run_batch(
                client,
                BatchOptions(input_path=source, out_path=tmp_path / f"r{index}.jsonl", shard=(index, 3)),
            )
    shards = [tmp_path / "r0.jsonl", tmp_path / "r1.jsonl"]
    partial = merge_results(shards, tmp_path / "all.jsonl", input_path=source)
    assert partial.gaps == (3, 6, 9)
    assert not partial.complete
    async with client_for(relay) as client:
        await run_batch(client, BatchOptions(input_path=source, out_path=tmp_path / "r2.jsonl", shard=(2, 3)))
    full = merge_results([*shards, tmp_path / "r2.jsonl", tmp_path / "r2.jsonl"], tmp_path / "all.jsonl")
    assert full.complete and full.lines == 9 and full.duplicates == (3, 6, 9)
    merged = read_results(tmp_path / "all.jsonl")
    assert [r["line"] for r in merged] == list(range(1, 10))
    assert [r["custom_id"] for r in merged] == [f"c{i}" for i in range(9)]


def test_merge_rejects_files_that_are_not_results(tmp_path: Path) -> None:
    """A wrong file is named with its line number."""
    from sora_async.batch import merge_results

    (tmp_path / "x.jsonl").write_text('{"prompt": "not a result"}\n')
    with pytest.raises(BatchInputError, match=r"x\.jsonl:1 is not a result line"):
        merge_results([tmp_path / "x.jsonl"], tmp_path / "o.jsonl")
    with pytest.raises(BatchInputError, match="does not exist"):
        merge_results([tmp_path / "nope.jsonl"], tmp_path / "o.jsonl")


async def wait_for_journal(journal: Path, size: int) -> None:
    for _ in range(2000):  # bounded: at most ~20 s
        if journal.exists() and journal.stat().st_size > size:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the journal never reached {size} bytes")


@pytest.mark.parametrize(
    ("signum", "code", "word", "flag"),
    [(signal.SIGINT, 130, b"interrupted", "-q"), (signal.SIGTERM, 143, b"terminated", "-v")],
)
async def test_a_signal_stops_cleanly_and_the_same_command_resumes(
    tmp_path: Path, signum: int, code: int, word: bytes, flag: str
) -> None:
    """SIGINT or SIGTERM to `sora-async batch`: its exit code, a message naming the journal (and no
    traceback, even with -v: it is an answer, not a fault), the results written from the journal;
    the re-run finishes with nothing twice."""
    lines = 1500
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(lines)])
    out = tmp_path / "out.jsonl"
    async with MockRelay(latency=0.005, seed=4, honour_idempotency=True) as relay:
        command = [
            *CLI, "batch", str(source), "--out", str(out), "--base-url", relay.url,
            "--api-key", "sk-signal-test", "--concurrency", "16",
        ]  # fmt: skip
        first = await asyncio.create_subprocess_exec(*command, flag, stderr=asyncio.subprocess.PIPE)
        await wait_for_journal(Path(f"{out}.journal"), 50_000)
        first.send_signal(signum)
        _, stderr = await asyncio.wait_for(first.communicate(), 30)
        assert first.returncode == code, stderr[-2000:]
        assert word in stderr and b"journal intact" in stderr
        assert b"Traceback" not in stderr
        assert 0 < relay.stats.accepted < lines
        done_before = len(read_results(out))  # the stopped run still wrote what it had
        assert 0 < done_before < lines
        second = await asyncio.create_subprocess_exec(*command, "-q", stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 0, stderr
        assert relay.stats.duplicates == {}
        assert relay.stats.accepted == lines
    results = read_results(out)
    assert sorted(r["line"] for r in results) == list(range(1, lines + 1))


async def test_two_runs_at_once_create_nothing_twice(tmp_path: Path) -> None:
    """Two `sora-async batch` processes on one input and --out: the second is refused (exit 2, naming
    the first's pid) and every line is created once, on a relay that ignores idempotency keys."""
    lines = 300
    source = write_lines(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(lines)])
    out = tmp_path / "out.jsonl"
    # 0.1 s per create, 8 at a time: the first run takes ~4 s, long enough for the second to meet it
    # even on a loaded machine (at the default 32 it was over in one second, sometimes before).
    async with MockRelay(latency=0.1, honour_idempotency=False, retry_after="none") as relay:
        command = [
            *CLI,
            "batch",
            str(source),
            "--out",
            str(out),
            "-q",
            "--concurrency",
            "8",
            "--base-url",
            relay.url,
            "--api-key",
            "sk-two",
        ]
        first = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
        await wait_for_journal(Path(f"{out}.journal"), 1000)
        second = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
        _, refused = await asyncio.wait_for(second.communicate(), 30)
        _, stderr = await asyncio.wait_for(first.communicate(), 60)
        assert first.returncode == 0, stderr
        assert second.returncode == 2, refused
        assert f"in use by another run (pid {first.pid} on host".encode() in refused
        assert relay.stats.accepted == lines
    assert len(read_results(out)) == lines
