"""The ``sora-async`` command, run in-process against a mock relay that serves from a background thread.

``main()`` calls ``asyncio.run``, so these tests are plain functions; the relay gets its own loop in a
thread. A couple of tests run the real ``python -m sora_async`` in a subprocess.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import sora_async as sa
from sora_async import cli
from sora_async.batch import BatchProgress, BatchSummary
from sora_async.cli import console as _console
from sora_async.cli import demo as _demo
from sora_async.cli.app import COMMANDS, parse_args
from sora_async.cli.batch import batch_advice
from sora_async.cli.demo import MIN_COUNT, demo_records
from sora_async.cli.mock_server import mock_config_from_args
from sora_async.mock import MockConfig, MockRelay, RelayStats
from tests.cli_run import KEY, against, assert_one_error_line, create_task, run, running_relay, write_jsonl
from tests.redis_server import RedisServer

TASK_ID = re.compile(r"^task_[0-9a-z]{26}$")
POLL = ["--poll-interval", "0.05"]
SUBCOMMANDS = [name for name, _ in COMMANDS]


@pytest.fixture
def relay() -> Iterator[MockRelay]:
    with running_relay() as r:
        yield r


# --- help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    """`sora-async CMD --help` exits 0 with a paragraph and an example invocation."""
    result = run(capsys, command, "--help")
    assert result.code == 0
    assert "examples:" in result.out
    assert f"sora-async {command}" in result.out.split("examples:")[1]


def test_top_help_reads_well_to_a_newcomer(capsys: pytest.CaptureFixture[str]) -> None:
    """The top help pitches the tool, lists each command with one line, and says where to start."""
    result = run(capsys, "--help")
    assert result.code == 0
    assert "nothing paid twice" in result.out
    for name, summary in COMMANDS:
        assert re.search(rf"^  {re.escape(name)} +{re.escape(summary)}$", result.out, re.MULTILINE)
    assert "start with: sora-async demo" in result.out


def test_no_command_shows_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bare `sora-async` is a usage error that shows the help."""
    result = run(capsys)
    assert result.code == cli.EXIT_USAGE
    assert "start with: sora-async demo" in result.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    result = run(capsys, "--version")
    assert result.code == 0
    assert sa.__version__ in result.out


def test_python_m_sora_async_help() -> None:
    """`python -m sora_async --help` works as a real process."""
    proc = subprocess.run(
        [sys.executable, "-m", "sora_async", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: sora-async")


def test_module_entry_point(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m sora_async` exits with main()'s code (here in-process, for coverage)."""
    monkeypatch.setattr(sys, "argv", ["sora-async", "--version"])
    monkeypatch.delitem(sys.modules, "sora_async.__main__", raising=False)  # another test may have run it
    with pytest.raises(SystemExit) as info:
        runpy.run_module("sora_async", run_name="__main__")
    assert info.value.code == 0
    assert sa.__version__ in capsys.readouterr().out


def test_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse errors keep the one-line format and point at the right --help."""
    result = run(capsys, "create", "--rate", "fast")
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "--rate", "sora-async create --help")


# --- create -------------------------------------------------------------------------------------------


def test_create_prints_the_task_id(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """Plain create prints only the task id, so `$(sora-async create ...)` captures it."""
    task_id = create_task(capsys, relay)
    assert TASK_ID.match(task_id)
    assert relay.stats.accepted == 1


def test_create_json_carries_the_idempotency_key(
    capsys: pytest.CaptureFixture[str], relay: MockRelay
) -> None:
    """--json prints one object with the task id and the key; a given key is used and replays."""
    relay.configure(honour_idempotency=True)  # a relay kinder than real ones, asked for by name
    argv = against(
        relay, "create", "--prompt", "a fox", "--size", "720x720", "--idempotency-key", "k-1", "--json"
    )
    first, again = run(capsys, *argv), run(capsys, *argv)
    assert first.code == again.code == 0
    assert first.json["idempotency_key"] == "k-1"
    assert TASK_ID.match(first.json["task_id"])
    assert again.json == first.json  # same key, same task: the relay replayed it
    assert relay.stats.accepted == 1


def test_create_from_request_file_with_flag_override(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """--request reads wire fields; a flag overrides them, including a friendly/wire twin: the request
    the command builds has the flag's size (the file's width/height gone) and the file's n_frames."""
    from sora_async.cli.create import build_request

    request = tmp_path / "req.json"
    request.write_text(json.dumps({"prompt": "from file", "width": 480, "height": 480, "n_frames": 300}))
    argv = ["create", "--request", str(request), "--size", "1280x720", "--action", "2.5:it jumps"]
    built = build_request(parse_args(argv))
    assert (built.width, built.height, built.n_frames, built.prompt) == (1280, 720, 300, "from file")
    assert [(a.time, a.description) for a in built.actions or ()] == [(2.5, "it jumps")]
    result = run(capsys, *against(relay, *argv))
    assert result.code == 0, result.err
    assert relay.stats.accepted == 1


def test_create_from_stdin(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--request - reads the JSON object from stdin."""
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"prompt": "a koi pond", "n_frames": 300}'))
    result = run(capsys, *against(relay, "create", "--request", "-"))
    assert result.code == 0, result.err
    assert TASK_ID.match(result.out.strip())


def test_create_with_a_bad_size_names_the_field(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """A bad size fails before sending: exit 2, one line naming 'size' and the flag to fix."""
    result = run(capsys, *against(relay, "create", "--prompt", "a fox", "--size", "1920x1080"))
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "'size'", "1920x1080", "--size")
    assert relay.stats.requests == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "one JSON object"),
        ('{"prompt": "x", "sizes": "1280x720"}', "fix the field in"),
    ],
)
def test_create_with_a_bad_request_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, fragment: str
) -> None:
    """A broken --request file is an input error (exit 2) that says what is wrong with it."""
    request = tmp_path / "req.json"
    request.write_text(content)
    result = run(
        capsys, "create", "--request", str(request), "--api-key", KEY, "--base-url", "http://127.0.0.1:9"
    )
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, fragment)


def test_create_with_a_missing_request_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An unreadable --request file is an input error."""
    result = run(capsys, "create", "--request", str(tmp_path / "nope.json"))
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "cannot read --request")


def test_create_with_a_bad_action(capsys: pytest.CaptureFixture[str]) -> None:
    """--action must be TIME:DESCRIPTION."""
    result = run(capsys, "create", "--prompt", "x", "--action", "soon: it jumps")
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "TIME:DESCRIPTION")


def test_create_wait_json_is_one_object(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """create --wait --json prints one object: the key, the task id and the finished task."""
    result = run(capsys, *against(relay, "create", "--prompt", "a fox", "--wait", "--json", *POLL))
    assert result.code == 0, result.err
    payload = result.json
    assert payload["status"] == "SUCCESS"
    assert payload["idempotency_key"]
    assert payload["video_urls"][0].startswith(relay.url)


def test_ambiguous_create_says_how_to_retry(capsys: pytest.CaptureFixture[str]) -> None:
    """A create that may have succeeded is not retried blind: exit 1, and the hint carries the key."""
    with running_relay(fail_500_after=1.0) as relay:
        result = run(capsys, *against(relay, "create", "--prompt", "a fox", "--idempotency-key", "key-77"))
        assert relay.stats.accepted == 1
    assert result.code == cli.EXIT_FAILED
    assert_one_error_line(result, "may or may not", "--idempotency-key key-77 --retry-ambiguous")


def test_retry_ambiguous_flag_recovers_the_task(capsys: pytest.CaptureFixture[str]) -> None:
    """With --retry-ambiguous the same key is retried and the relay returns the one task."""
    with running_relay(drop_after=0.5, seed=11, honour_idempotency=True) as relay:
        for _ in range(4):
            result = run(capsys, *against(relay, "create", "--prompt", "a fox", "--retry-ambiguous"))
            assert result.code == 0, result.err
        assert not relay.stats.duplicates
        assert relay.stats.faults["drop_after"] > 0


# --- status and wait ----------------------------------------------------------------------------------


def test_status_plain_lines(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """status prints `key: value` lines when stdout is not a terminal."""
    task_id = create_task(capsys, relay)
    result = run(capsys, *against(relay, "status", task_id))
    assert result.code == 0
    assert f"task_id: {task_id}" in result.out
    assert re.search(r"^status: (NOT_START|IN_PROGRESS|SUCCESS)$", result.out, re.MULTILINE)


def test_status_json_after_success(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """status --json is one object with the video URLs once the task is done."""
    task_id = create_task(capsys, relay)
    assert run(capsys, *against(relay, "wait", task_id, "-q", *POLL)).code == 0
    payload = run(capsys, *against(relay, "status", task_id, "--json")).json
    assert payload["status"] == "SUCCESS"
    assert payload["progress"] == 100
    assert payload["finish_time"]
    assert len(payload["video_urls"]) == 1


def test_status_of_an_unknown_task(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """A task the relay does not know: exit 1, and the hint says to check the id."""
    result = run(capsys, *against(relay, "status", "task_nope"))
    assert result.code == cli.EXIT_FAILED
    assert_one_error_line(result, "task_not_exist", "check the task id")


def test_status_with_a_malformed_task_id(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """A task id that cannot be a task id is an input error naming TASK_ID."""
    result = run(capsys, *against(relay, "status", "a/b"))
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "'task_id'", "TASK_ID")


def test_wait_success_prints_the_urls(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """wait exits 0 and prints one URL per line on stdout; progress lines go to stderr."""
    task_id = create_task(capsys, relay)
    result = run(capsys, *against(relay, "wait", task_id, *POLL))
    assert result.code == 0, result.err
    assert result.out.strip().startswith(f"{relay.url}/videos/")
    assert f"task {task_id}: SUCCESS" in result.err


def test_wait_on_a_failing_task_exits_1_with_the_reason(
    capsys: pytest.CaptureFixture[str], relay: MockRelay
) -> None:
    """A "[fail]" prompt ends in FAILURE: exit 1 and the relay's reason in the error line."""
    task_id = create_task(capsys, relay, "a fox [fail]")
    result = run(capsys, *against(relay, "wait", task_id, "-q", *POLL))
    assert result.code == cli.EXIT_FAILED
    assert_one_error_line(result, task_id, "the prompt contains [fail]")


def test_wait_failure_with_json_still_prints_the_task(
    capsys: pytest.CaptureFixture[str], relay: MockRelay
) -> None:
    """--json prints the failed task on stdout, beside the error line."""
    task_id = create_task(capsys, relay, "a fox [fail]")
    result = run(capsys, *against(relay, "wait", task_id, "--json", *POLL))
    assert result.code == cli.EXIT_FAILED
    assert result.json["status"] == "FAILURE"
    assert "[fail]" in result.json["fail_reason"]


def test_wait_timeout_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    """A task still running when --wait-timeout passes: exit 4 and a hint to wait again."""
    with running_relay(queue_time=0.0, run_time=30.0) as relay:
        task_id = create_task(capsys, relay)
        result = run(capsys, *against(relay, "wait", task_id, "--wait-timeout", "0.3", "--json", "-q", *POLL))
    assert result.code == cli.EXIT_TIMEOUT == 4
    assert_one_error_line(result, "not finished", f"sora-async wait {task_id}")
    assert result.json["status"] == "IN_PROGRESS"


# --- configuration errors and secrecy -------------------------------------------------------------------


def test_missing_key_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    """No key anywhere: exit 3 with exactly the documented line and no traceback."""
    result = run(capsys, "status", "task_1", "--base-url", "https://relay.example")
    assert result.code == cli.EXIT_CONFIG == 3
    assert result.err == "error: no API key; pass --api-key or set SORA_API_KEY\n"
    assert result.out == ""


def test_missing_base_url_is_a_config_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key may come from the environment; a missing base URL is exit 3 too."""
    monkeypatch.setenv("SORA_API_KEY", KEY)
    result = run(capsys, "status", "task_1")
    assert result.code == cli.EXIT_CONFIG
    assert_one_error_line(result, "no base URL", "--base-url", "SORA_BASE_URL")


def test_plain_http_to_a_remote_host_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """The SDK's refusal to send the key over http is phrased with the CLI flag."""
    result = run(capsys, "status", "task_1", "--api-key", KEY, "--base-url", "http://relay.example")
    assert result.code == cli.EXIT_CONFIG
    assert_one_error_line(result, "--allow-insecure-http")
    assert "allow_insecure_http=True" not in result.err


def test_wrong_key_is_a_config_error(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """A key the relay rejects (401): exit 3 with a hint about the key."""
    result = run(capsys, "create", "--prompt", "x", "--base-url", relay.url, "--api-key", "sk-wrong")
    assert result.code == cli.EXIT_CONFIG
    assert_one_error_line(result, "401", "--api-key")


def test_burst_without_rate_is_a_usage_error(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """--burst alone would silently do nothing, so it is refused."""
    result = run(capsys, *against(relay, "status", "task_1", "--burst", "5"))
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "--burst", "--rate")


def test_unreachable_relay_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening: exit 1 and a hint about --base-url."""
    result = run(
        capsys,
        "status",
        "task_1",
        "--api-key",
        KEY,
        "--base-url",
        "http://127.0.0.1:9",
        "--max-attempts",
        "1",
    )
    assert result.code == cli.EXIT_FAILED
    assert_one_error_line(result, "could not connect", "--base-url")


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_the_key_never_appears_in_any_output(
    capsys: pytest.CaptureFixture[str], verbose: list[str], tmp_path: Path
) -> None:
    """Successes, retries, failures and tracebacks: the key is in none of stdout or stderr, -v or not."""
    outputs = []
    with running_relay() as relay:
        task_id = create_task(capsys, relay)
        for argv in (
            ["create", "--prompt", "a fox", "--json", "--rate", "50", "--burst", "2"],
            ["status", task_id, "--json"],
            ["wait", task_id, *POLL],
            ["create", "--prompt", "a fox", "--size", "1x1"],
            ["status", "task_missing"],
            ["batch", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "r.jsonl")],
        ):
            result = run(capsys, *against(relay, *argv, *verbose))
            outputs.append(result.out + result.err)
        typo = run(capsys, *against(relay, "create", "--prompt", "x", "--size", KEY, *verbose))
        assert "'size' must be one of" in typo.err
        outputs.append(typo.out + typo.err)  # the key pasted in the wrong place is still masked
    with running_relay(fail_503=1.0) as busy:  # retries, their debug lines, then a 503 error
        result = run(capsys, *against(busy, "create", "--prompt", "a fox", "--max-attempts", "2", *verbose))
        assert result.code == cli.EXIT_FAILED
        outputs.append(result.out + result.err)
    text = "\n".join(outputs)
    assert KEY not in text
    if verbose:
        assert "Traceback" in text  # -v really showed tracebacks, and they were clean too
        assert "DEBUG sora_async" in text  # and the SDK's debug log (the 503 retries)


# --- batch --------------------------------------------------------------------------------------------


def test_batch_all_ok_exits_0_and_writes_results(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """Every line gets a task id: exit 0, a summary on stdout, one result line per input line."""
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"custom_id": f"c{i}", "prompt": f"fox {i}"} for i in range(12)]
    )
    out = tmp_path / "results.jsonl"
    result = run(
        capsys, *against(relay, "batch", str(source), "--out", str(out), "--rate", "200", "--burst", "10")
    )
    assert result.code == 0, result.err
    assert "ok: 12 of 12" in result.out
    assert f"results: {out}" in result.out
    assert "batch: 12/12 done" in result.err  # the final progress line
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["custom_id"] for r in results) == sorted(f"c{i}" for i in range(12))
    assert all(TASK_ID.match(r["task_id"]) for r in results)


def test_batch_reports_invalid_lines_by_number(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """Invalid lines cost no request, are listed as "line N: reason", and make the exit code 1."""
    records = [{"prompt": "a fox"}, {"prompt": "a fox", "size": "9x9"}, {"prompt": "an owl"}]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    result = run(capsys, *against(relay, "batch", str(source), "--out", str(tmp_path / "r.jsonl")))
    assert result.code == cli.EXIT_FAILED
    assert "ok: 2 of 3" in result.out
    assert "  line 2: 'size' must be one of" in result.out
    assert "invalid line(s) cost nothing" in result.err
    assert relay.stats.create_requests == 2


def test_batch_says_how_many_invalid_lines_its_list_leaves_out(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """The summary lists ten invalid lines, then how many more there are and where to find them."""
    records = [{"prompt": "a fox", "size": "9x9"}] * 13 + [{"prompt": "an owl"}]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "r.jsonl"
    result = run(capsys, *against(relay, "batch", str(source), "--out", str(out)))
    assert result.code == cli.EXIT_FAILED
    assert "  line 10: 'size' must be one of" in result.out
    assert "  line 11:" not in result.out
    assert f"... and 3 more: see {out}" in result.out


def test_batch_json_summary_and_wait(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """--json prints the summary as one object; --wait records each outcome; a failed video fails the run."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a fox"}, {"prompt": "an owl [fail]"}])
    out = tmp_path / "r.jsonl"
    result = run(capsys, *against(relay, "batch", str(source), "--out", str(out), "--wait", "--json"))
    assert result.code == cli.EXIT_FAILED, result.err
    summary = result.json
    assert summary["all_ok"] is False
    assert summary["task_failures"] == 1
    assert summary["ok"] == summary["total"] == 2
    assert summary["journal_path"] == str(out) + ".journal"
    statuses = sorted(json.loads(line)["status"] for line in out.read_text().splitlines())
    assert statuses == ["FAILURE", "SUCCESS"]
    again = run(capsys, *against(relay, "batch", str(source), "--out", str(out), "--wait", "--json"))
    assert again.code == cli.EXIT_FAILED, again.err  # the task still failed: a re-run says so too
    assert (again.json["all_ok"], again.json["task_failures"], again.json["skipped"]) == (False, 1, 2)


def test_batch_resume_skips_finished_lines(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """Running the same batch twice sends nothing the second time."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": f"fox {i}"} for i in range(5)])
    argv = against(relay, "batch", str(source), "--out", str(tmp_path / "r.jsonl"), "--json")
    assert run(capsys, *argv).code == 0
    again = run(capsys, *argv)
    assert again.code == 0
    assert again.json["skipped"] == 5
    assert relay.stats.create_requests == 5


@pytest.mark.parametrize(
    ("records", "fragment"),
    [
        ([{"custom_id": "a", "prompt": "x"}, {"custom_id": "a", "prompt": "y"}], "duplicate custom_id"),
        (None, "does not exist"),
    ],
)
def test_batch_input_errors_exit_2(
    capsys: pytest.CaptureFixture[str],
    relay: MockRelay,
    tmp_path: Path,
    records: list[dict[str, Any]] | None,
    fragment: str,
) -> None:
    """Unusable input (duplicate custom_ids, no such file) is exit 2, one line, nothing sent."""
    source = tmp_path / "in.jsonl"
    if records is not None:
        write_jsonl(source, records)
    result = run(capsys, *against(relay, "batch", str(source), "--out", str(tmp_path / "r.jsonl")))
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, fragment, "fix the input file")
    assert relay.stats.requests == 0


def test_batch_shard_flag(capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path) -> None:
    """--shard I/N takes every N-th line; a bad shard is a usage error."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": f"fox {i}"} for i in range(6)])
    result = run(
        capsys,
        *against(relay, "batch", str(source), "--out", str(tmp_path / "r.jsonl"), "--shard", "1/3", "--json"),
    )
    assert result.code == 0, result.err
    assert result.json["total"] == 2
    bad = run(
        capsys, *against(relay, "batch", str(source), "--out", str(tmp_path / "r.jsonl"), "--shard", "3/3")
    )
    assert bad.code == cli.EXIT_USAGE
    assert_one_error_line(bad, "--shard")


def test_batch_interrupt_says_how_to_resume(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a batch: exit 130 and a message naming the intact journal."""
    from sora_async.batch import run as _batch

    async def interrupted(*args: Any, **kwargs: Any) -> BatchSummary:
        raise KeyboardInterrupt

    monkeypatch.setattr(_batch, "run_batch", interrupted)
    out = tmp_path / "r.jsonl"
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a fox"}])
    result = run(capsys, *against(relay, "batch", str(source), "--out", str(out)))
    assert result.code == cli.EXIT_INTERRUPTED == 130
    assert result.err.strip().endswith(
        f"interrupted: the results so far are in {out}; journal intact at {out}.journal; "
        "re-run the same command to resume"
    )


def test_batch_advice_covers_every_leftover() -> None:
    """Failed, ambiguous and pending lines each come with what to do next."""
    summary = BatchSummary(
        total=10, skipped=0, resumed=0, ok=6, failed=1, invalid=1, ambiguous=1, pending=1, elapsed=1.0,
        results_path=Path("r"), journal_path=Path("j"),
    )  # fmt: skip
    advice = " ".join(batch_advice(summary, retry_ambiguous=False))
    for fragment in ("--retry-failed", "--retry-ambiguous", "re-run the same command", "invalid"):
        assert fragment in advice
    assert "--retry-ambiguous" not in " ".join(batch_advice(summary, retry_ambiguous=True))


# --- demo ---------------------------------------------------------------------------------------------


def test_demo_in_process_keeps_its_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The demo runs end to end, explains itself, and with --keep leaves its files behind."""
    result = run(capsys, "demo", "--count", "30", "--keep", str(tmp_path))
    assert result.code == 0, result.err
    assert "what happened:" in result.out
    assert "tasks created twice: 0" in result.out
    assert "SUCCESS" in result.out and "FAILURE" in result.out
    assert len((tmp_path / "demo-prompts.jsonl").read_text().splitlines()) == 30
    assert (tmp_path / "demo-results.jsonl").exists()


def test_demo_subprocess_json() -> None:
    """`python -m sora_async demo --count 30 --json` prints one JSON object and exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "sora_async", "demo", "--count", "30", "--json", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["as_expected"] is True
    assert payload["summary"]["invalid"] == 3
    assert payload["relay"]["tasks_created_twice"] == 0
    assert proc.stderr == ""


def test_demo_count_too_small(capsys: pytest.CaptureFixture[str]) -> None:
    """--count below the minimum is a usage error."""
    result = run(capsys, "demo", "--count", "3")
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "--count")


def test_demo_records_are_planned() -> None:
    """The demo input has its invalid and [fail] lines where the plan says, and valid ones elsewhere."""
    records, plan = demo_records(MIN_COUNT)
    assert len(records) == MIN_COUNT
    for line in plan.invalid_lines:
        with pytest.raises(sa.ValidationError):
            sa.VideoRequest.from_dict({k: v for k, v in records[line - 1].items() if k != "custom_id"})
    for line in plan.fail_lines:
        assert "[fail]" in records[line - 1]["prompt"]
    assert len(plan.watch_lines) == 3
    with pytest.raises(ValueError, match="at least"):
        demo_records(MIN_COUNT - 1)


def test_demo_reports_a_broken_promise(capsys: pytest.CaptureFixture[str]) -> None:
    """If the relay saw a duplicate or the counts are off, the demo says so and exits 1."""
    _, plan = demo_records(MIN_COUNT)
    summary = BatchSummary(
        total=10, skipped=0, resumed=0, ok=5, failed=2, invalid=3, ambiguous=0, pending=0, elapsed=1.0,
        results_path=Path("r"), journal_path=Path("j"),
    )  # fmt: skip
    stats = RelayStats()
    stats.record_creation("key-1", 0.0)
    stats.record_creation("key-1", 0.1)
    code = _demo._conclude(_console.UI(), plan, summary, [], stats, retries=0, kept=False)
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED
    assert "5 of 7 valid lines got a task id" in err
    assert "1 task(s) created twice" in err
    assert "ended nowhere" in err


# --- mock-server --------------------------------------------------------------------------------------


def parse_mock_server(*argv: str) -> MockConfig:
    return mock_config_from_args(parse_args(["mock-server", *argv]))


def test_mock_server_defaults_are_the_config_defaults() -> None:
    """No flags: exactly MockConfig() (the defaults live in one place)."""
    assert parse_mock_server() == MockConfig()


def test_mock_server_flags_build_the_config() -> None:
    """Every flag lands in its MockConfig field."""
    config = parse_mock_server(
        "--api-key", "sk-server", "--rate", "5", "--burst", "2", "--retry-after", "ms",
        "--ignore-idempotency",
        "--fail-503", "0.1", "--drop-before", "0.02", "--fail-500-after", "0.03", "--drop-after", "0.04",
        "--latency", "0.5", "--latency-jitter", "0.1", "--failure-rate", "0.2", "--queue-time", "0",
        "--run-time", "3", "--seed", "9", "--limit-queries", "--fault-queries", "--no-record-tasks",
    )  # fmt: skip
    assert config == MockConfig(
        api_key="sk-server", rate=5.0, burst=2, retry_after="ms", honour_idempotency=False,
        fail_503=0.1, drop_before=0.02, fail_500_after=0.03, drop_after=0.04, latency=0.5,
        latency_jitter=0.1, failure_rate=0.2, queue_time=0.0, run_time=3.0, seed=9,
        limit_queries=True, fault_queries=True, record_tasks=False,
    )  # fmt: skip


def test_every_mock_config_field_has_a_flag() -> None:
    """A new MockConfig field without a mock-server flag fails here."""
    args = parse_args(["mock-server"])
    missing = [field.name for field in attrs.fields(MockConfig) if not hasattr(args, field.name)]
    assert missing == []


def test_mock_server_rejects_impossible_faults(capsys: pytest.CaptureFixture[str]) -> None:
    """Faults summing over 1 are refused with MockConfig's message, as a usage error."""
    with pytest.raises(cli.CliError) as info:
        parse_mock_server("--fail-503", "0.7", "--drop-after", "0.7")
    assert info.value.code == cli.EXIT_USAGE
    assert "must be <= 1" in info.value.line()
    result = run(capsys, "mock-server", "--fail-503", "1.5")
    assert result.code == cli.EXIT_USAGE
    assert_one_error_line(result, "--fail-503", "fraction")


def test_mock_server_runs_until_interrupted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """mock-server hands its config, host and port to run_mock_server; a busy port is one error line."""
    import sora_async.mock

    calls: list[tuple[MockConfig, int, str]] = []

    def fake_run(config: MockConfig, *, port: int, host: str = "127.0.0.1") -> None:
        calls.append((config, port, host))
        if port == 1:
            raise OSError(98, "Address already in use")

    monkeypatch.setattr(sora_async.mock, "run_mock_server", fake_run)
    assert run(capsys, "mock-server", "--port", "0", "--rate", "3").code == 0
    assert calls == [(MockConfig(rate=3.0), 0, "127.0.0.1")]
    busy = run(capsys, "mock-server", "--port", "1")
    assert busy.code == cli.EXIT_FAILED
    assert_one_error_line(busy, "Address already in use", "--port")


# --- rendering --------------------------------------------------------------------------------------


def test_quiet_silences_progress(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """-q: stdout has the result, stderr nothing."""
    task_id = create_task(capsys, relay)
    result = run(capsys, *against(relay, "wait", task_id, "-q", *POLL))
    assert result.code == 0
    assert result.err == ""


def test_rich_rendering_on_a_terminal(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a terminal, status is a rich table and wait/batch draw rich progress."""
    monkeypatch.setattr(_console, "_isatty", lambda stream: True)
    monkeypatch.setattr(_console, "RICH_REFRESH", 0.01)
    task_id = create_task(capsys, relay)
    waited = run(capsys, *against(relay, "wait", task_id, *POLL))
    assert waited.code == 0
    status = run(capsys, *against(relay, "status", task_id))
    assert f"task {task_id}" in status.out
    assert "│" in status.out  # a table, not key: value lines
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a fox"}, {"prompt": "a fox", "duration": 7}])
    batch = run(capsys, *against(relay, "batch", str(source), "--out", str(tmp_path / "r.jsonl")))
    assert batch.code == cli.EXIT_FAILED
    assert "line 2: 'duration'" in batch.out


def test_plain_fallback_without_rich(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With rich not installed, a terminal still gets plain output."""
    monkeypatch.setattr(_console, "_isatty", lambda stream: True)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    assert _console.rich_console(sys.stdout) is None
    task_id = create_task(capsys, relay)
    status = run(capsys, *against(relay, "status", task_id))
    assert f"task_id: {task_id}" in status.out


def test_plain_batch_progress_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a terminal the batch view prints a progress line on its timer."""
    progress = BatchProgress(total=10, ok=4, failed=1, in_flight=3)
    ui = _console.UI()

    async def tick() -> None:
        async with ui.batch_watch(progress, plain_interval=0.01):
            await asyncio.sleep(0.05)

    asyncio.run(tick())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2
    assert lines[-1].startswith("batch: 5/10 done, 1 failed, 3 in flight, ")


def test_redaction_masks_real_keys_only() -> None:
    """A real key is masked wherever it appears; a toy key of a letter or two is left alone."""
    ui = _console.UI()
    ui.add_secret(KEY)
    ui.add_secret("k")
    assert ui.redact(f"ok, got {KEY}!") == "ok, got ***!"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.42, "0.4s"), (12.4, "12s"), (185, "3m05s"), (3725, "1h02m")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    """Durations read the way people say them."""
    assert _console.format_seconds(seconds) == text


def test_unexpected_errors_are_one_line_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug still prints one line (asking for -v and a report), never a bare traceback."""

    def broken(args: Any, ui: Any) -> int:
        raise RuntimeError("boom")

    from sora_async.cli import status

    monkeypatch.setattr(status, "show_status", broken)
    result = run(capsys, "status", "task_1")
    assert result.code == cli.EXIT_FAILED
    assert_one_error_line(result, "internal error: RuntimeError: boom", "-v")


def test_merge_command_reports_gaps_and_exit_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """merge writes the joined file; missing lines make it exit 1 and are listed."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}])
    shard = tmp_path / "r0.jsonl"
    shard.write_text(
        '{"custom_id": "3", "line": 3, "task_id": "t3", "error": null}\n'
        '{"custom_id": "1", "line": 1, "task_id": "t1", "error": null}\n'
    )
    out = tmp_path / "all.jsonl"
    result = run(capsys, "merge", str(shard), "--out", str(out), "--input", str(source), "--json")
    assert result.code == cli.EXIT_FAILED
    assert result.json["gaps"] == [2]
    assert [json.loads(x)["line"] for x in out.read_text().splitlines()] == [1, 3]
    missing = run(capsys, "merge", str(tmp_path / "none.jsonl"), "--out", str(out))
    assert missing.code == cli.EXIT_USAGE


def test_batch_shares_its_rate_through_redis(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path, redis_server: RedisServer
) -> None:
    """--redis-url with --shard: the shard runs under the fleet's Redis budget and finishes."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": f"clip {i}"} for i in range(6)])
    argv = ["batch", str(source), "--out", str(tmp_path / "r.jsonl"), "--shard", "0/2", "--rate", "50"]
    result = run(capsys, *against(relay, *argv, "--redis-url", redis_server.url, "--json"))
    assert result.code == 0, result.err
    assert result.json["ok"] == 3
    without_rate = run(
        capsys, *against(relay, "batch", str(source), "--out", "x", "--redis-url", redis_server.url)
    )
    assert without_rate.code == cli.EXIT_USAGE
    assert "--rate" in without_rate.err


def test_loadtest_against_the_embedded_relay_writes_json_and_a_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With no --base-url the command drives its own mock relay and reports every request."""
    report = tmp_path / "load.json"
    result = run(
        capsys,
        "loadtest",
        "--mode",
        "closed",
        "--workers",
        "4",
        "--requests",
        "40",
        "--json-file",
        str(report),
    )
    assert result.code == 0, result.err
    assert "throughput" in result.out and "p99" in result.out
    data = json.loads(report.read_text())
    assert data["sent"] == 40 and data["ok"] == 40 and data["complete"] is True


def test_loadtest_stops_at_a_rejected_key_with_the_config_exit_code(
    capsys: pytest.CaptureFixture[str], relay: MockRelay
) -> None:
    """A relay that refuses the key stops the run at its first answer, with the error and its exit code."""
    argv = [
        "loadtest",
        "--arrival-rate",
        "20",
        "--requests",
        "5",
        "--base-url",
        relay.url,
        "--api-key",
        "sk-wrong-key-123",
    ]
    relay.configure(api_key="sk-the-right-key")
    try:
        result = run(capsys, *argv, "--max-attempts", "1")
    finally:
        relay.configure(api_key=None)
    assert result.code == cli.EXIT_CONFIG
    assert "HTTP 401" in result.err and "--api-key" in result.err


def test_merge_prints_a_readable_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Without --json: counts, the gaps by line, and what to do about them."""
    shard = tmp_path / "r0.jsonl"
    shard.write_text(
        '{"custom_id": "1", "line": 1, "task_id": "t1"}\n{"custom_id": "3", "line": 3, "task_id": "t3"}\n'
    )
    result = run(capsys, "merge", str(shard), "--out", str(tmp_path / "all.jsonl"))
    assert result.code == cli.EXIT_FAILED
    assert "gaps: 1 (lines 2)" in result.out
    assert "re-run the shard" in result.err


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5"])
def test_batch_refuses_a_bad_wait_timeout_before_sending(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path, value: str
) -> None:
    """--wait-timeout nan was accepted: every line was created, then each failed its wait."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a fox"}])
    out = tmp_path / "r.jsonl"
    result = run(
        capsys, *against(relay, "batch", str(source), "--out", str(out), "--wait", "--wait-timeout", value)
    )
    assert result.code == cli.EXIT_USAGE
    assert "--wait-timeout" in result.err
    assert relay.stats.create_requests == 0
