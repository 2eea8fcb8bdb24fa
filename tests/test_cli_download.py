"""``sora-async download TASK_ID... --dir DIR``, in-process against a mock relay in a thread."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_async import cli
from sora_async.mock import MockRelay, video_body
from tests.cli_run import KEY, Run, against, assert_one_error_line, create_task, run, running_relay

SIZE = 20_000


@pytest.fixture
def relay() -> MockRelay:  # type: ignore[misc]
    with running_relay(profile="new-api", queue_time=0, run_time=0, video_bytes=SIZE) as r:
        yield r


def download(capsys: pytest.CaptureFixture[str], relay: MockRelay, *argv: str) -> Run:
    return run(capsys, *against(relay, "download", *argv, "--dialect", "new-api"))


def new_task(capsys: pytest.CaptureFixture[str], relay: MockRelay, prompt: str = "a fox") -> str:
    result = run(capsys, *against(relay, "create", "--prompt", prompt, "--dialect", "new-api"))
    assert result.code == 0, result.err
    return result.out.strip()


def test_download_saves_each_task_and_a_rerun_downloads_nothing(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    first, second = new_task(capsys, relay), new_task(capsys, relay)
    result = download(capsys, relay, first, second, "--dir", str(tmp_path / "videos"))
    assert result.code == 0, result.err
    paths = [tmp_path / "videos" / f"{t}.mp4" for t in (first, second)]
    assert result.out.split() == [str(p) for p in paths]
    assert [p.read_bytes() for p in paths] == [video_body(t, SIZE) for t in (first, second)]
    assert relay.stats.content_requests == 2
    again = download(capsys, relay, first, "--dir", str(tmp_path / "videos"), "--json")
    assert again.code == 0, again.err
    saved = {"path": str(paths[0]), "bytes": SIZE, "skipped": True}
    assert again.json == {"task_id": first, "files": [saved]}
    assert relay.stats.content_requests == 2  # the saved file was not fetched again
    assert KEY not in again.out + again.err


def test_download_waits_with_wait_and_refuses_a_running_task_without(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with running_relay(profile="new-api", queue_time=0.2, run_time=0, video_bytes=SIZE) as relay:
        task_id = new_task(capsys, relay)
        early = download(capsys, relay, task_id, "--dir", str(tmp_path), "-q")
        assert early.code == cli.EXIT_FAILED
        assert_one_error_line(early, "not SUCCESS", "--wait")
        waited = download(capsys, relay, task_id, "--dir", str(tmp_path), "--wait", "--poll-interval", "0.05")
    assert waited.code == 0, waited.err
    assert (tmp_path / f"{task_id}.mp4").read_bytes() == video_body(task_id, SIZE)


def test_download_of_a_failed_or_unknown_task_exits_1_and_saves_the_rest(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    good, bad = new_task(capsys, relay), new_task(capsys, relay, "a fox [fail]")
    result = download(capsys, relay, good, bad, "task_nope", "--dir", str(tmp_path), "--json", "-q")
    assert result.code == cli.EXIT_FAILED
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["task_id"] for line in lines] == [good, bad, "task_nope"]
    assert "error" not in lines[0] and "error" in lines[1] and "error" in lines[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{good}.mp4"]


def test_download_against_the_sora_profile_uses_its_video_urls(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with running_relay(queue_time=0, run_time=0, video_bytes=SIZE) as relay:
        task_id = create_task(capsys, relay)
        result = run(capsys, *against(relay, "download", task_id, "--dir", str(tmp_path)))
    assert result.code == 0, result.err
    assert (tmp_path / f"{task_id}.mp4").stat().st_size == SIZE
