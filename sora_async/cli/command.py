"""How every command runs: its help layout, its voice (the UI), its log, and its one error line.

A command module declares its flags with click and hands its body to ``run``; ``run`` builds the UI
from the output flags, routes the SDK's log for ``-v``, and turns whatever the body raises into the
one-line error and exit code of ``errors.explain``. No command prints an error or picks an exit code
for a failure by itself.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import click

from .console import UI
from .errors import EXIT_INTERRUPTED, CliError, explain
from .logs import sdk_logging

__all__ = ["PROG", "Handler", "SoraCommand", "run"]

PROG = "sora-async"
Handler = Callable[[SimpleNamespace, UI], int]


class SoraCommand(click.Command):
    """A command whose help is a paragraph, its own flags, and examples to copy (kept as written)."""

    def __init__(self, *args: Any, examples: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {}).setdefault("help_option_names", ["-h", "--help"])
        super().__init__(*args, **kwargs)
        self.examples = examples

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix="usage: ")

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.examples:
            formatter.write("\nexamples:\n" + self.examples.rstrip() + "\n")


def run(handler: Handler, params: dict[str, Any]) -> int:
    """Run a command body with its flags; every failure becomes one error line and its exit code."""
    args = SimpleNamespace(**params)
    ui = UI(json_mode=bool(params.get("json_mode")), quiet=bool(params.get("quiet")))
    ui.add_secret(params.get("api_key") or os.environ.get("SORA_API_KEY") or "")
    verbose = bool(params.get("verbose"))
    with sdk_logging(verbose=verbose, ui=ui):
        try:
            return handler(args, ui)
        except KeyboardInterrupt:
            return ui.fail(CliError("interrupted", code=EXIT_INTERRUPTED))
        except Exception as exc:
            if verbose and not isinstance(exc, CliError):  # a CliError is an answer, not a fault
                ui.error(traceback.format_exc().rstrip())
            return ui.fail(explain(exc))
