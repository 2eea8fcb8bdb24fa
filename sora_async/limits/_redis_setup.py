"""Building a ``RedisRateLimiter``: the optional import, its options, and where it points (no password).

redis-py is an optional extra, imported only when a limiter is built, so ``import sora_async`` works
without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["INSTALL_HINT", "check_options", "import_redis", "resolve_target"]

INSTALL_HINT = "pip install 'sora-async[redis]'"


def import_redis() -> tuple[type[Exception], ...]:
    """Import redis-py (an optional extra) and return the errors that mean "Redis is unreachable"."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError as exc:
        raise ConfigurationError(f"RedisRateLimiter needs redis-py: {INSTALL_HINT}") from exc
    return (RedisConnectionError, RedisTimeoutError)


def check_options(key: object, fallback: object, expected_fleet_size: object, jitter: object) -> None:
    if not isinstance(key, str) or not key:
        raise ValidationError("key", "must be a non-empty string", key)
    if fallback not in (None, "local"):
        raise ValidationError("fallback", "must be None or 'local'", fallback)
    if expected_fleet_size is not None and (
        isinstance(expected_fleet_size, bool)
        or not isinstance(expected_fleet_size, int)
        or expected_fleet_size < 1
    ):
        raise ValidationError("expected_fleet_size", "must be an integer >= 1 or None", expected_fleet_size)
    if fallback == "local" and expected_fleet_size is None:
        raise ValidationError(
            "expected_fleet_size", "is required with fallback='local' (the local share is rate / N)", None
        )
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < math.inf:
        raise ValidationError("jitter", "must be a number of seconds >= 0", jitter)


def resolve_target(url_or_client: object) -> tuple[str, Redis | None, str]:
    """(URL, given client, printable address) from the first argument; the address has no password."""
    from redis.asyncio import Redis

    if isinstance(url_or_client, Redis):
        return "", url_or_client, _client_address(url_or_client)
    if isinstance(url_or_client, str):
        return url_or_client, None, _url_address(url_or_client)
    raise ValidationError(
        "url_or_client",
        "must be a redis:// URL or a redis.asyncio.Redis client",
        type(url_or_client).__name__,
    )


def _url_address(url: str) -> str:
    """host:port (or the socket path) of a Redis URL; a malformed URL is reported without its text."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if parts.path:
            return parts.path
    elif parts.scheme in ("redis", "rediss"):
        try:
            port = parts.port or 6379
        except ValueError:
            port = None
        if parts.hostname and port is not None:
            return f"{_bracket(parts.hostname)}:{port}"
    # The URL may carry a password: say what is wrong without echoing it.
    raise ValidationError(
        "url_or_client",
        "must be a URL like redis://[:password@]host[:port][/db], rediss://... or unix:///path",
        "<url>",
    )


def _client_address(client: Redis) -> str:
    kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{_bracket(str(kwargs.get('host', 'localhost')))}:{kwargs.get('port', 6379)}"


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
