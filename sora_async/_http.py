"""One HTTP exchange with the relay: send, read, and turn the answer into data or an exception.

This is the only place that knows what relays send back: the ``{"code", "message", "data"}``
envelope, OpenAI-style ``{"error": {...}}`` bodies, HTML pages from CDNs, empty bodies and broken
JSON. Everything above it sees either the envelope's ``data`` or an ``APIError`` that says whether
the request may have reached the server (``request_sent``), which is what decides if a retry is safe.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import time
from collections.abc import Mapping
from datetime import timezone
from typing import Any

import aiohttp
import yarl

from ._error_table import kind_of
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
)

__all__ = ["parse_response", "parse_retry_after", "send"]

_SUCCESS = "success"

# aiohttp >= 3.10 tells a connect timeout (nothing sent) from a read timeout (maybe sent).
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    cls for cls in (getattr(aiohttp, "ConnectionTimeoutError", None),) if cls is not None
)


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    secret: str | None = None,
) -> Any:
    """Make one request and return the envelope's ``data``; raise an ``APIError`` on any failure.

    ``secret`` (the API key) is blanked out of any error built from the answer, in case a relay
    echoes it back.
    """
    try:
        async with session.request(method, url, data=body, headers=headers) as response:
            raw = await response.read()
            return parse_response(response.status, response.headers, raw, secret=secret)
    except _CONNECT_TIMEOUT as exc:
        raise APITimeoutError(f"timed out connecting to {_origin(url)}", request_sent=False) from exc
    except aiohttp.ClientConnectorError as exc:
        raise APIConnectionError(
            f"could not connect to {_origin(url)}: {exc.os_error}", request_sent=False
        ) from exc
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise APITimeoutError(f"timed out waiting for {_origin(url)} to answer", request_sent=True) from exc
    except aiohttp.ClientError as exc:
        detail = str(exc) or type(exc).__name__
        raise APIConnectionError(f"connection to {_origin(url)} failed: {detail}", request_sent=True) from exc


def parse_response(status: int, headers: Mapping[str, str], raw: bytes, *, secret: str | None = None) -> Any:
    """Turn a status, headers and body into the envelope's ``data`` or the right exception."""
    if status == 200 and raw[:1] == b"{":  # the fast path: one parse, no decode, no copies
        try:
            payload = json.loads(raw)
        except ValueError:
            pass
        else:
            if payload.__class__ is dict and payload.get("code") == _SUCCESS:
                return payload.get("data")
    text = raw.decode("utf-8", errors="replace")
    payload = _json_or_none(text)
    if 200 <= status < 300:
        if isinstance(payload, dict):
            code = payload.get("code")
            error = payload.get("error")
            if code == _SUCCESS or (code is None and not error and "data" in payload):
                return payload.get("data")
            if code is not None or error:
                raise _status_error(status, headers, text, payload, secret)
        raise APIResponseValidationError(
            f"HTTP {status} with a body that is not the JSON envelope: {_describe(_redact(text, secret))}",
            status_code=status,
            body=_redact(text, secret),
        )
    raise _status_error(status, headers, text, payload, secret)


def _status_error(
    status: int, headers: Mapping[str, str], text: str, payload: Any, secret: str | None = None
) -> APIStatusError:
    code, message = _code_and_message(payload, text)
    kind = kind_of(status, code, creates=True)
    return kind.cls(
        status_code=status,
        code=code,
        message=_redact(message, secret),
        request_id=_header(headers, "x-request-id") or _header(headers, "request-id"),
        body=_redact(text, secret),
        retry_after=parse_retry_after(headers),
        headers={k: v for k, v in headers.items() if k.lower() != "set-cookie"},
        verdict=kind.verdict(creates=True),
        affects_all_requests=kind.affects_all,
    )


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


def _json_or_none(text: str) -> Any:
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


MIN_SECRET = 8
"""Shorter keys are not blanked: hiding a one-letter test key would mangle every word that has it."""


def _redact(text: str, secret: str | None) -> str:
    """Blank the API key out of text that came back from the relay (some echo the request)."""
    return text.replace(secret, "***") if secret and len(secret) >= MIN_SECRET and secret in text else text


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _origin(url: str) -> str:
    """Scheme, host and port only: never a path or query that might carry something private."""
    parsed = yarl.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.explicit_port}" if parsed.explicit_port else "")
