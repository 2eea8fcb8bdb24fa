"""The README's code, run: its Python blocks and its shell commands, against the mock relay.

Python blocks are executed as they are written, with ``$SORA_BASE_URL`` and ``$SORA_API_KEY`` pointing
at a mock relay. Shell commands are checked one by one, each by a rule of ``ShellCommands`` that knows
how to run it here: ``sora-async ...`` runs the real command (in-process, or in a subprocess for the
blocking mock server), the demo runs for real with fewer prompts, ``pip install`` is checked against
the installed distribution's metadata rather than run. A command no rule recognises fails the test,
so a new README command needs a rule, and a renamed flag or extra fails the test, not a newcomer.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sora_async import cli
from sora_async.cli.app import COMMANDS
from sora_async.mock import MockRelay
from tests.examples_relay import KEY, examples_relay
from tests.foreground import python_c
from tests.markdown_blocks import README, README_BLOCKS, README_PYTHON, README_SHELL, ROOT

DISTRIBUTION = importlib.metadata.distribution("sora-async")
DEMO_COUNT = "20"
"""The demo's smallest sensible size: the same code path as the default 200, in a third of the time."""


def test_the_readme_has_the_blocks_this_file_checks() -> None:
    """Python and shell blocks are found, and every block is one of those (or a plain text block)."""
    assert len(README_PYTHON) >= 2
    assert len(README_SHELL) >= 2
    assert {lang for lang, _, _ in README_BLOCKS} <= {"python", "bash", "text", ""}


def test_the_two_setup_commands_come_first() -> None:
    """The first block is the shell block with the demo and the tests, before any other code."""
    lang, _, code = README_BLOCKS[0]
    assert lang == "bash"
    assert "sora_async demo" in code
    assert "pytest" in code


# --- Python blocks ------------------------------------------------------------------------------------


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockRelay]:
    """A relay in a thread, and the environment the README tells people to set."""
    with examples_relay() as r:
        monkeypatch.setenv("SORA_BASE_URL", r.url)
        monkeypatch.setenv("SORA_API_KEY", KEY)
        yield r


@pytest.mark.parametrize(
    ("line", "code"), README_PYTHON, ids=[f"README.md:{line}" for line, _ in README_PYTHON]
)
def test_python_block_runs(
    line: int, code: str, relay: MockRelay, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block runs as written, creates tasks on the relay, and prints no error."""
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
    out = capsys.readouterr().out
    assert relay.stats.accepted >= 1
    assert relay.stats.duplicates == {}
    assert "Error" not in out
    assert KEY not in out
    if "submit_many" in code:
        printed = [row.split() for row in out.splitlines()]
        assert sorted(int(index) for index, _ in printed) == list(range(relay.stats.accepted))
        assert all(task_id.startswith("task_") for _, task_id in printed)
    if "video_urls" in code:
        assert f"{relay.url}/videos/" in out


# --- shell blocks ---------------------------------------------------------------------------------------


def shell_commands() -> list[tuple[int, list[str]]]:
    """Every command of the shell blocks as ``(README line, argv)``; ``a && b`` gives two commands."""
    commands = []
    for first_line, code in README_SHELL:
        for offset, text in enumerate(code.splitlines()):
            command: list[str] = []
            for word in [*shlex.split(text, comments=True), "&&"]:
                if word != "&&":
                    command.append(word)
                elif command:
                    commands.append((first_line + offset, command))
                    command = []
    return commands


class ShellCommands:
    """Runs (or checks) README commands one after the other, in one environment and directory."""

    def __init__(
        self,
        relay: MockRelay,
        workdir: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.relay = relay
        self.workdir = workdir
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.created: list[str] = []
        self.background: list[subprocess.Popen[str]] = []
        self.ran: list[str] = []

    def run(self, argv: list[str]) -> None:
        self.ran.append(argv[0] if argv[0] != "python3" else " ".join(argv[:3]))
        if argv[0] == "export":
            self.export(argv[1:])
        elif argv[:4] == ["python3", "-m", "pip", "install"]:
            self.pip_install(argv[4:])
        elif argv[:3] == ["python3", "-m", "sora_async"]:
            self.python_m_sora_async(argv[3:])
        elif argv[:3] == ["python3", "-m", "pytest"]:
            assert argv[3:] == [], "the README's test command takes no arguments"
            assert "pytest" in self.extras_requirements("test")  # installed by the extra named before it
        elif argv[0] == "sora-async":
            self.sora_async(argv[1:])
        else:
            pytest.fail(f"no rule checks this README command yet: {shlex.join(argv)}")

    def export(self, assignments: list[str]) -> None:
        """The README exports the relay and the key; here they point at the mock relay."""
        names = dict(item.split("=", 1) for item in assignments)
        assert set(names) == {"SORA_BASE_URL", "SORA_API_KEY"}
        self.monkeypatch.setenv("SORA_BASE_URL", self.relay.url)
        self.monkeypatch.setenv("SORA_API_KEY", KEY)

    def pip_install(self, args: list[str]) -> None:
        """Not run: the target is this project and every extra it names exists."""
        assert args[0] == "-e"
        match = re.fullmatch(r"\.\[([\w,-]+)\]", args[1])
        assert match, f"expected .[EXTRAS], got {args[1]!r}"
        extras = DISTRIBUTION.metadata.get_all("Provides-Extra") or []
        for extra in match.group(1).split(","):
            assert extra in extras, f"sora-async has no extra {extra!r} (it has {extras})"

    @staticmethod
    def extras_requirements(extra: str) -> str:
        """The requirements an extra pulls in, as one text (``dev`` includes ``test``)."""
        return " ".join(
            req for req in DISTRIBUTION.requires or [] if re.search(rf"extra == .({extra}|dev).", req)
        )

    def python_m_sora_async(self, args: list[str]) -> None:
        """``python3 -m sora_async demo`` for real, with fewer prompts; started now, checked in ``finish``."""
        assert args == ["demo"], args
        self.background.append(
            subprocess.Popen(
                [sys.executable, "-m", "sora_async", *args, "--count", DEMO_COUNT],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("SORA_")},
            )
        )

    def finish(self) -> None:
        """Wait for the commands running in the background; each must have succeeded."""
        for process in self.background:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, out + err
            assert "tasks created twice: 0" in " ".join(out.split())

    def sora_async(self, args: list[str]) -> None:
        """The console script is ``sora_async.cli:main``; run it in-process, or the server apart."""
        (script,) = DISTRIBUTION.entry_points.select(group="console_scripts", name="sora-async")
        assert script.value == "sora_async.cli:main"
        if args[:1] == ["mock-server"]:
            self.mock_server(args)
            return
        if args[:1] == ["status"]:
            assert re.fullmatch(r"task_\w+", args[1]), args
            args = ["status", self.created[-1], *args[2:]]  # the README's example id -> a real one
        if args[:1] == ["batch"]:
            lines = [
                {"custom_id": "fox-1", "prompt": "a fox in snow", "size": "1280x720", "duration": 5},
                {"custom_id": "boat-1", "prompt": "a paper boat", "duration": 10},
                {"prompt": "a koi pond"},
            ]
            (self.workdir / args[1]).write_text("".join(json.dumps(x) + "\n" for x in lines))
        code, out, err = self.cli(args)
        assert code == 0, f"sora-async {shlex.join(args)} exited {code}: {err}"
        if args[:1] == ["create"]:
            self.created.append(out.splitlines()[0])
        if args[:1] == ["batch"]:
            self.check_batch_results(self.workdir / args[args.index("--out") + 1])
        if args == ["--help"]:
            assert all(name in out for name, _ in COMMANDS)

    def cli(self, args: list[str]) -> tuple[int, str, str]:
        code = cli.main(args)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def check_batch_results(self, results: Path) -> None:
        """Every line has a result with the fields the README lists for it."""
        readme = README.read_text(encoding="utf-8")
        listed = re.search(r"writes exactly one result per\s+line \(([^)]*)\)", readme)
        assert listed, "the README no longer describes the results file"
        fields = set(re.findall(r"`(\w+)`", listed.group(1)))
        rows = [json.loads(line) for line in results.read_text().splitlines()]
        assert len(rows) == 3
        assert all(fields <= set(row) and row["task_id"] for row in rows)
        assert {row["custom_id"] for row in rows} == {"fox-1", "boat-1", "3"}

    def mock_server(self, args: list[str]) -> None:
        """Start it as the README says (on a free port), create a task through it, stop it with Ctrl-C."""
        args = [("0" if prev == "--port" else arg) for prev, arg in zip(["", *args[:-1]], args, strict=True)]
        process = subprocess.Popen(
            python_c("import runpy; runpy.run_module('sora_async', run_name='__main__')") + args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            url = re.search(r"serving at (http://\S+)", first)
            assert url, first + (process.stderr.read() if process.stderr else "")
            request = urllib.request.Request(
                url.group(1) + "/sora/v1/videos",
                data=json.dumps({"prompt": "a fox"}).encode(),
                headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert json.load(answer)["code"] == "success"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def test_shell_commands_work(
    relay: MockRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command of the README's shell blocks runs (or, for installs, checks out) as written."""
    monkeypatch.delenv("SORA_BASE_URL")  # only what the README's own `export` sets
    monkeypatch.delenv("SORA_API_KEY")
    monkeypatch.chdir(tmp_path)
    shell = ShellCommands(relay, tmp_path, capsys, monkeypatch)
    try:
        for line, argv in shell_commands():
            try:
                shell.run(argv)
            except AssertionError as exc:
                raise AssertionError(f"README.md:{line}: {shlex.join(argv)}: {exc}") from exc
        shell.finish()
    finally:
        for process in shell.background:
            if process.poll() is None:
                process.kill()
            process.communicate()
    assert "sora-async" in shell.ran
    assert "python3 -m sora_async" in shell.ran


def test_readme_links_point_at_files_that_exist() -> None:
    """Relative links of the README (into docs/, examples/...) lead somewhere."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"\w+://", t)]
    assert local, "expected links into docs/"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []
