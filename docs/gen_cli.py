"""The command-line reference, rendered from the real ``sora-async`` click commands.

The page cannot drift from the code: every command the group knows gets a section with exactly the
text its ``--help`` prints, in the order of ``sora_async.cli.app.COMMANDS`` (a command missing from
that list still gets a section, at the end). The exit codes come from the ``sora_async.cli``
docstring.

The docs build calls it through ``docs/hooks.py``; run it by hand to see the Markdown::

    python docs/gen_cli.py
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from sora_async import cli
from sora_async.cli import app

HELP_COLUMNS = app.HELP_WIDTH
"""The width the help is formatted for (the group pins it), so the page does not depend on who builds it."""


@contextlib.contextmanager
def columns(width: int) -> Iterator[None]:
    """Kept for the docs hooks: click's width is pinned by the group's context settings already."""
    yield


def subcommands() -> dict[str, click.Command]:
    """The group's commands by name, in the documented order, then any others."""
    with app.app.make_context(app.PROG, [], resilient_parsing=True) as ctx:
        names = app.app.list_commands(ctx)
        return {name: command for name in names if (command := app.app.get_command(ctx, name)) is not None}


def help_text(command: click.Command, name: str | None = None) -> str:
    """A command's ``--help`` exactly as ``sora-async NAME --help`` prints it."""
    with (
        app.app.make_context(app.PROG, [], resilient_parsing=True) as parent,
        command.make_context(name or command.name, [], parent=parent, resilient_parsing=True) as ctx,
    ):
        return command.get_help(ctx)


def top_help() -> str:
    """``sora-async --help``."""
    with app.app.make_context(app.PROG, [], resilient_parsing=True) as ctx:
        return app.app.get_help(ctx)


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
    parts = ["## `sora-async`", "", _code(top_help()), ""]
    for name, command in subcommands().items():
        parts += [f"## `sora-async {name}`", "", _code(help_text(command, name)), ""]
    parts += ["## Exit codes", "", exit_codes(), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render())
