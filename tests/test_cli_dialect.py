"""--dialect: the command speaks each relay family against the mock relay's matching profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_async import cli
from sora_async.mock import PROFILES
from tests.relay_thread import relay_in_thread

KEY = "sk-cli-dialect-key-1234"
FAST = {"queue_time": 0.05, "run_time": 0.1, "seed": 5}


@pytest.mark.parametrize("dialect", sorted(PROFILES))
def test_create_and_wait_speak_every_family(dialect: str, capsys: pytest.CaptureFixture[str]) -> None:
    """create --wait with --dialect NAME against the relay of that family ends with a video URL."""
    with relay_in_thread(profile=dialect, api_key=KEY, **FAST) as relay:
        flags = ["--base-url", relay.url, "--api-key", KEY, "--dialect", dialect]
        code = cli.main(["create", "--prompt", "a fox", "--wait", "--poll-interval", "0.05", *flags])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "http" in captured.out
    assert KEY not in captured.out + captured.err


def test_the_wrong_dialect_says_so_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's routes against a new-api relay: its dashboard page, a configuration error (exit 3)."""
    with relay_in_thread(profile="new-api", api_key=KEY, **FAST) as relay:
        code = cli.main(["create", "--prompt", "a fox", "--base-url", relay.url, "--api-key", KEY])
    captured = capsys.readouterr()
    assert code == 3
    assert "dialect" in captured.err


def test_a_batch_against_the_wrong_dialect_stops_with_one_readable_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A batch against a new-api relay with the seed's routes stops after its first answer (exit 3),
    with the relay's words, no stray punctuation, and a hint that names --dialect."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"prompt": "fox {n}"}}\n' for n in range(5)))
    key = "sk-batch-wrong-routes-5678"  # the module's key holds "-dialect", which redaction blanks
    with relay_in_thread(profile="new-api", api_key=key, **FAST) as relay:
        out = str(tmp_path / "r.jsonl")
        code = cli.main(["batch", str(source), "--out", out, "--base-url", relay.url, "--api-key", key])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "stopped after the relay answered" in err and "web page" in err
    assert ".;" not in err
    assert "--dialect" in err
