"""The ``sora-async`` group: the commands in a newcomer's order, suggestions for typos, and ``main``.

``main`` runs click without its own exit handling (``standalone_mode=False``) so that every usage
error becomes the same one line as any other failure (JSON too under ``--json``), and the exit code
is returned rather than raised.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import click

from .. import __version__
from . import batch, create, demo, download, loadtest, merge, mock_server, status, wait
from .command import PROG
from .console import UI
from .errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError

__all__ = ["COMMANDS", "app", "main", "parse_args"]

_MODULES = (demo, create, status, wait, download, batch, merge, loadtest, mock_server)
COMMANDS = tuple((module.command.name or "", module.SUMMARY) for module in _MODULES)
"""Each command and its one-line summary, in the order a newcomer needs them."""

HELP_WIDTH = 100
PITCH = (
    "Create Sora videos through a relay from the shell: as fast as your key allows,\n"
    "retried safely, nothing lost, nothing paid twice."
)
EPILOG = (
    "start with: sora-async demo\n"
    "then see 'sora-async COMMAND --help' for a command's flags and an example.\n\n"
    "exit codes: 0 ok, 1 failed, 2 usage or input error, 3 configuration error,\n"
    "4 wait timed out, 130 interrupted, 143 terminated."
)


class SoraGroup(click.Group):
    """The top level: commands listed in ``COMMANDS`` order, a near miss answered with a suggestion."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, _ in COMMANDS if name in self.commands] + sorted(
            name for name in self.commands if name not in dict(COMMANDS)
        )

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2, cutoff=0.5)
            guess = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise click.UsageError(f"no such command {name!r}{guess}", ctx)
        return super().resolve_command(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[-h] [--version] COMMAND [flags]", prefix="usage: ")

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write("\n" + PITCH + "\n")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands first (they are what a newcomer looks for), then the group's own two flags."""
        self.format_commands(ctx, formatter)
        click.Command.format_options(self, ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = max(len(name) for name, _ in COMMANDS) + 2
        listing = "\n".join(f"  {name:<{width}}{summary}" for name, summary in COMMANDS)
        formatter.write("\ncommands:\n" + listing + "\n")

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write("\n" + EPILOG + "\n")


@click.group(
    PROG,
    cls=SoraGroup,
    context_settings={
        "help_option_names": ["-h", "--help"],
        "terminal_width": HELP_WIDTH,
        "max_content_width": HELP_WIDTH,
    },
)
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
def app() -> None:
    """The command group; each command does its own work."""


for _module in _MODULES:
    app.add_command(_module.command)


def _report(ui: UI, error: CliError) -> int:
    return ui.fail(error)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code (the console script passes it to ``sys.exit``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    ui = UI(json_mode="--json" in args)
    if not args:
        with app.make_context(PROG, [], resilient_parsing=True) as ctx:
            ui.error(app.get_help(ctx))
        return EXIT_USAGE
    try:
        result = app.main(args=args, prog_name=PROG, standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else PROG
        return _report(ui, CliError(exc.format_message(), f"see '{where} --help'", EXIT_USAGE))
    except click.ClickException as exc:
        return _report(ui, CliError(exc.format_message(), code=EXIT_USAGE))
    except click.Abort:
        return _report(ui, CliError("interrupted", code=EXIT_INTERRUPTED))
    return result if isinstance(result, int) else EXIT_OK


def parse_args(argv: Sequence[str]) -> SimpleNamespace:
    """The flags a command line would run with, parsed but not run (``command`` names the command).

    For tests and the docs: raises ``SystemExit(2)`` on a usage error, as the command would exit.
    """
    args = list(argv)
    try:
        with app.make_context(PROG, [], resilient_parsing=True) as ctx:
            name, command, rest = app.resolve_command(ctx, args)
            assert command is not None
            with command.make_context(name, rest, parent=ctx) as sub:
                params: dict[str, Any] = dict(sub.params)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        raise SystemExit(EXIT_USAGE) from exc
    return SimpleNamespace(command=name, **params)
