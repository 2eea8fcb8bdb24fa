"""JSON on the hot path: every create encodes a body and every answer is decoded.

With ``json.dumps`` / ``json.loads`` those two cost about 6 us of each request's CPU, most of it in
Python-level wrappers around C code. Encoding goes through orjson (a dependency, chosen for this:
a tenth of the cost), which writes compact UTF-8 JSON of the same values (a float may be spelt
otherwise: ``0.00001`` for ``1e-05``); whatever it refuses (an integer past 64 bits, say) is written
by ``json`` instead. Decoding stays the standard library's, to keep
its exact answers (orjson would read an integer past 64 bits as a float): its C scanner is called
directly, without the wrappers, and ``json.loads`` has the last word on anything out of the
ordinary (trailing whitespace, errors), so nothing is read differently from ``json.loads``.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this is for platforms without it
    orjson = None  # type: ignore[assignment]

__all__ = ["dumps", "loads_utf8"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Built once: ``json.dumps`` with options would build a new encoder on every call."""

_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # there since Python 2.6
"""The standard library's scanner (C in CPython): one JSON value from a position in a string."""


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII as is).

    >>> dumps({"prompt": "un renard", "width": 480})
    b'{"prompt":"un renard","width":480}'
    """
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError is one: json decides, with its own error
            pass
    return _ENCODER.encode(value).encode()


def loads_utf8(raw: bytes) -> Any:
    """The JSON value in UTF-8 ``raw``, exactly as ``json.loads`` reads it, and its errors
    (``ValueError``, ``RecursionError``).

    >>> loads_utf8(b'{"code": "success", "data": "task_1"}')
    {'code': 'success', 'data': 'task_1'}
    """
    text = raw.decode()
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:  # no value where the text starts (whitespace): json.loads says why
        return json.loads(text)
    if end != len(text):  # whitespace after the value, or something that is not: json.loads decides
        return json.loads(text)
    return value
