"""The programs in examples/, run against the in-process mock relay.

The command-line examples run through their own ``main(argv)`` (which calls ``asyncio.run``), with the
relay serving from a thread; one also runs as a real subprocess configured by environment variables,
the way a newcomer runs it. The web apps run in the test's loop, through aiohttp's test client and
httpx's ASGI transport, with their startup and shutdown hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import sora_async as sa
from examples import aiohttp_app, batch_submit, wait_for_videos
from sora_async.mock import MockRelay
from tests.examples_relay import FAST, KEY, examples_relay

ROOT = Path(__file__).resolve().parent.parent
TASK_LINE = re.compile(r"^line (\d+): (task_\w+)$", re.MULTILINE)


@pytest.fixture
def relay() -> Iterator[MockRelay]:
    with examples_relay() as r:
        yield r


@pytest.fixture
async def async_relay() -> AsyncIterator[MockRelay]:
    async with MockRelay(**FAST) as r:
        yield r


def is_closed(client: sa.SoraClient) -> bool:
    """``client.closed``, out of reach of mypy's narrowing (it cannot know that a context closed it)."""
    return client.closed


def flags(relay: MockRelay) -> list[str]:
    return ["--base-url", relay.url, "--api-key", KEY]


# --- batch_submit.py ---------------------------------------------------------------------------------


def test_batch_submit_gets_a_task_id_for_every_made_up_prompt(
    relay: MockRelay, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every line gets a task id, printed with its tag, and the exit code is 0."""
    assert batch_submit.main([*flags(relay), "--count", "12", "--rate", "200"]) == 0
    out = capsys.readouterr().out
    assert sorted(int(line) for line, _ in TASK_LINE.findall(out)) == list(range(1, 13))
    assert relay.stats.accepted == 12


def test_batch_submit_reads_a_prompt_file(
    relay: MockRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--prompts takes one prompt per non-blank line; the tag is the line number."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a fox in snow\n\na paper boat\na koi pond\n", encoding="utf-8")
    assert batch_submit.main([*flags(relay), "--prompts", str(prompts)]) == 0
    assert sorted(int(line) for line, _ in TASK_LINE.findall(capsys.readouterr().out)) == [1, 3, 4]


def test_batch_submit_rerun_with_the_same_run_id_pays_nothing_twice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ambiguous lines fail the first run; the re-run with --retry-ambiguous gets them, none twice."""
    with examples_relay(fail_500_after=0.3, seed=8, honour_idempotency=True) as relay:
        args = [*flags(relay), "--count", "20", "--run-id", "job-1"]
        assert batch_submit.main(args) == 1
        first = capsys.readouterr()
        assert "ambiguous (key job-1-" in first.out
        assert "--run-id job-1 --retry-ambiguous" in first.err
        relay.configure(fail_500_after=0.0)
        assert batch_submit.main([*args, "--retry-ambiguous"]) == 0
        second = dict(TASK_LINE.findall(capsys.readouterr().out))
        assert len(second) == 20
        assert relay.stats.duplicates == {}
        assert relay.stats.accepted == 20
        assert set(dict(TASK_LINE.findall(first.out)).items()) <= set(second.items())


def test_batch_submit_stops_early_after_max_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-errors breaks out of submit_many; aclosing cancels the rest at once."""
    with examples_relay(api_key="sk-some-other-key") as relay:
        assert batch_submit.main([*flags(relay), "--count", "500", "--max-errors", "3"]) == 1
    captured = capsys.readouterr()
    assert "stopping early: 3 error(s)" in captured.err
    assert captured.out.count("failed: HTTP 401") == 3
    assert relay.stats.unauthorized < 500


def test_batch_submit_runs_as_a_script_configured_by_the_environment(relay: MockRelay) -> None:
    """``python examples/batch_submit.py`` reads $SORA_BASE_URL and $SORA_API_KEY."""
    env = {**os.environ, "SORA_BASE_URL": relay.url, "SORA_API_KEY": KEY}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "batch_submit.py"), "--count", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(TASK_LINE.findall(done.stdout)) == 3
    assert KEY not in done.stdout + done.stderr


# --- wait_for_videos.py ------------------------------------------------------------------------------


def test_wait_for_videos_creates_waits_and_downloads(
    relay: MockRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each created video is waited for and streamed to a file; no partial file is left behind."""
    out_dir = tmp_path / "videos"
    args = [*flags(relay), "--count", "2", "--out-dir", str(out_dir), "--poll-interval", "0.02"]
    assert wait_for_videos.main(args) == 0
    files = sorted(out_dir.iterdir())
    assert len(files) == 2
    assert all(f.suffix == ".mp4" and f.read_bytes().startswith(b"\x00\x00\x00\x18ftyp") for f in files)
    captured = capsys.readouterr()
    assert captured.out.count("saved ") == 2
    assert "SUCCESS 100%" in captured.err


def test_wait_for_videos_reports_a_failed_task_and_exits_1(
    relay: MockRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given task ids: a task that ends in FAILURE is reported with its reason, the good one saved."""

    async def create_two() -> list[str]:
        async with sa.SoraClient(KEY, base_url=relay.url) as client:
            good = await client.create_video(sa.VideoRequest(prompt="a koi pond"))
            bad = await client.create_video(sa.VideoRequest(prompt="a koi pond [fail]"))
        return [good, bad]

    good, bad = asyncio.run(create_two())
    args = [*flags(relay), good, bad, "--out-dir", str(tmp_path), "--poll-interval", "0.02"]
    assert wait_for_videos.main(args) == 1
    out = capsys.readouterr().out
    assert f"{bad}: failed: simulated failure" in out
    assert f"{good}: saved" in out
    assert [p.name for p in tmp_path.iterdir()] == [f"{good}-0.mp4"]


def test_wait_for_videos_reports_a_timeout(relay: MockRelay, tmp_path: Path) -> None:
    """A task still running when --timeout passes is reported, not waited for forever."""
    relay.configure(queue_time=30.0)
    args = [*flags(relay), "--count", "1", "--out-dir", str(tmp_path), "--timeout", "0.2"]
    assert wait_for_videos.main(args) == 1
    assert list(tmp_path.iterdir()) == []


# --- aiohttp_app.py -----------------------------------------------------------------------------------


async def test_aiohttp_app_creates_and_queries_videos(async_relay: MockRelay) -> None:
    """POST creates (202 with the id), GET reports the task; the client lives as long as the app."""
    app = aiohttp_app.create_app(base_url=async_relay.url, api_key=KEY)
    async with TestClient(TestServer(app)) as http:
        client = app[aiohttp_app.CLIENT]
        created = await http.post("/videos", json={"prompt": "a fox in snow", "size": "1280x720"})
        assert created.status == 202
        task_id = (await created.json())["task_id"]
        answer = await http.get(f"/videos/{task_id}")
        assert answer.status == 200
        assert (await answer.json())["task_id"] == task_id
        await asyncio.sleep(0.1)
        finished = await (await http.get(f"/videos/{task_id}")).json()
        assert finished["status"] == "SUCCESS"
        assert len(finished["video_urls"]) == 1
    assert client.closed


async def test_aiohttp_app_answers_errors_with_what_to_fix(async_relay: MockRelay) -> None:
    """Bad JSON is a 400, a bad field a 422 naming it (nothing sent), an unknown task a 404."""
    app = aiohttp_app.create_app(base_url=async_relay.url, api_key=KEY)
    async with TestClient(TestServer(app)) as http:
        bad_json = await http.post("/videos", data=b"{not json")
        assert bad_json.status == 400
        bad_field = await http.post("/videos", json={"prompt": "a fox", "size": "1920x1080"})
        assert bad_field.status == 422
        assert (await bad_field.json())["field"] == "size"
        assert (await http.get("/videos/task_unknown")).status == 404
        assert (await http.get("/videos/not%20an%20id")).status == 400
    assert async_relay.stats.create_requests == 0


async def test_aiohttp_app_passes_the_callers_idempotency_key_on(async_relay: MockRelay) -> None:
    """A caller who repeats a POST with the same Idempotency-Key gets the same task, created once."""
    async_relay.configure(honour_idempotency=True)  # a relay kinder than real ones, asked for by name
    app = aiohttp_app.create_app(base_url=async_relay.url, api_key=KEY)
    async with TestClient(TestServer(app)) as http:
        headers = {"Idempotency-Key": "order-42"}
        first = await (await http.post("/videos", json={"prompt": "a fox"}, headers=headers)).json()
        again = await (await http.post("/videos", json={"prompt": "a fox"}, headers=headers)).json()
    assert first == again
    assert async_relay.stats.accepted == 1


async def test_aiohttp_app_reports_an_ambiguous_create_with_its_key() -> None:
    """A create that may have worked is a 502 that tells the caller the key to retry under."""
    async with MockRelay(**FAST, fail_500_after=1.0) as relay:
        app = aiohttp_app.create_app(base_url=relay.url, api_key=KEY)
        async with TestClient(TestServer(app)) as http:
            answer = await http.post("/videos", json={"prompt": "a fox"}, headers={"Idempotency-Key": "k-1"})
            assert answer.status == 502
            body = await answer.json()
    assert (body["error"], body["idempotency_key"]) == ("AmbiguousSubmissionError", "k-1")


async def test_aiohttp_app_keeps_a_create_going_when_the_handler_is_cancelled(
    async_relay: MockRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller hangs up mid-create: the shielded submission still ends with a task id."""
    async_relay.configure(latency=0.2)
    app = aiohttp_app.create_app(base_url=async_relay.url, api_key=KEY)
    handles: list[sa.Submission] = []
    async with TestClient(TestServer(app, handler_cancellation=True)) as http:
        client = app[aiohttp_app.CLIENT]
        submit = client.submit

        def recording_submit(*args: Any, **kwargs: Any) -> sa.Submission:
            handles.append(submit(*args, **kwargs))
            return handles[-1]

        monkeypatch.setattr(client, "submit", recording_submit)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(http.post("/videos", json={"prompt": "a fox"}), 0.05)
        assert len(handles) == 1
        assert not handles[0].done()
        task_id = await asyncio.wait_for(handles[0], 2)  # a cancelled submission would raise here
    assert task_id.startswith("task_")
    assert async_relay.stats.accepted == 1


# --- fastapi_app.py ------------------------------------------------------------------------------------


@pytest.fixture
def fastapi_app() -> Any:
    pytest.importorskip("fastapi", reason="the FastAPI example needs fastapi (pip install fastapi httpx)")
    pytest.importorskip("httpx", reason="the FastAPI example is tested through httpx's ASGI transport")
    from examples import fastapi_app

    return fastapi_app


async def test_fastapi_app_creates_queries_and_maps_errors(async_relay: MockRelay, fastapi_app: Any) -> None:
    """The lifespan opens and closes the client; errors become 422/404/502 answers."""
    import httpx

    async_relay.configure(honour_idempotency=True)  # a relay kinder than real ones, asked for by name

    app = fastapi_app.create_app(base_url=async_relay.url, api_key=KEY)
    async with app.router.lifespan_context(app):
        client: sa.SoraClient = app.state.sora
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            created = await http.post("/videos", json={"prompt": "a fox", "size": "480x480"})
            assert created.status_code == 202
            task_id = created.json()["task_id"]
            again = await http.post(
                "/videos", json={"prompt": "a fox"}, headers={"Idempotency-Key": "order-7"}
            )
            repeat = await http.post(
                "/videos", json={"prompt": "a fox"}, headers={"Idempotency-Key": "order-7"}
            )
            assert again.json() == repeat.json()
            await asyncio.sleep(0.1)
            video = (await http.get(f"/videos/{task_id}")).json()
            assert (video["status"], len(video["video_urls"])) == ("SUCCESS", 1)

            bad = await http.post("/videos", json={"prompt": "a fox", "duration": 7})
            assert (bad.status_code, bad.json()["field"]) == (422, "duration")
            assert (await http.get("/videos/task_unknown")).status_code == 404
            async_relay.configure(fail_500_after=1.0)
            ambiguous = await http.post("/videos", json={"prompt": "a fox"})
            assert ambiguous.status_code == 502
            assert ambiguous.json()["idempotency_key"]
            assert not client.closed
    assert is_closed(client)  # the lifespan closed it
    assert async_relay.stats.accepted == 3
