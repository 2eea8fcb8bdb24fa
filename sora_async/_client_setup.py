"""The choices a ``SoraClient`` makes from its arguments: its limiter, its transport, its core.

The limiter and the transport are chosen when the client is built; the request core (headers with
the key, the checked base URL) is made on the first call, inside the running loop, so that a client
built at import time or without a key yet only fails when it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version

from ._checks import checked_base_url
from ._core import RequestCore
from ._errors import ConfigurationError, ValidationError
from ._redact import Redactor
from ._transport import AiohttpTransport, Transport
from .limits import AdaptiveLimiter, Limiter, RateLimit, make_limiter

__all__ = ["USER_AGENT", "choose_limiter", "choose_transport", "open_core"]

try:
    _VERSION = version("sora-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    _VERSION = "0+unknown"

USER_AGENT = f"sora-async/{_VERSION}"


def choose_limiter(rate_limit: RateLimit | Limiter | None, adaptive: bool | None) -> Limiter:
    """Adaptive discovery by default when no rate is given; a given RateLimit is then its ceiling."""
    if adaptive is None:
        adaptive = rate_limit is None
    if not adaptive:
        return make_limiter(rate_limit)
    if rate_limit is not None and not isinstance(rate_limit, RateLimit):
        raise ValidationError(
            "adaptive", "can only be combined with a RateLimit (as its ceiling)", rate_limit
        )
    return AdaptiveLimiter(ceiling=rate_limit)


def choose_transport(transport: object, *, max_concurrency: int, connect_timeout: float) -> Transport:
    """The transport given, or an aiohttp transport with a pool of ``max_concurrency`` connections."""
    if transport is None:
        return AiohttpTransport(max_connections=max_concurrency, connect_timeout=connect_timeout)
    if not isinstance(transport, Transport):
        raise ValidationError("transport", "must be a sora_async Transport (or None)", transport)
    return transport


def open_core(
    *,
    transport: Transport,
    api_key: str | None,
    base_url: str | None,
    allow_insecure_http: bool,
    headers: Mapping[str, str],
    limiter: Limiter,
    max_concurrency: int,
    redact: Redactor,
) -> RequestCore:
    """The request core of a client, once its key and base URL are known to be usable."""
    if not api_key:
        raise ConfigurationError("no API key: pass api_key=... or set $SORA_API_KEY")
    return RequestCore(
        transport=transport,
        base_url=checked_base_url(base_url, allow_insecure_http=allow_insecure_http),
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Content-Type": "application/json",
            **headers,
            "Authorization": f"Bearer {api_key}",
        },
        limiter=limiter,
        max_concurrency=max_concurrency,
        redact=redact,
    )
