"""The client a command talks through, built from its flags after checking them in CLI words."""

from __future__ import annotations

import hashlib
import os
from types import SimpleNamespace

from .._client import SoraClient
from .._retry import RetryPolicy
from ..limits import Limiter, RateLimit
from .errors import EXIT_CONFIG, EXIT_USAGE, CliError

__all__ = ["make_client", "require_extra"]


def require_extra(module: str, *, flag: str, extra: str) -> None:
    """Refuse, before any work, a flag whose optional dependency is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise CliError(
            f"{flag} needs {module}, which is not installed",
            f"pip install 'sora-async[{extra}]', or leave out {flag}",
            EXIT_USAGE,
        )


def make_client(
    args: SimpleNamespace, *, fleet: str | None = None, fleet_size: int = 1, adaptive: bool | None = None
) -> SoraClient:
    """A client from the common flags, after checking what the SDK would refuse later, in CLI words.

    ``fleet`` is a Redis URL: the rate is then shared by every process that uses the same API key.
    """
    api_key = args.api_key or os.environ.get("SORA_API_KEY")
    base_url = args.base_url or os.environ.get("SORA_BASE_URL")
    if not api_key:
        raise CliError("no API key", "pass --api-key or set SORA_API_KEY", EXIT_CONFIG)
    if not base_url:
        raise CliError(
            "no base URL", "pass --base-url or set SORA_BASE_URL (e.g. https://relay.example)", EXIT_CONFIG
        )
    if args.burst is not None and args.rate is None:
        raise CliError("--burst has no effect without --rate", "add --rate PER_S", EXIT_USAGE)
    rate_limit: RateLimit | Limiter | None = (
        None if args.rate is None else RateLimit(args.rate, burst=args.burst or 1)
    )
    if fleet is not None:
        rate_limit = _fleet_limiter(fleet, api_key, args, fleet_size)
    return SoraClient(
        api_key,
        base_url=base_url,
        dialect=getattr(args, "dialect", "sora"),
        rate_limit=rate_limit,
        adaptive=adaptive,
        max_concurrency=args.concurrency,
        retry=RetryPolicy(
            max_attempts=args.max_attempts, retry_ambiguous=getattr(args, "retry_ambiguous", False)
        ),
        timeout=args.timeout,
        allow_insecure_http=args.allow_insecure_http,
    )


def _fleet_limiter(url: str, api_key: str, args: SimpleNamespace, fleet_size: int) -> Limiter:
    """A Redis limiter keyed by a hash of the API key: one budget per key, the key itself never stored."""
    if args.rate is None:
        raise CliError("--redis-url shares a rate, but no --rate was given", "add --rate PER_S", EXIT_USAGE)
    require_extra("redis", flag="--redis-url", extra="redis")
    from ..limits import RedisRateLimiter

    key = "sora-async:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return RedisRateLimiter(
        url, key=key, rate=args.rate, burst=args.burst or 1, fallback="local", expected_fleet_size=fleet_size
    )
