"""Child Python processes that take Ctrl-C as a shell's foreground job does, whatever the parent does.

A parent that ignores SIGINT (pytest started from a script, ``cmd &``, some CI runners) hands that on:
a child Python then never installs its KeyboardInterrupt handler, and a test that stops it with SIGINT
waits in vain. Each child here puts the default handler back first.
"""

from __future__ import annotations

import sys

CTRL_C_AS_IN_A_SHELL = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "


def python_c(code: str) -> list[str]:
    """``python -c code``, with SIGINT raising KeyboardInterrupt as usual."""
    return [sys.executable, "-c", CTRL_C_AS_IN_A_SHELL + code]


CLI = python_c("import sys; from sora_async.cli import main; sys.exit(main(sys.argv[1:]))")
"""``sora-async`` (extra arguments follow, as ``sys.argv[1:]``) in a process of its own."""
