"""A griffe extension for the API reference: show the docstrings' ``>>>`` examples as code.

sora_async's docstrings carry their examples as bare doctest blocks (a ``>>>`` line at the left margin,
its output below, a blank line after), which ``doctest`` runs (tests/test_docs.py). Markdown would
read the ``>>>`` as three nested block quotes, so before mkdocstrings renders a docstring this
extension wraps every such block in a fenced ``pycon`` code block. Blocks already inside a fence or
indented (e.g. in a Google-style ``Examples:`` section) are left alone. It also drops the second colon
of a reStructuredText ``::`` that introduces an indented block (Markdown shows that block as code
already, and would print the ``::``).

mkdocs.yml loads it: ``extensions: [docs/griffe_doctest.py:DoctestFences]``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

FENCE = "```"


def fence_doctests(text: str) -> str:
    """Wrap each bare doctest block of ``text`` in a fenced ``pycon`` code block.

    >>> fence_doctests("Intro.\\n\\n>>> 1 + 1\\n2\\n\\nAfter.").splitlines()
    ['Intro.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'After.']
    """
    out: list[str] = []
    in_fence = in_doctest = False
    for line in text.splitlines():
        if in_doctest and not line.strip():
            out.append(FENCE)
            in_doctest = False
        elif not in_doctest and not in_fence and line.startswith(">>>"):
            out.append(FENCE + "pycon")
            in_doctest = True
        elif not in_doctest and line.lstrip().startswith(FENCE):
            in_fence = not in_fence
        out.append(line)
    if in_doctest:
        out.append(FENCE)
    return "\n".join(out)


def single_colons(text: str) -> str:
    """Turn a paragraph-ending ``::`` (reStructuredText's "a literal block follows") into ``:``.

    >>> single_colons("The tree::\\n\\n    SoraError").splitlines()[0]
    'The tree:'
    """
    return re.sub(r"(?<=\S)::$", ":", text, flags=re.MULTILINE)


class DoctestFences(griffe.Extension):
    """Rewrites every loaded object's docstring with ``fence_doctests`` and ``single_colons``."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = single_colons(fence_doctests(obj.docstring.value))
