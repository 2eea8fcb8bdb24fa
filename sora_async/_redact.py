"""Keeping the API key out of everything we show: the one place that blanks secrets out of text.

A relay may echo the request back (the whole key, or a truncated excerpt that holds only part of
it), so blanking the exact key is not enough: any run of ``MIN_RUN`` or more of its characters is
blanked too. Keys shorter than ``MIN_SECRET`` are not blanked at all: hiding a one-letter test key
would mangle every word that has the letter.

    >>> r = Redactor("sk-live-0123456789abcdef")
    >>> r("echo: Bearer sk-live-0123456789abcdef")
    'echo: Bearer ***'
    >>> r("excerpt: ...456789abcd")  # a truncated copy still holds 10 of the key's characters
    'excerpt: ...***'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "MIN_RUN", "MIN_SECRET", "Redactor", "safe_headers", "scrub_exception"]

MIN_SECRET = 8
"""Secrets shorter than this are not blanked (they would match ordinary words)."""
MIN_RUN = 8
"""Any run of this many consecutive characters of a secret is blanked."""
MASK = "***"


class Redactor:
    """Blanks one or more secrets, and any run of ``MIN_RUN`` of their characters, out of text.

    Cheap when nothing matches: one ``in`` test per secret fragment on short texts, and a single
    precompiled regular expression over the text otherwise.
    """

    __slots__ = ("_fragments", "_pattern")

    def __init__(self, *secrets: str | None) -> None:
        keep = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET]
        self._fragments = frozenset(s[i : i + MIN_RUN] for s in keep for i in range(len(s) - MIN_RUN + 1))
        self._pattern = _pattern_for(keep) if keep else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        """``text`` with every secret and every long-enough run of one blanked out."""
        if self._pattern is None or not text or not self._holds_fragment(text):
            return text
        return self._pattern.sub(MASK, text)

    def _holds_fragment(self, text: str) -> bool:
        if len(text) < MIN_RUN:
            return False
        fragments = self._fragments
        return any(text[i : i + MIN_RUN] in fragments for i in range(len(text) - MIN_RUN + 1))

    def value(self, value: Any) -> Any:
        """Strings redacted; bytes, tuples, lists and mappings redacted inside; anything else as is."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, bytes):
            return self(value.decode("utf-8", "replace")).encode() if self._holds_bytes(value) else value
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        return value

    def _holds_bytes(self, value: bytes) -> bool:
        return self._holds_fragment(value.decode("utf-8", "replace"))


def _pattern_for(secrets: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any substring of ``MIN_RUN``+ characters of a secret.

    Every substring of length >= MIN_RUN starts with one of the secret's MIN_RUN-grams; the pattern
    lists, for each start, the longest run from there, shortening one character at a time, so the
    match is always the longest run present.
    """
    alternatives: set[str] = set()
    for secret in secrets:
        for start in range(len(secret) - MIN_RUN + 1):
            for end in range(len(secret), start + MIN_RUN - 1, -1):
                alternatives.add(secret[start:end])
    ordered = sorted(alternatives, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) for a in ordered))


_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})


def safe_headers(headers: Mapping[str, str], redact: Redactor) -> dict[str, str]:
    """Headers fit to keep in an exception: credentials and cookies dropped, the rest redacted."""
    return {k: redact(v) for k, v in headers.items() if k.lower() not in _SENSITIVE_HEADERS}


def scrub_exception(exc: BaseException, redact: Redactor, *, depth: int = 8) -> BaseException:
    """Blank secrets out of an exception we did not build, and out of its chained causes, in place.

    Third-party exceptions carry what they saw: aiohttp's keep the request's headers (with the
    ``Authorization`` header) in ``request_info``, a header-validation ``ValueError`` quotes the
    header value, and a custom transport's own exception may keep the ``TransportRequest`` or a copy
    of its headers under any name. Their ``args`` and attributes are redacted, a level or two deep:
    text blanked, headers (in a mapping, or in an object's ``headers``) stripped of credentials and
    redacted, exceptions kept in attributes scrubbed too.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and depth > 0 and id(current) not in seen:
        seen.add(id(current))
        depth -= 1
        _scrub_one(current, redact, depth)
        current = current.__cause__ or current.__context__
    return exc


def _scrub_one(exc: BaseException, redact: Redactor, depth: int) -> None:
    try:
        exc.args = tuple(redact.value(a) for a in exc.args)
        attributes = vars(exc)
    except (AttributeError, TypeError):  # pragma: no cover - an exception type without a __dict__
        return
    if "history" in attributes:
        attributes["history"] = ()
    for name, value in list(attributes.items()):
        if isinstance(value, BaseException):
            if depth > 0 and value is not exc:
                scrub_exception(value, redact, depth=depth)
        else:
            attributes[name] = _scrubbed(value, redact, _LEVELS)


_LEVELS = 3
"""How deep into an exception's attributes secrets are looked for (containers inside containers)."""


def _scrubbed(value: Any, redact: Redactor, levels: int) -> Any:
    """``value`` with secrets blanked: text, headers (credentials dropped), containers of them."""
    if isinstance(value, (str, bytes)):
        return redact.value(value)
    if levels <= 0:
        return value
    headers = getattr(value, "headers", None)
    if isinstance(headers, Mapping) and hasattr(value, "_replace"):  # aiohttp's RequestInfo, ours
        return value._replace(headers=_frozen_headers(safe_headers(headers, redact)))
    if isinstance(value, Mapping):
        return {
            k: _scrubbed(v, redact, levels - 1)
            for k, v in value.items()
            if not (isinstance(k, str) and k.lower() in _SENSITIVE_HEADERS)
        }
    if isinstance(value, (list, tuple)) and not hasattr(value, "_replace"):
        return type(value)(_scrubbed(v, redact, levels - 1) for v in value)
    return value


def _frozen_headers(headers: Mapping[str, str]) -> Any:
    from multidict import CIMultiDict, CIMultiDictProxy  # aiohttp's own header type

    return CIMultiDictProxy(CIMultiDict(headers))
