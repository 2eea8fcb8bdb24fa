"""The one home of argument checks shared across the package: numbers, ids, keys, headers, URLs.

Everything that would fail at the HTTP layer is refused here, before any I/O, with a message that
names the argument, says what was expected and shows what was got, except for the API key, which is
never shown: a header value with a newline, a task id with a slash (it would reach another route),
an idempotency key of 10,000 characters, a key pasted with a trailing newline (stripped).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import yarl

from ._errors import ConfigurationError, ValidationError

__all__ = [
    "check_at_least",
    "check_fraction",
    "check_headers",
    "check_idempotency_key",
    "check_int_at_least",
    "check_non_negative",
    "check_positive",
    "check_positive_int",
    "check_seconds",
    "check_task_id",
    "checked_base_url",
    "clean_api_key",
    "field_check",
    "is_int",
    "is_number",
]

MAX_TASK_ID = 256
MAX_IDEMPOTENCY_KEY = 255
_TASK_ID = re.compile(r"[A-Za-z0-9._~:-]+")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` is no count of anything).

    Args:
        value: Any value.
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``; it may be infinite or NaN.

    Args:
        value: Any value.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- numbers: each check returns the value, or raises ValidationError naming the argument ------------
# Each takes ``(name, value, *bounds)``: ``name`` goes into the message, ``value`` is what was given.


def check_int_at_least(name: str, value: object, low: int) -> int:
    """An integer >= ``low`` (``True`` is not a number here).

    Raises:
        ValidationError: ``must be an integer >= <low>``.
    """
    if not is_int(value) or value < low:  # type: ignore[operator]
        raise ValidationError(name, f"must be an integer >= {low}", value)
    return value  # type: ignore[return-value]


def check_positive_int(name: str, value: object) -> int:
    """An integer >= 1: a count of workers, slots, bytes, tokens.

    Raises:
        ValidationError: ``must be an integer >= 1``.
    """
    return check_int_at_least(name, value, 1)


def check_at_least(name: str, value: object, low: float) -> float:
    """A number >= ``low``; infinity passes (it reads as "no limit"), NaN does not.

    Raises:
        ValidationError: ``must be a number >= <low>``.
    """
    if not is_number(value) or not value >= low:  # type: ignore[operator]
        raise ValidationError(name, f"must be a number >= {low}", value)
    return value  # type: ignore[return-value]


def check_positive(name: str, value: object) -> float:
    """A number > 0, such as a rate; infinity passes, NaN does not.

    Raises:
        ValidationError: ``must be a positive number``.
    """
    if not is_number(value) or not value > 0:  # type: ignore[operator]
        raise ValidationError(name, "must be a positive number", value)
    return value  # type: ignore[return-value]


def check_seconds(name: str, value: object) -> float:
    """A finite number of seconds > 0: a timeout that can expire.

    Raises:
        ValidationError: ``must be a positive number of seconds``.
    """
    if not is_number(value) or not 0 < value < math.inf:  # type: ignore[operator]
        raise ValidationError(name, "must be a positive number of seconds", value)
    return value  # type: ignore[return-value]


def check_non_negative(name: str, value: object) -> float:
    """A finite number >= 0.

    Raises:
        ValidationError: ``must be a number >= 0``.
    """
    if not is_number(value) or not 0 <= value < math.inf:  # type: ignore[operator]
        raise ValidationError(name, "must be a number >= 0", value)
    return value  # type: ignore[return-value]


def check_fraction(name: str, value: object) -> float:
    """A number between 0 and 1: a share of requests, a probability.

    Raises:
        ValidationError: ``must be a fraction between 0 and 1``.
    """
    if not is_number(value) or not 0 <= value <= 1:  # type: ignore[operator]
        raise ValidationError(name, "must be a fraction between 0 and 1", value)
    return value  # type: ignore[return-value]


def field_check(
    check: Callable[..., object], *bounds: Any, optional: bool = False
) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """An attrs validator running ``check`` with the field's name, so a frozen class states its rules
    in one line per field and says them in the same words as the functions above.

    ``ValidationError`` is a ``ValueError``, so classes whose callers catch ``ValueError`` use
    these validators as they are.

    Args:
        check: One of the checks above, called as ``check(field_name, value, *bounds)``.
        bounds: The check's bounds after the value (``low`` of ``check_at_least``).
        optional: Let None pass too; the message then ends in ``or None``.

    >>> @attrs.frozen
    ... class Knob:
    ...     share: float = attrs.field(validator=field_check(check_fraction))
    >>> Knob(1.5)
    Traceback (most recent call last):
    ...
    sora_async._errors.ValidationError: 'share' must be a fraction between 0 and 1 (got 1.5)
    """

    def validate(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        try:
            check(attribute.name, value, *bounds)
        except ValidationError as exc:
            if not optional:
                raise
            raise ValidationError(exc.field, f"{exc.expected} or None", exc.got) from None

    return validate


def check_task_id(task_id: object) -> str:
    """A task id that can only ever name one path segment."""
    if (
        not isinstance(task_id, str)
        or len(task_id) > MAX_TASK_ID
        or not _TASK_ID.fullmatch(task_id)
        or task_id in (".", "..")
    ):
        raise ValidationError(
            "task_id",
            f"must be a URL-safe string of 1-{MAX_TASK_ID} letters, digits, - _ . ~ : (not . or ..)",
            task_id,
        )
    return task_id


def check_idempotency_key(key: object) -> str:
    """An idempotency key a header can carry: visible ASCII, no spaces, at most 255 characters."""
    if not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY or not _VISIBLE_ASCII.fullmatch(key):
        raise ValidationError(
            "idempotency_key",
            f"must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters (no spaces or control characters)",
            key,
        )
    return key


def clean_api_key(key: object) -> str | None:
    """The key with surrounding whitespace stripped; refused, unseen, if a header cannot carry it."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise ConfigurationError(f"the API key must be a string (got a {type(key).__name__})")
    stripped = key.strip()
    if stripped and not _VISIBLE_ASCII.fullmatch(stripped):
        raise ConfigurationError(
            "the API key holds spaces, control or non-ASCII characters that no HTTP header can carry "
            "(it is not shown); copy it again"
        )
    return stripped or None


def check_callback(name: str, value: object) -> None:
    """None or something callable: a callback given by mistake as a value fails here, named,
    rather than as a raw ``TypeError`` when it is first called."""
    if value is not None and not callable(value):
        raise ValidationError(name, "must be callable (a function), or None", value)


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers: token names, values without control characters (values are not shown)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ValidationError("headers", "must be a mapping of header names to values", headers)
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValidationError("headers", "must have header names made of token characters", name)
        if not isinstance(value, str) or _HEADER_VALUE_BAD.search(value):
            raise ValidationError(
                f"headers[{name!r}]", "must be a string without control characters", "<not shown>"
            )
        checked[name] = value
    return checked


def checked_base_url(base_url: str | None, *, allow_insecure_http: bool) -> str:
    """The base URL without a trailing slash, refused with the fix when it cannot be right."""
    if not base_url:
        raise ConfigurationError(
            "no base URL: pass base_url=... or set $SORA_BASE_URL (e.g. https://relay.example)"
        )
    try:
        url = yarl.URL(base_url.strip())
    except (TypeError, ValueError):
        raise ConfigurationError(f"base URL is not a URL (got {base_url!r})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base URL must be an http(s) URL with a host (got {base_url!r})")
    if url.query_string or url.fragment or url.user or url.password:
        raise ConfigurationError(
            "base URL must not carry a query, a fragment or credentials "
            f"(got {url.with_query(None).with_fragment(None).with_user(None)!s}...); pass the key as api_key"
        )
    if url.scheme == "http" and not is_loopback(url.host) and not allow_insecure_http:
        raise ConfigurationError(
            f"refusing to send the API key over plain http to {url.host}: use https, "
            "or pass allow_insecure_http=True if you really mean it"
        )
    return str(url).rstrip("/")


def is_loopback(host: str) -> bool:
    """localhost or a loopback address: plain http stays on this machine."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False
