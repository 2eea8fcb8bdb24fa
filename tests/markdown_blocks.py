"""The code blocks of the README and of the docs' pages, for the tests that run and check them.

``README_*`` come from ``README.md``; ``DOCS_*`` from the docs' own pages (``docs/**/*.md`` but the
pages other tools write). The docs' Python blocks are split three ways: complete programs, pytest
modules and fragments.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OTHERS = {"benchmarks.md", "fleet.md"}
"""Pages written by other tools (the benchmark report, the fleet guide): checked by the build only."""
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL
)


def fenced_blocks(text: str) -> list[tuple[str, int, str]]:
    """``(language, first line number, code)`` of every fenced block of a Markdown text; a block
    indented (in a list, an admonition) comes dedented."""
    found = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["code"].splitlines(keepends=True))
        found.append((match["lang"], text.count("\n", 0, match.start()) + 2, code))
    return found


# --- README.md --------------------------------------------------------------------------------------------

README_BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))
README_PYTHON = [(line, code) for lang, line, code in README_BLOCKS if lang == "python"]
README_SHELL = [
    (line, code) for lang, line, code in README_BLOCKS if lang in ("bash", "sh", "shell", "console")
]


# --- the docs' pages --------------------------------------------------------------------------------------


def own_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).as_posix() not in OTHERS)


def page_blocks(page: Path, *languages: str) -> list[tuple[str, str]]:
    """``(where, code)`` of the page's fenced blocks in these languages, but snippet includes (``--8<--``)."""
    return [
        (f"{page.relative_to(ROOT)}:{line}", code)
        for lang, line, code in fenced_blocks(page.read_text(encoding="utf-8"))
        if lang in languages and "--8<--" not in code
    ]


def is_program(code: str) -> bool:
    """A complete program: it starts with its imports and runs as a module (no top-level await)."""
    try:
        compile(code, "<block>", "exec")
    except SyntaxError:
        return False
    return re.match(r"(import|from) ", code) is not None and "def test_" not in code


DOCS_PYTHON = [block for page in own_pages() for block in page_blocks(page, "python")]
DOCS_PROGRAMS = [(w, c) for w, c in DOCS_PYTHON if is_program(c)]
DOCS_ASYNC_PROGRAMS = [(w, c) for w, c in DOCS_PROGRAMS if "asyncio.run(" in c]
"""Programs that talk to a relay: each runs in a subprocess, all at once."""
DOCS_PLAIN_PROGRAMS = [(w, c) for w, c in DOCS_PROGRAMS if (w, c) not in DOCS_ASYNC_PROGRAMS]
"""Programs that only build objects: run here, quickly."""
DOCS_TEST_MODULES = [(w, c) for w, c in DOCS_PYTHON if "def test_" in c]
DOCS_FRAGMENTS = [
    (w, c) for w, c in DOCS_PYTHON if (w, c) not in DOCS_PROGRAMS and (w, c) not in DOCS_TEST_MODULES
]
