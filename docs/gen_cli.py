"""The command-line reference, rendered from the real ``sora-async`` argparse parser.

The page cannot drift from the code: every subcommand the parser knows gets a section with exactly the
text its ``--help`` prints, in the order of ``sora_async.cli.COMMANDS`` (a command missing from that
list still gets a section, at the end). The exit codes come from the ``sora_async.cli`` docstring.

The docs build calls it through ``docs/hooks.py``; run it by hand to see the Markdown::

    python docs/gen_cli.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from sora_async import cli

HELP_COLUMNS = 100
"""The terminal width the help is formatted for, fixed so the page does not depend on who builds it."""


@contextlib.contextmanager
def columns(width: int) -> Iterator[None]:
    """argparse wraps help to ``$COLUMNS``; pin it while formatting."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name, in the documented order, then any others."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    order = [name for name, _ in cli.COMMANDS if name in found]
    order += [name for name in found if name not in order]
    return {name: found[name] for name in order}


def exit_codes() -> str:
    """The exit codes of the ``sora_async.cli`` docstring, as a Markdown table."""
    doc = cli.__doc__ or ""
    start = doc.find("Exit codes")
    end = doc.find("Errors are one line", start)
    if start < 0 or end < 0:
        raise RuntimeError("the sora_async.cli docstring no longer has its 'Exit codes' paragraph")
    rows: list[list[str]] = []
    for line in doc[start:end].strip().splitlines()[1:]:  # below the "Exit codes (...):" heading
        code, _, meaning = line.strip().partition(" ")
        if code.isdigit():
            rows.append([code, meaning.strip()])
        elif line.strip() and rows:
            rows[-1][1] += " " + line.strip()
    if not rows:
        raise RuntimeError("found no exit codes in the sora_async.cli docstring")
    table = ["| code | meaning |", "|---:|---|"]
    table += [f"| {code} | {meaning.replace('``', '`')} |" for code, meaning in rows]
    return "\n".join(table)


def _code(text: str) -> str:
    return "```text\n" + text.rstrip() + "\n```"


def render() -> str:
    """The Markdown of the reference: the top-level help, one section per command, the exit codes."""
    with columns(HELP_COLUMNS):
        parser = cli.build_parser()
        parts = ["## `sora-async`", "", _code(parser.format_help()), ""]
        for name, sub in subcommands(parser).items():
            parts += [f"## `sora-async {name}`", "", _code(sub.format_help()), ""]
    parts += ["## Exit codes", "", exit_codes(), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render())
