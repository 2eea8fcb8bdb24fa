"""The command line against the mistakes and habits of real users (issue 12), on the real mock relay.

``main()`` runs in-process with the relay in a thread of its own (it calls ``asyncio.run``).
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_async import cli
from sora_async.cli import console
from sora_async.cli.console import UI
from sora_async.cli.logs import sdk_logging
from sora_async.mock import MockRelay
from tests.cli_run import against, run, write_jsonl
from tests.relay_thread import relay_in_thread

KEY = "sk-DISTINCTIVE-safety-key-4e1b"
FAST = {"queue_time": 0.05, "run_time": 0.1, "seed": 3}
POLL = ["--poll-interval", "0.05"]


@pytest.fixture
def relay() -> Iterator[MockRelay]:
    with relay_in_thread(api_key=KEY, **FAST) as r:
        yield r


# --- help and parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "absent"),
    [
        ("status", ["--prompt", "--retry-ambiguous", "--idempotency-key", "--wait-timeout", "--out"]),
        ("wait", ["--prompt", "--retry-ambiguous", "--idempotency-key", "--out"]),
        ("merge", ["--api-key", "--rate", "--prompt"]),
        ("mock-server", ["--base-url", "--concurrency", "--json"]),
    ],
)
def test_each_command_help_shows_only_its_own_flags(
    capsys: pytest.CaptureFixture[str], command: str, absent: list[str]
) -> None:
    """A flag another command owns is not offered where it would do nothing."""
    result = run(capsys, command, "--help")
    assert result.code == 0
    flags = result.out.split("examples:")[0]
    for flag in absent:
        assert flag not in flags, flag
    assert "--help" in result.out


def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    """`sora-async stauts` is a usage error that names the command meant."""
    result = run(capsys, "stauts", "task_1")
    assert result.code == cli.EXIT_USAGE
    assert result.err.startswith("error: no such command 'stauts'; did you mean 'status'?")


# --- several ids, stdin, JSON errors --------------------------------------------------------------------


def test_status_and_wait_take_several_ids(capsys: pytest.CaptureFixture[str], relay: MockRelay) -> None:
    """Each id gets its own JSON line; one unknown id fails the command but not the others' answers."""
    ids = [run(capsys, *against(relay, "create", "--prompt", f"fox {n}")).out.strip() for n in range(2)]
    waited = run(capsys, *against(relay, "wait", *ids, "--json", "-q", *POLL))
    assert waited.code == 0, waited.err
    assert [(o["task_id"], o["status"]) for o in waited.json_lines] == [(i, "SUCCESS") for i in ids]
    status = run(capsys, *against(relay, "status", ids[0], "task_nope", "--json"))
    assert status.code == cli.EXIT_FAILED
    first, missing = status.json_lines
    assert first["status"] == "SUCCESS" and "error" not in first
    assert missing["task_id"] == "task_nope" and missing["error"]["exit_code"] == cli.EXIT_FAILED


def test_batch_dash_reads_stdin(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`batch - --out r.jsonl` takes its lines from a pipe, like `create --request -`."""
    lines = "".join(json.dumps({"prompt": f"fox {n}", "custom_id": f"p{n}"}) + "\n" for n in range(4))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    out = tmp_path / "r.jsonl"
    result = run(capsys, *against(relay, "batch", "-", "--out", str(out), "--json"))
    assert result.code == 0, result.err
    assert sorted(json.loads(x)["custom_id"] for x in out.read_text().splitlines()) == [
        "p0",
        "p1",
        "p2",
        "p3",
    ]
    assert [p.name for p in tmp_path.iterdir() if "stdin" in p.name] == []


def test_errors_under_json_are_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    """With --json a failure prints a JSON error object on stdout (and its one line on stderr)."""
    missing_key = run(capsys, "status", "task_1", "--base-url", "https://relay.example", "--json")
    assert missing_key.code == cli.EXIT_CONFIG
    (payload,) = missing_key.json_lines
    assert payload["error"] == {
        "message": "no API key",
        "hint": "pass --api-key or set SORA_API_KEY",
        "exit_code": cli.EXIT_CONFIG,
    }
    usage = run(capsys, "create", "--rate", "fast", "--json")
    assert usage.code == cli.EXIT_USAGE
    assert "--rate" in usage.json_lines[0]["error"]["message"]


# --- -v ---------------------------------------------------------------------------------------------------


def test_verbose_prints_one_line_per_http_attempt_without_the_key() -> None:
    """The client's per-attempt record becomes `HTTP METHOD PATH STATUS attempt N D ms`, redacted."""
    err = io.StringIO()
    ui = UI(stderr=err)
    ui.add_secret(KEY)
    logger = logging.getLogger("sora_async")
    with sdk_logging(verbose=True, ui=ui):
        fields = {
            "method": "POST",
            "path": "/sora/v1/videos",
            "status": 200,
            "attempt": 1,
            "duration": 0.0123,
        }
        logger.debug("attempt", extra=fields)
        logger.debug("attempt", extra={**fields, "path": f"/x?k={KEY}", "status": None, "attempt": 2})
        logger.debug("attempt", extra={**fields, "status": None, "sent": False, "attempt": 3})
        logger.debug("retrying create_video in %.2fs", 0.5)
    lines = err.getvalue().splitlines()
    assert lines[0].endswith("DEBUG sora_async: HTTP POST /sora/v1/videos 200 attempt 1 12.3 ms")
    assert lines[1].endswith("HTTP POST /x?k=*** no answer attempt 2 12.3 ms")
    assert lines[2].endswith("HTTP POST /sora/v1/videos not sent attempt 3 12.3 ms")
    assert lines[3].endswith("DEBUG sora_async: retrying create_video in 0.50s")
    assert KEY not in err.getvalue()


def test_verbose_logs_every_attempt_of_a_real_request(
    capsys: pytest.CaptureFixture[str], relay: MockRelay
) -> None:
    """Against the relay: a successful create logs its one attempt (once the client emits the record)."""
    result = run(capsys, *against(relay, "create", "--prompt", "a fox", "-v"))
    assert result.code == 0
    if " attempt " not in result.err:
        pytest.skip("the client does not emit its per-attempt DEBUG record yet")
    assert len([line for line in result.err.splitlines() if "HTTP POST" in line]) == 1
    assert KEY not in result.err


# --- batch: checks first, stop early ----------------------------------------------------------------------


def test_batch_onto_its_own_input_is_refused(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """`batch same.jsonl --out same.jsonl`: exit 2, the input untouched, nothing sent."""
    source = write_jsonl(tmp_path / "same.jsonl", [{"prompt": "a fox"}])
    before = source.read_text()
    result = run(capsys, *against(relay, "batch", str(source), "--out", str(source)))
    assert result.code == cli.EXIT_USAGE
    assert "is the input file" in result.err
    assert source.read_text() == before
    assert relay.stats.requests == 0


def test_a_wrong_key_stops_the_batch_with_exit_3(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path
) -> None:
    """One request, exit 3, a hint about the key, and no advice to --retry-failed."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"prompt": f"fox {n}"} for n in range(49)])
    out = tmp_path / "r.jsonl"
    argv = ["batch", str(source), "--out", str(out), "--base-url", relay.url]
    result = run(capsys, *argv, "--api-key", "sk-wrong-key-123456")
    assert result.code == cli.EXIT_CONFIG == 3
    assert relay.stats.create_requests == 1
    assert "--retry-failed" not in result.err
    assert "check --api-key" in result.err.splitlines()[-1]
    assert "pending: 49" in result.out
    again = run(capsys, *argv, "--api-key", KEY)
    assert again.code == 0, again.err
    assert relay.stats.accepted == 49


def test_loadtest_plot_without_matplotlib_is_refused_before_any_load(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--plot needs matplotlib: said before the run, not after it as an internal error."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run(capsys, "loadtest", "--requests", "5", "--plot", "x.png")
    assert result.code == cli.EXIT_USAGE
    assert result.err.startswith("error: --plot needs matplotlib")
    assert result.out == ""


# --- markup ---------------------------------------------------------------------------------------------


def test_terminal_output_never_reads_user_text_as_markup(
    capsys: pytest.CaptureFixture[str], relay: MockRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[/]` in a value, `[fail]` in a failure reason and `res[final].jsonl` all show as written."""
    monkeypatch.setattr(console, "_isatty", lambda stream: True)
    monkeypatch.setattr(console, "RICH_REFRESH", 0.01)
    monkeypatch.chdir(tmp_path)  # a short path, so the table shows it on one line
    write_jsonl(tmp_path / "in.jsonl", [{"prompt": "a fox"}, {"prompt": "x", "size": "[/]"}])
    batch = run(capsys, *against(relay, "batch", "in.jsonl", "--out", "res[final].jsonl"))
    assert batch.code == cli.EXIT_FAILED, batch.err
    assert "res[final].jsonl" in batch.out and "'[/]'" in batch.out
    failing = run(capsys, *against(relay, "create", "--prompt", "an owl [fail]")).out.strip()
    assert run(capsys, *against(relay, "wait", failing, "-q", *POLL)).code == cli.EXIT_FAILED
    status = run(capsys, *against(relay, "status", failing))
    assert "[fail]" in status.out
