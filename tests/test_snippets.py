"""The snippets tests/test_readme.py and tests/test_docs.py do not run to the end, checked here.

* The first programs of the README, the docs' home page and the quickstart handle a failed video: run
  against a relay on which every task fails, they print why instead of ending in a traceback.
* A docs fragment (a few lines, not a whole program) uses only names it defines, imports (in a
  ``# import ...`` comment line too), that another block of its page imports, or that the guides'
  prose sets up (``client``, ``request``, ``task_id``...) - so a pasted fragment never dies of a
  ``NameError`` for a name the page forgot. And no snippet imports a private module.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from tests.examples_relay import KEY, examples_relay
from tests.markdown_blocks import DOCS_FRAGMENTS, DOCS_PYTHON, README_PYTHON, ROOT

FIRST_PROGRAMS = {
    "README.md": README_PYTHON[0][1],
    **{
        where: code
        for where, code in DOCS_PYTHON
        if where.startswith(("docs/index.md", "docs/quickstart.md"))
    },
}
"""The first program a newcomer pastes, in each place it is shown."""

SET_UP_BY_THE_PROSE = {
    "client": "an open SoraClient",
    "request": "a VideoRequest",
    "requests": "an iterable of VideoRequest",
    "task_id": "the id create_video returned",
    "task_ids": "several of them",
    "task": "a VideoTask",
    "key": "an idempotency key",
    # placeholders for the reader's own code
    "read_lines": "the reader's input",
    "row": "a row of the reader's data",
    "job_id": "the reader's own id for a job",
    "save_pending": "the reader's own store",
}
"""Names a fragment may use without defining them: the guides' text says what each one is."""


@pytest.mark.parametrize("where", sorted(FIRST_PROGRAMS))
def test_the_first_program_reports_a_failed_video(
    where: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first program, against a relay where every video fails, says so and exits normally."""
    with examples_relay(failure_rate=1.0, queue_time=0.0, run_time=0.05) as relay:
        monkeypatch.setenv("SORA_BASE_URL", relay.url)
        monkeypatch.setenv("SORA_API_KEY", KEY)
        exec(compile(FIRST_PROGRAMS[where], where, "exec"), {"__name__": "__snippet__"})
    out = capsys.readouterr().out
    assert relay.stats.accepted == 1
    assert "the video failed:" in out


def names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """``(defined, used)`` names of a parsed block: assignments, imports, definitions, arguments."""
    defined: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return defined, used


def parse(code: str) -> ast.Module:
    return ast.parse(code)  # top-level await parses (it only fails to compile)


def commented_imports(code: str) -> str:
    """The ``# import x`` / ``# from x import y`` lines of a fragment, as code."""
    return "\n".join(m[1] for m in re.finditer(r"^# ((?:import|from) .+)$", code, re.MULTILINE))


def page_imports(where: str) -> set[str]:
    """Names imported by any Python block of the same page (a fragment of a longer example)."""
    page = where.rsplit(":", 1)[0]
    found: set[str] = set()
    for other, code in DOCS_PYTHON:
        if other.rsplit(":", 1)[0] == page:
            tree = parse(code)
            found |= {
                (alias.asname or alias.name).split(".")[0]
                for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names
            }
    included = re.findall(r'--8<-- "([^"]+\.py)"', (ROOT / page).read_text(encoding="utf-8"))
    for path in included:  # an example included whole, whose parts the fragments show
        found |= names(parse((ROOT / path).read_text(encoding="utf-8")))[0]
    return found


@pytest.mark.parametrize(("where", "code"), DOCS_FRAGMENTS, ids=[w for w, _ in DOCS_FRAGMENTS])
def test_a_fragment_uses_only_names_it_has(where: str, code: str) -> None:
    """Every name a fragment reads is defined, imported (here or on its page) or set up by the prose."""
    defined, used = names(parse(code))
    imported, _ = names(parse(commented_imports(code)))
    known = defined | imported | page_imports(where) | set(dir(builtins)) | set(SET_UP_BY_THE_PROSE)
    assert used - known == set(), f"{where}: uses names it never imports or defines"


def test_the_commented_imports_import() -> None:
    """A ``# import ...`` line of a fragment names a real module and real names."""
    for where, code in DOCS_FRAGMENTS:
        namespace: dict[str, Any] = {}
        exec(compile(commented_imports(code), where, "exec"), namespace)  # an ImportError names the block


@pytest.mark.parametrize(
    ("where", "code"), [*DOCS_PYTHON, *((f"README.md:{line}", c) for line, c in README_PYTHON)]
)
def test_no_snippet_imports_a_private_module(where: str, code: str) -> None:
    """Snippets import only public names: ``sora_async._x`` may change without notice."""
    text = code + "\n" + commented_imports(code)
    private = re.findall(r"\bsora_async(?:\.\w+)*\._\w+", text)
    assert private == [], f"{where}: imports {private}; export it instead"
    for match in re.findall(r"^\s*(?:# )?from (sora_async[\w.]*) import", text, re.MULTILINE):
        importlib.import_module(match)


def test_the_checks_see_the_snippets() -> None:
    """Fragments and the three first programs are found (a changed fence would pass vacuously)."""
    assert len(FIRST_PROGRAMS) == 3
    assert len(DOCS_FRAGMENTS) >= 15
    assert Path(ROOT / "README.md").is_file()
