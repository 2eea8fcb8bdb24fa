"""The checks a batch makes before its first paid request: paths that cannot work are refused up front.

A results file that is the input would overwrite it; one that cannot be written would be found only
after every line was paid for. Both are cheap to find first. "The same file" is the same inode on the
same device, not the same name: ``./in.jsonl`` and a hard link or symlink to it are one file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .options import BatchInputError, BatchOptions

__all__ = ["check_input", "check_output", "same_file"]


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths are one file: the same device and inode, or, for one not there yet, the same
    resolved path."""
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def check_input(options: BatchOptions) -> None:
    """The input is a readable file, and neither the results nor the journal is it."""
    source = options.input_path
    if not source.is_file():
        raise BatchInputError(f"input file {str(source)!r} does not exist or is not a file")
    if not os.access(source, os.R_OK):
        raise BatchInputError(f"input file {str(source)!r} cannot be read (permission denied)")
    for flag, path in (("--out", options.out_path), ("--journal", options.journal)):
        if same_file(path, source):
            raise BatchInputError(
                f"{flag} {str(path)!r} is the input file: it would be overwritten; nothing was sent"
            )
    if same_file(options.out_path, options.journal):
        raise BatchInputError(f"--out and --journal are the same file {str(options.out_path)!r}")


def check_output(out: Path) -> None:
    """The results file can be written: not a directory, and its directory takes a new file."""
    if out.is_dir():
        raise BatchInputError(f"--out {str(out)!r} is a directory: name a file; nothing was sent")
    probe = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with probe.open("wb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise BatchInputError(
            f"--out {str(out)!r} cannot be written ({exc.strerror or exc}); nothing was sent"
        ) from exc
