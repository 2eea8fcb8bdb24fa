"""The documentation stays true: docstring examples, the docs' code, the CLI reference and the site build.

* Every ``>>>`` example in the package's docstrings runs (``doctest``), and every public name has one.
* The docs' Python blocks: complete programs (they start with an import) run against a mock relay,
  pytest modules run under pytest, and fragments compile and name only things that exist.
* The docs' shell commands parse with the real ``sora-async`` parser (or the example's own).
* The API reference lists every public name; the CLI reference has every command.
* ``mkdocs build --strict`` passes, when the docs extra is installed.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import importlib
import importlib.util
import io
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import sora_async as sa
from sora_async import cli
from sora_async.cli import app as cli_app
from sora_async.mock import MockRelay
from tests.examples_relay import KEY, examples_relay
from tests.markdown_blocks import (
    DOCS,
    DOCS_ASYNC_PROGRAMS,
    DOCS_FRAGMENTS,
    DOCS_PLAIN_PROGRAMS,
    DOCS_PROGRAMS,
    DOCS_TEST_MODULES,
    ROOT,
    own_pages,
    page_blocks,
)

FLAGS = doctest.ELLIPSIS
"""``...`` in an expected output or traceback matches anything (long messages are cut that way)."""


# --- doctests ------------------------------------------------------------------------------------------


def package_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(sa.__path__, "sora_async."))


def load_docs_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"sora_async_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_doctests(module: ModuleType) -> tuple[int, int, str]:
    """(failed, attempted, report) for the docstring examples of one module."""
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module):
        runner.run(test, out=out.write)
    results = runner.summarize(verbose=False)
    return results.failed, results.attempted, out.getvalue()


@pytest.mark.parametrize("name", package_modules())
def test_docstring_examples_run(name: str) -> None:
    """Every ``>>>`` example in the module's docstrings gives the output it shows."""
    failed, _, report = run_doctests(importlib.import_module(name))
    assert failed == 0, report


def test_the_docs_helpers_examples_run() -> None:
    """The docs build's own helpers keep their examples true too."""
    failed, attempted, report = run_doctests(load_docs_module("griffe_doctest"))
    assert (failed, attempted > 0) == (0, True), report


def test_docstring_examples_exist() -> None:
    """The package has examples to run (a broken finder would pass every module vacuously)."""
    attempted = sum(run_doctests(importlib.import_module(name))[1] for name in package_modules())
    assert attempted >= 60


@pytest.mark.parametrize("name", [n for n in sa.__all__ if n != "__version__"])
def test_every_public_name_has_a_docstring_with_an_example(name: str) -> None:
    """Each name of ``sora_async.__all__`` says what it is and shows itself in use."""
    doc = getattr(sa, name).__doc__ or ""
    assert doc.strip(), f"sora_async.{name} has no docstring"
    assert ">>>" in doc, f"sora_async.{name}'s docstring has no example"


# --- the docs' Markdown ----------------------------------------------------------------------------------


def test_the_docs_have_code_of_each_kind() -> None:
    """The split (tests/markdown_blocks.py) found programs, a test module and fragments (a changed
    fence would hide them)."""
    assert len(DOCS_PROGRAMS) >= 8
    assert len(DOCS_TEST_MODULES) >= 1
    assert len(DOCS_FRAGMENTS) >= 8


@pytest.mark.parametrize(("where", "code"), DOCS_PLAIN_PROGRAMS, ids=[w for w, _ in DOCS_PLAIN_PROGRAMS])
def test_docs_plain_programs_run(where: str, code: str) -> None:
    """A program that only builds clients and requests runs as written."""
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


PYTEST_INI = ["--rootdir", ".", "-o", "addopts=", "-o", "asyncio_mode=auto"]
PYTEST_INI += ["-o", "asyncio_default_fixture_loop_scope=function"]
"""The pytest settings the testing guide tells readers to use."""
HAS_MKDOCS = all(importlib.util.find_spec(name) for name in ("mkdocs", "mkdocstrings", "griffe_fieldz"))
Job = tuple[str, "subprocess.Popen[str]"]


@dataclasses.dataclass
class Jobs:
    """The slow checks, running: the relay the programs talk to, each group's processes, the site."""

    relay: MockRelay
    site: Path
    programs: list[Job] = dataclasses.field(default_factory=list)
    pytest: list[Job] = dataclasses.field(default_factory=list)
    mkdocs: list[Job] = dataclasses.field(default_factory=list)


def start(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(job: Job) -> tuple[str, int, str, str]:
    """Wait for a job: ``(where, exit code, stdout, stderr)``."""
    where, process = job
    out, err = process.communicate(timeout=180)
    return where, process.returncode, out, err


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    """The slow checks, started together so they overlap: the docs' programs (against one mock
    relay), the docs' pytest modules, and the site build."""
    tmp = tmp_path_factory.mktemp("docs")
    with examples_relay(honour_idempotency=True) as relay:
        env = {**os.environ, "SORA_BASE_URL": relay.url, "SORA_API_KEY": KEY}
        started = Jobs(relay, tmp / "site")
        for number, (where, code) in enumerate(DOCS_ASYNC_PROGRAMS):
            script = tmp / f"program_{number}.py"
            script.write_text(code, encoding="utf-8")
            started.programs.append(
                (where, start([sys.executable, "-W", "error", str(script)], cwd=tmp, env=env))
            )
        for number, (where, code) in enumerate(DOCS_TEST_MODULES):
            module = tmp / f"test_docs_module_{number}.py"
            module.write_text(code, encoding="utf-8")
            argv = [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-W",
                "error",
                *PYTEST_INI,
            ]
            started.pytest.append((where, start([*argv, module.name], cwd=tmp)))
        if HAS_MKDOCS:
            argv = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(started.site)]
            quiet = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
            started.mkdocs.append(("mkdocs build --strict", start(argv, cwd=ROOT, env=quiet)))
        try:
            yield started
        finally:
            for _, process in [*started.programs, *started.pytest, *started.mkdocs]:
                if process.poll() is None:
                    process.kill()
                process.communicate()


def test_docs_programs_run_against_a_mock_relay(jobs: Jobs) -> None:
    """Each program that talks to a relay runs (all at once, in subprocesses) and exits cleanly."""
    assert len(jobs.programs) >= 4
    failures = [
        f"{where} exited {code}:\n{out}{err}"
        for where, code, out, err in map(finish, jobs.programs)
        if code or err.strip()  # a warning or a traceback on stderr counts as a failure
    ]
    assert failures == [], "\n\n".join(failures)
    assert jobs.relay.stats.duplicates == {}


def test_docs_test_modules_pass_under_pytest(jobs: Jobs) -> None:
    """The testing guide's pytest module passes, run with the settings the guide gives."""
    assert jobs.pytest
    for where, code, out, err in map(finish, jobs.pytest):
        assert code == 0, f"{where}:\n{out}{err}"


def test_mkdocs_build_is_strict_clean(jobs: Jobs) -> None:
    """``mkdocs build --strict`` passes: no broken link, anchor, reference or missing page."""
    if not HAS_MKDOCS:
        pytest.skip("the docs extra is not installed (pip install -e '.[docs]')")
    for where, code, out, err in map(finish, jobs.mkdocs):
        assert code == 0, f"{where}:\n{out}{err}"
    rendered = {
        "reference/cli": "usage: sora-async batch",  # generated by the hook
        "guides/web-apps": "sora_client_context",  # an example, included whole
        "changelog": "Keep a Changelog",  # CHANGELOG.md, included
        "reference/api": 'id="sora_async.SoraClient"',  # mkdocstrings
    }
    for page, text in rendered.items():
        assert text in (jobs.site / page / "index.html").read_text(encoding="utf-8"), page


def test_snippet_includes_are_safe_from_the_formatter() -> None:
    """``ruff format`` rewrites Python fences in Markdown (``--8<--`` would become ``--8 < --``), so
    every include inside a fence sits between ``<!-- fmt: off -->`` and ``<!-- fmt: on -->``."""
    for page in own_pages():
        text = page.read_text(encoding="utf-8")
        assert "--8 < --" not in text, page
        for match in re.finditer(r"^ *--8<-- ", text, re.MULTILINE):
            before = text[: match.start()]
            if before.count("```") % 2:  # inside a fence
                assert before.rfind("<!-- fmt: off -->") > before.rfind("<!-- fmt: on -->"), page


@pytest.mark.parametrize(("where", "code"), DOCS_FRAGMENTS, ids=[w for w, _ in DOCS_FRAGMENTS])
def test_docs_fragments_compile_and_name_real_things(where: str, code: str) -> None:
    """A fragment is valid Python (top-level await allowed) and its ``sa.X`` and ``client.x`` exist."""
    compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    for name in re.findall(r"\bsa\.(\w+)", code):
        assert hasattr(sa, name), f"{where}: sora_async has no {name}"
    for name in re.findall(r"\bclient\.(\w+)", code):
        assert hasattr(sa.SoraClient, name), f"{where}: SoraClient has no {name}"


def shell_commands() -> list[tuple[str, list[str]]]:
    """Every command of the docs' shell blocks, continuation lines joined, comments dropped."""
    commands = []
    for page in own_pages():
        for where, code in page_blocks(page, "bash"):
            for text in code.replace("\\\n", " ").splitlines():
                argv = shlex.split(text, comments=True)
                if argv:
                    commands.append((where, argv))
    return commands


SHELL = shell_commands()
NOT_CHECKED = ("export", "pip", "uvicorn", "curl", "redis-server", "nox", "mkdocs")


@pytest.mark.parametrize(("where", "argv"), SHELL, ids=[f"{w}:{a[:2]}" for w, a in SHELL])
def test_docs_shell_commands_parse(where: str, argv: list[str]) -> None:
    """``sora-async`` commands parse with the real parser, example scripts with their own."""
    if argv[:3] == ["python3", "-m", "pip"] or argv[0] in NOT_CHECKED:
        return
    if argv[0] == "sora-async" or argv[:3] == ["python3", "-m", "sora_async"]:
        args = argv[1:] if argv[0] == "sora-async" else argv[3:]
        parse = cli_app.parse_args
    elif argv[0] in ("python", "python3") and argv[1].startswith("examples/"):
        args = argv[2:]
        parse = importlib.import_module("examples." + Path(argv[1]).stem).parse_args
    else:
        pytest.fail(f"{where}: no rule checks this command yet: {shlex.join(argv)}")
    try:
        parse(args)
    except SystemExit as exc:
        pytest.fail(f"{where}: {shlex.join(argv)} does not parse (exit {exc.code})")


def test_the_docs_show_sora_async_commands() -> None:
    assert sum(argv[0] == "sora-async" for _, argv in SHELL) >= 10


# --- references -----------------------------------------------------------------------------------------


def test_the_api_reference_lists_every_public_name() -> None:
    """docs/reference/api.md has a ``::: sora_async.NAME`` block for each public name, once."""
    text = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    listed = re.findall(r"^::: sora_async\.(\w+)$", text, re.MULTILINE)
    public = [name for name in sa.__all__ if name != "__version__"]
    assert sorted(n for n in listed if n in public) == sorted(public)
    assert len(listed) == len(set(listed))


def test_the_cli_reference_has_every_command() -> None:
    """The generated page has the top-level help, each subcommand's help and the exit codes."""
    gen_cli = load_docs_module("gen_cli")
    reference = gen_cli.render()
    assert gen_cli.top_help().splitlines()[0] in reference
    for name, _ in cli_app.COMMANDS:
        assert f"## `sora-async {name}`" in reference
    for code in (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_CONFIG, cli.EXIT_TIMEOUT):
        assert f"| {code} |" in reference
    assert "<!-- sora-async-cli-reference -->" in (DOCS / "reference" / "cli.md").read_text()


def test_the_hooks_write_a_stub_only_for_a_missing_page(tmp_path: Path) -> None:
    """A generated page that is missing gets a stub; one that exists is left exactly as it is."""
    hooks = load_docs_module("hooks")
    (tmp_path / "fleet.md").write_text("# theirs\n", encoding="utf-8")
    assert hooks.write_missing_stubs(tmp_path) == ["benchmarks.md"]
    assert "python -m benchmarks.report" in (tmp_path / "benchmarks.md").read_text()
    assert (tmp_path / "fleet.md").read_text() == "# theirs\n"


# --- the site -------------------------------------------------------------------------------------------


def test_the_testing_guide_lists_the_mock_relays_real_knobs() -> None:
    """The knob table of the testing guide names MockConfig's fields: none invented, few left out."""
    import attrs

    from sora_async.mock import MockConfig

    text = (DOCS / "guides" / "testing.md").read_text(encoding="utf-8")
    table = text[text.index("| knob |") : text.index("The four faults")]
    rows = re.findall(r"^\| (`.+?`) \|", table, re.MULTILINE)
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    fields = {field.name for field in attrs.fields(MockConfig)}
    assert documented <= fields
    assert fields - documented <= {"record_tasks"}  # a benchmark-only knob
    assert isinstance(MockRelay(queue_time=0).config, MockConfig)


def test_the_load_testing_guide_shows_the_command_once_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a ``loadtest`` command the placeholder stays; with one, its help replaces it."""
    hooks = load_docs_module("hooks")
    page = (DOCS / "guides" / "load-testing.md").read_text(encoding="utf-8")
    assert hooks.LOADTEST_REGION.search(page)
    shown = hooks.loadtest_section(page)
    assert "usage: sora-async loadtest" in shown
    assert "<!-- loadtest-command -->" not in shown
    monkeypatch.delitem(cli_app.app.commands, "loadtest")
    assert hooks.loadtest_section(page) == page
