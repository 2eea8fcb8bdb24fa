"""Running the command in-process for tests: its exit code and what it printed, and the relay in a
thread it runs against (``main()`` calls ``asyncio.run``, so the relay needs a loop of its own)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from sora_async import cli
from sora_async.mock import MockRelay
from tests.relay_thread import relay_in_thread

KEY = "sk-DISTINCTIVE-cli-key-9f3a"
FAST = {"queue_time": 0.05, "run_time": 0.15, "seed": 3}
"""Tasks finish in 0.2 s, so a wait takes a few polls."""


@attrs.frozen
class Run:
    """One ``cli.main`` call: the exit code and the captured stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """``main(argv)`` with its exit code and captured output."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def running_relay(**overrides: Any) -> contextlib.AbstractContextManager[MockRelay]:
    """A MockRelay serving from its own event loop in a thread, stopped cleanly afterwards."""
    return relay_in_thread(**{"api_key": KEY, **FAST, **overrides})


def against(relay: MockRelay, *argv: str) -> list[str]:
    """``argv`` with the relay's URL and key appended (common flags go after the subcommand)."""
    return [*argv, "--base-url", relay.url, "--api-key", relay.config.api_key or KEY]


def create_task(capsys: pytest.CaptureFixture[str], relay: MockRelay, prompt: str = "a fox in snow") -> str:
    result = run(capsys, *against(relay, "create", "--prompt", prompt))
    assert result.code == 0, result.err
    return result.out.strip()


def assert_one_error_line(result: Run, *fragments: str) -> None:
    """The failure is a single ``error: ...; ...`` line on stderr, with no traceback."""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """``records`` as JSON Lines at ``path``."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path
