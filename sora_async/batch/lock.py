"""One run per journal: an exclusive ``flock`` on ``JOURNAL.lock``, naming its holder.

Two runs appending to one journal would both send the lines neither had finished, and pay for them
twice. The lock is taken before the journal is read and held until the results are written. The
kernel drops it when the process ends, however it ends (SIGKILL included), so a crashed run never
leaves a stale lock; the file itself stays (removing it would let two runs lock different files).
Its content, the holder's pid, host and start time, is only there to say who holds it.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
from pathlib import Path

from .options import BatchInputError

__all__ = ["BatchLockedError", "JournalLock"]


class BatchLockedError(BatchInputError):
    """Another run holds the journal; nothing was sent by this one."""


class JournalLock:
    """The held lock; ``release()`` it (the kernel does, too, when the process ends)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, journal: Path) -> JournalLock:
        """Lock ``journal`` for this process, or raise ``BatchLockedError`` naming the holder."""
        path = journal.with_name(journal.name + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise BatchLockedError(
                f"journal {str(journal)!r} is in use by another run ({holder}); nothing was sent"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        stamp = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(stamp) + "\n").encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote: ``pid 123 on host h since ...``."""
    try:
        stamp = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(stamp['pid'])} on host {stamp['host']} since {stamp['since']}"
    except (ValueError, KeyError, TypeError, OSError):
        return "a process that has not said who it is yet"
