"""The ``sora-async`` command: create, watch and batch Sora video tasks from a shell.

    sora-async demo                                       # see it work: no key, no network
    sora-async create --prompt "a fox in snow" --size 1280x720 --duration 5 --wait
    sora-async status TASK_ID [TASK_ID...]
    sora-async wait TASK_ID [TASK_ID...]
    sora-async download TASK_ID [TASK_ID...] --dir videos/
    sora-async batch prompts.jsonl --out results.jsonl --rate 10
    sora-async mock-server --port 8000 --rate 5 --fail-503 0.1

Exit codes (stable; scripts may rely on them):

    0    success
    1    a request or task failed: a relay error, a task that ended in FAILURE, a batch whose lines
         did not all get a task id
    2    usage or input error: a bad flag, an invalid request field, an unusable input file, a
         batch journal another run holds
    3    configuration error: no API key, no base URL, a key the relay rejects, plain http to a
         remote host; a batch stops after its first such answer, and re-running it then resumes
    4    ``wait`` (or ``create --wait``) timed out; the task is still running: wait for it again
    130  interrupted (Ctrl-C); a batch's journal stays intact and re-running the command resumes it
    143  terminated (SIGTERM); as for 130, the batch's results are written and the journal intact

Errors are one line on stderr, ``error: <what went wrong>; <what to do>``; with ``--json`` stdout also
gets a JSON object with an ``error`` member (``message``, ``hint``, ``exit_code``). ``-v`` logs one
line per HTTP attempt and shows tracebacks. The API key is never printed: not in errors, logs or
``--json`` output.

The package is the command line only: one module per command, ``errors`` for the exit codes and
hints, ``console`` for the terminal. The library never imports it; it needs the ``cli`` extra
(click, rich), and ``main`` says so when it is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CliError,
)

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CliError",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code (the console script passes it to ``sys.exit``)."""
    try:
        from .app import main as run_main
    except ModuleNotFoundError as exc:
        if exc.name != "click":
            raise
        import sys

        print("error: the sora-async command needs click; pip install 'sora-async[cli]'", file=sys.stderr)
        return EXIT_CONFIG
    return run_main(argv)
