"""What an HTTP answer means: the JSON of a success, or the exception that says what went wrong.

The only place that reads error answers in all the shapes relays send: the ``{"code", "message",
"data"}`` envelope (with HTTP 200 too), OpenAI-style ``{"error": {...}}`` bodies, web pages (a CDN's,
or new-api's dashboard for a path it does not serve), redirects, empty bodies and broken JSON of any
depth. Which exception and verdict each gets comes from the one table (``_error_table``); reading a
success's shape is the dialect's job. Text kept in an exception is redacted and cut short.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from typing import Any

from ._error_table import kind_of
from ._errors import APIResponseValidationError, APIStatusError, ConfigurationError, Verdict
from ._json import loads_utf8
from ._redact import Redactor, safe_headers
from ._transport import origin_of

__all__ = ["parse_response", "parse_retry_after"]

_SUCCESS = "success"


def parse_response(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    creates: bool = True,
    secret: str | None = None,
    redact: Redactor | None = None,
    where: str | Callable[[], str] = "",
) -> Any:
    """The parsed JSON of a success answer, or the exception the answer means.

    A success is a 2xx whose JSON carries no error: the envelope with ``code: "success"``, or any
    other JSON value (an OpenAI-style object) for the dialect to read. Anything else raises: status
    errors from the one table (with the verdict for a create or a query), a web page where an API
    answer should be (``ConfigurationError``: a wrong base URL, nothing was created), a redirect
    (never followed), a body that is not JSON (``APIResponseValidationError``). ``where`` names the
    method and URL for messages.
    """
    redact = redact if redact is not None else Redactor(secret)
    if status == 200 and raw[:1] == b"{":  # the fast path: no BOM possible, so no encoding sniffing
        try:
            payload = loads_utf8(raw)
        except (ValueError, RecursionError):
            payload = _NOT_JSON
        if payload.__class__ is dict and payload.get("code") == _SUCCESS:
            return payload
    else:
        payload = _loads(raw)
    text = _text(raw)
    if 200 <= status < 300:
        if isinstance(payload, dict) and _holds_error(payload):
            raise _status_error(status, headers, text, payload, redact, creates)
        if payload is not _NOT_JSON and payload is not None:
            return payload
        if _is_html(headers, text):
            raise _wrong_route(status, where if isinstance(where, str) else where())
        raise APIResponseValidationError(
            f"HTTP {status} with a body that is not JSON: {_describe(redact(text))}",
            status_code=status,
            body=redact(text),
            verdict=Verdict.AMBIGUOUS if creates else Verdict.RETRY,
        )
    if 300 <= status < 400:
        raise _redirect_error(status, headers, where if isinstance(where, str) else where())
    raise _status_error(status, headers, text, None if payload is _NOT_JSON else payload, redact, creates)


_NOT_JSON: Any = object()


def _loads(raw: bytes) -> Any:
    """JSON from bytes, or ``_NOT_JSON``: whatever the bytes are (any depth, a BOM, not UTF-8)."""
    if not raw:
        return _NOT_JSON
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _NOT_JSON


def _text(raw: bytes) -> str:
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")


EXCERPT_BYTES = 4096
"""How much of an error body is decoded for messages and excerpts; the rest is never looked at."""


_NO_ERROR_CODES = (None, _SUCCESS, 0, "0", "")


def _holds_error(payload: dict[str, Any]) -> bool:
    """A 2xx JSON object that is an error all the same: an error code, an ``error``, ``success: false``.

    An OpenAI video object is never one: its ``error`` is the failed task's state, for the dialect.
    """
    if payload.get("object") == "video":
        return False
    if payload.get("error") or payload.get("success") is False:
        return True
    return payload.get("code") not in _NO_ERROR_CODES


def _is_html(headers: Mapping[str, str], text: str) -> bool:
    content_type = (_header(headers, "content-type") or "").lower()
    return "html" in content_type or text.lstrip()[:1] == "<"


def _wrong_route(status: int, where: str) -> ConfigurationError:
    """new-api answers an unknown path with its dashboard page and HTTP 200: nothing was created."""
    return ConfigurationError(
        f"{where or 'the relay'} answered with a web page (HTTP {status}), not an API answer: this is "
        "not an API route; check base_url (e.g. https://relay.example, without /v1) and the dialect "
        "(sora, new-api or openai). Nothing was created."
    )


def _redirect_error(status: int, headers: Mapping[str, str], where: str) -> APIStatusError:
    location = _header(headers, "location") or ""
    target = origin_of(location) if "://" in location else "another path"
    return APIStatusError(
        status_code=status,
        code="redirect",
        message=(
            f"{where or 'the relay'} redirected to {target}; redirects are not followed (a create "
            "must not be sent again elsewhere): set base_url to the address the relay moved to"
        ),
        verdict=Verdict.FATAL,
        affects_all_requests=True,
    )


def _status_error(
    status: int,
    headers: Mapping[str, str],
    text: str,
    payload: Any,
    redact: Redactor,
    creates: bool,
) -> APIStatusError:
    code, message = _code_and_message(payload, text)
    kind = kind_of(status, code, creates=creates)
    error = kind.cls(
        status_code=status,
        code=redact(code) if code else code,
        message=redact(message),
        request_id=_header(headers, "x-request-id") or _header(headers, "request-id"),
        body=redact(text),
        retry_after=parse_retry_after(headers),
        headers=safe_headers(headers, redact),
        verdict=kind.verdict(creates=creates),
        affects_all_requests=kind.affects_all,
    )
    error.saturated = kind.saturated
    error.hint = kind.hint
    return error


def _code_and_message(payload: Any, text: str) -> tuple[str | None, str]:
    """Read the error code and message from whichever body shape the relay chose."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):  # OpenAI style
            return _str(error.get("code") or error.get("type")), _str(error.get("message")) or ""
        if isinstance(error, str):
            return None, error
        return _str(payload.get("code")), _str(payload.get("message")) or ""
    return None, _describe(text)


def _describe(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "empty body"
    if stripped[:1] == "<":
        return "an HTML page (a proxy or CDN answered, not the relay)"
    return repr(stripped[:120])


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or date)."""
    millis = _finite(_header(headers, "retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = _header(headers, "retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no source zone (RFC 5322), not local time
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def _finite(value: str | None) -> float | None:
    """The header value as a finite float, or None ("inf" and "nan" are not waits)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by lower-case name, case-insensitively even for a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def _str(value: object) -> str | None:
    return None if value is None else str(value)
