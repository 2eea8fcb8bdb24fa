"""``-v``: the SDK's log on stderr, one line per HTTP attempt, the key never in it.

The client logs a DEBUG record on the ``sora_async`` logger for every HTTP attempt, with the extra
fields ``method``, ``path``, ``status``, ``attempt`` and ``duration`` (seconds); this handler prints
it as ``HTTP POST /sora/v1/videos 200 attempt 1 12.3 ms``. Other records (retries, warnings) keep
their message. Every line passes the UI's redaction, a last line of defence behind the SDK's own.
Without ``-v`` a null handler takes the SDK's warnings, which would only repeat the one error line.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from .console import UI

__all__ = ["AttemptFormatter", "sdk_logging"]

ATTEMPT_FIELDS = ("method", "path", "status", "attempt", "duration")


class AttemptFormatter(logging.Formatter):
    """One line per HTTP attempt from the client's structured record; plain lines for the rest."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        if not all(name in fields for name in ATTEMPT_FIELDS):
            return super().format(record)
        duration = fields["duration"]
        took = f"{duration * 1000:.1f} ms" if isinstance(duration, (int, float)) else str(duration)
        status = fields["status"]
        if status is None:  # never answered, or never sent (cancelled waiting for its rate token)
            status = "no answer" if fields.get("sent", True) else "not sent"
        line = f"HTTP {fields['method']} {fields['path']} {status} attempt {fields['attempt']} {took}"
        return f"{self.formatTime(record)} {record.levelname} {record.name}: {line}"


class _RedactFilter(logging.Filter):
    def __init__(self, ui: UI) -> None:
        super().__init__()
        self._ui = ui

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._ui.redact(record.getMessage()), None
        for name in ("path", "method"):
            value = record.__dict__.get(name)
            if isinstance(value, str):
                record.__dict__[name] = self._ui.redact(value)
        return True


@contextlib.contextmanager
def sdk_logging(*, verbose: bool, ui: UI) -> Iterator[None]:
    """Route the ``sora_async`` logger for this run: to stderr with -v, else nowhere."""
    logger = logging.getLogger("sora_async")
    handler: logging.Handler = logging.StreamHandler(ui.err) if verbose else logging.NullHandler()
    handler.setFormatter(AttemptFormatter())
    handler.addFilter(_RedactFilter(ui))
    saved_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
