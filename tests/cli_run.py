"""Running the command in-process for tests: its exit code and what it printed."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from sora_async import cli


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
