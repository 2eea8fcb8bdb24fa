"""``batch --wait --download DIR``: every line's videos saved and recorded, and a re-run after a crash
or a failed download finishes the job without downloading anything twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import sora_async as sa
from sora_async.batch import BatchInputError, BatchOptions, run_batch
from sora_async.mock import MockRelay, video_body
from tests.cli_run import against, run, running_relay

KEY = "sk-batch-download-key-0000"
SIZE = 10_000
FAST_RETRY = sa.RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002)


@pytest.fixture
async def relay() -> AsyncIterator[MockRelay]:
    config: dict[str, Any] = {"api_key": KEY, "queue_time": 0, "run_time": 0, "video_bytes": SIZE}
    async with MockRelay(profile="new-api", seed=5, **config) as r:
        yield r


def prompts(tmp_path: Path, count: int = 3) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "".join(json.dumps({"custom_id": f"c{n}", "prompt": f"clip {n}"}) + "\n" for n in range(count))
    )
    return path


def results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def run_once(relay: MockRelay, tmp_path: Path, **options: Any) -> sa.batch.BatchSummary:
    client = sa.SoraClient(KEY, base_url=relay.url, dialect="new-api", retry=options.pop("retry", FAST_RETRY))
    async with client:
        return await run_batch(
            client,
            BatchOptions(input_path=prompts(tmp_path), out_path=tmp_path / "results.jsonl", **options),
        )


async def test_every_line_records_its_saved_file_and_a_rerun_fetches_nothing(
    relay: MockRelay, tmp_path: Path
) -> None:
    videos = tmp_path / "videos"
    summary = await run_once(relay, tmp_path, wait=True, download_dir=videos)
    assert summary.all_ok
    lines = results(tmp_path / "results.jsonl")
    for line in lines:
        [file] = line["files"]
        assert file == str(videos / f"{line['task_id']}.mp4")
        assert Path(file).read_bytes() == video_body(line["task_id"], SIZE)
    assert relay.stats.content_requests == 3
    again = await run_once(relay, tmp_path, wait=True, download_dir=videos)
    assert again.all_ok and again.skipped == 3
    assert relay.stats.content_requests == 3
    assert results(tmp_path / "results.jsonl") == lines


async def test_a_failed_download_is_recorded_and_the_rerun_resumes_it(
    relay: MockRelay, tmp_path: Path
) -> None:
    """Bodies cut short and no retries: each line records why and keeps its .part; the re-run, the
    relay healthy again, finishes the files from there and records them."""
    videos = tmp_path / "videos"
    relay.configure(content_cut_after=4000)
    summary = await run_once(relay, tmp_path, wait=True, download_dir=videos, retry=sa.RetryPolicy.none())
    assert not summary.all_ok and summary.task_failures == 3
    first = results(tmp_path / "results.jsonl")
    assert all(line["download_error"]["type"] == "DownloadError" and "files" not in line for line in first)
    assert sorted(p.suffix for p in videos.iterdir()) == [".part"] * 3
    relay.configure(content_cut_after=None)
    again = await run_once(relay, tmp_path, wait=True, download_dir=videos)
    assert again.all_ok, again
    for line in results(tmp_path / "results.jsonl"):
        assert "download_error" not in line
        assert Path(line["files"][0]).read_bytes() == video_body(line["task_id"], SIZE)
    assert sorted(p.suffix for p in videos.iterdir()) == [".mp4"] * 3


async def test_a_crash_after_the_rename_does_not_download_again(relay: MockRelay, tmp_path: Path) -> None:
    """The journal knows the tasks but not their files (the process died after the rename): the
    re-run finds the files whole under their final names and records them without fetching them."""
    videos = tmp_path / "videos"
    await run_once(relay, tmp_path)  # tasks created, nothing waited for or saved
    created = results(tmp_path / "results.jsonl")
    videos.mkdir()
    for line in created:
        (videos / f"{line['task_id']}.mp4").write_bytes(b"already saved")
    summary = await run_once(relay, tmp_path, wait=True, download_dir=videos)
    assert summary.all_ok
    assert relay.stats.content_requests == 0
    assert all(
        line["files"] == [str(videos / f"{line['task_id']}.mp4")]
        for line in results(tmp_path / "results.jsonl")
    )


async def test_an_earlier_wait_without_download_is_downloaded_now(relay: MockRelay, tmp_path: Path) -> None:
    await run_once(relay, tmp_path, wait=True)
    summary = await run_once(relay, tmp_path, wait=True, download_dir=tmp_path / "videos")
    assert summary.all_ok
    assert relay.stats.content_requests == 3
    assert all(len(line["files"]) == 1 for line in results(tmp_path / "results.jsonl"))


async def test_download_without_wait_is_refused_before_anything_is_sent(
    relay: MockRelay, tmp_path: Path
) -> None:
    with pytest.raises(BatchInputError, match="needs wait"):
        await run_once(relay, tmp_path, download_dir=tmp_path / "videos")
    assert relay.stats.create_requests == 0


def test_the_cli_flag_needs_wait_and_records_the_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = prompts(tmp_path, 2)
    out = tmp_path / "results.jsonl"
    with running_relay(profile="new-api", queue_time=0, run_time=0, video_bytes=SIZE) as relay:
        refused = run(capsys, *against(relay, "batch", str(source), "--out", str(out), "--download", "v"))
        assert refused.code == 2
        assert "--download needs --wait" in refused.err
        flags = ["--dialect", "new-api", "--wait", "--download", str(tmp_path / "v"), "-q"]
        done = run(capsys, *against(relay, "batch", str(source), "--out", str(out), *flags))
    assert done.code == 0, done.err
    assert all(Path(line["files"][0]).stat().st_size == SIZE for line in results(out))
