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

import copy
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
        if len(text) > 16 * len(fragments):  # long text: one C-speed search per fragment is faster
            return any(fragment in text for fragment in fragments)
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


def safe_headers(headers: Mapping[Any, Any], redact: Redactor) -> dict[Any, Any]:
    """Headers fit to keep in an exception: credentials and cookies dropped, the rest redacted."""
    return {k: redact.value(v) for k, v in headers.items() if not _sensitive(k)}


def _sensitive(name: object) -> bool:
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and name.lower() in _SENSITIVE_HEADERS


def scrub_exception(exc: BaseException, redact: Redactor, *, depth: int = 8) -> BaseException:
    """Blank secrets out of an exception we did not build, and out of its chained causes, in place.

    Third-party exceptions carry what they saw: aiohttp's keep the request's headers (with the
    ``Authorization`` header) in ``request_info``, a header-validation ``ValueError`` quotes the
    header value, and a custom transport's own exception may keep the ``TransportRequest``, a copy
    of its headers or other exceptions under any name. Their ``args`` and attributes are redacted
    a few levels deep: text blanked, headers (a mapping, or an object's ``headers``) stripped of
    credentials, exceptions in attributes or lists scrubbed too. What cannot be scrubbed (an
    attribute that raises when read or rebuilt) is replaced by ``MASK``: this never raises, so the
    caller's real error is never replaced by a failure of the scrub.
    """
    _Scrub(redact).exception(exc, depth)
    return exc


_LEVELS = 3
"""How deep into an exception's attributes secrets are looked for (containers inside containers)."""


class _Scrub:
    """One scrub: the exceptions already seen are shared by all of it (they may point at each other)."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.seen: set[int] = set()

    def exception(self, exc: BaseException, depth: int) -> None:
        current: BaseException | None = exc
        while current is not None and depth > 0 and id(current) not in self.seen:
            self.seen.add(id(current))
            depth -= 1
            self._one(current, depth)
            current = current.__cause__ or current.__context__

    def _one(self, exc: BaseException, depth: int) -> None:
        try:
            exc.args = tuple(self.value(a, depth, _LEVELS) for a in exc.args)
        except Exception:  # fail closed
            exc.args = (MASK,)
        try:
            attributes = vars(exc)
        except TypeError:  # pragma: no cover - an exception type without a __dict__
            return
        if "history" in attributes:
            attributes["history"] = ()
        for name, value in list(attributes.items()):
            try:
                attributes[name] = self.value(value, depth, _LEVELS)
            except Exception:  # fail closed: what cannot be scrubbed is not kept
                attributes[name] = MASK

    def value(self, value: Any, depth: int, levels: int) -> Any:
        """``value`` with secrets blanked: text, headers, exceptions, and containers of them."""
        if isinstance(value, (str, bytes)):
            return self.redact.value(value)
        if isinstance(value, BaseException):
            if depth > 0:
                self.exception(value, depth)
            return value
        if levels <= 0:
            return value
        if isinstance(value, Mapping):
            return {
                self.redact.value(k): self.value(v, depth, levels - 1)
                for k, v in value.items()
                if not _sensitive(k)
            }
        headers = getattr(value, "headers", None)
        if isinstance(headers, Mapping):  # a request of some kind: ours, aiohttp's RequestInfo, yours
            return _with_headers(value, safe_headers(headers, self.redact))
        if isinstance(value, (list, tuple)):
            return self._sequence(value, depth, levels)
        return value

    def _sequence(self, value: list[Any] | tuple[Any, ...], depth: int, levels: int) -> Any:
        """The same sequence if nothing in it changed; else rebuilt, as a plain one if its own type
        cannot be made from the items (a subclass with a constructor of its own)."""
        items = [self.value(v, depth, levels - 1) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if hasattr(value, "_make"):  # a named tuple
            try:
                return value._make(items)
            except Exception:
                pass
        return tuple(items) if isinstance(value, tuple) else items


def _with_headers(value: Any, headers: dict[Any, Any]) -> Any:
    """A copy of ``value`` with these headers: a named tuple's ``_replace``, else a shallow copy."""
    if hasattr(value, "_replace"):
        return value._replace(headers=_frozen_headers(headers))
    copied = copy.copy(value)
    copied.headers = headers
    return copied


def _frozen_headers(headers: Mapping[str, str]) -> Any:
    from multidict import CIMultiDict, CIMultiDictProxy  # aiohttp's own header type

    return CIMultiDictProxy(CIMultiDict(headers))
