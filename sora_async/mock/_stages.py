"""The stages of a request that may answer it on their own: auth, model routing, rate limit,
saturation and injected faults, each as the relay family of the configured profile words it.

Each returns None when the request may go on, else the answer (and counts it in the stats); the
server (`_server`) runs them in the order the module docstring there lists.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from ._faults import DROPS, FaultKind, drop_connection
from ._profiles import SATURATED_MESSAGE, envelope, openai_error
from ._ratelimit import wait_hint
from ._state import RelayState
from ._validate import CreateSpec

__all__ = [
    "bearer_token",
    "inject",
    "is_authorized",
    "rate_limited",
    "saturated",
    "unauthorized",
    "unrouted",
]


def bearer_token(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None; it also names the rate-limit bucket.

    Args:
        request: The incoming request.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def is_authorized(state: RelayState, token: str | None) -> bool:
    """Any caller passes when no key is configured; else the bearer token must match (constant time).

    Args:
        state: The relay's state (its configured key).
        token: The request's bearer token, or None.
    """
    expected = state.config.api_key
    if expected is None:
        return True
    return token is not None and hmac.compare_digest(token.encode(), expected.encode())


def unauthorized(state: RelayState) -> web.Response:
    """401 that never echoes what the client sent: the key must not leak into logs or tests.

    Args:
        state: The relay's state (its profile's error shape, its counters).
    """
    state.stats.unauthorized += 1
    if state.shapes.spec.openai_errors:
        return openai_error(401, "invalid token")
    return envelope(401, "invalid_api_key", "missing or invalid API key")


def unrouted(state: RelayState, spec: CreateSpec) -> web.Response | None:
    """new-api's distributor: a create needs a model some channel serves (when `models` is set).

    Args:
        state: The relay's state (the served models).
        spec: The parsed create request.
    """
    models = state.config.models
    if models is None or not state.shapes.spec.openai_errors:
        return None
    if spec.model is None:
        return openai_error(400, "model name required")
    if spec.model not in models:
        state.stats.model_not_found += 1
        message = f"no available channel for model {spec.model} under group default"
        return openai_error(503, message, "model_not_found")
    return None


def rate_limited(state: RelayState, token: str | None, now: float) -> web.Response | None:
    """None when the request may proceed (a token was spent), else the 429 with the exact wait.

    Args:
        state: The relay's state (its limiter and wait-hint mode).
        token: The request's bearer token: each token has its own bucket.
        now: The arrival time (`time.monotonic()`).
    """
    if state.limiter is None:
        return None
    wait = state.limiter.acquire(token or "", now)
    if not wait:
        return None
    state.stats.rate_limited += 1
    hint = wait_hint(state.config.retry_after, wait)
    body = state.shapes.limit_body
    message = f"rate limit exceeded, retry in {wait:.3f} s"
    if body == "openai":
        return openai_error(429, message, headers=hint)
    if body == "empty":
        return web.Response(status=429, headers=hint)
    return envelope(429, "rate_limit_exceeded", message, headers=hint)


def saturated(state: RelayState) -> web.Response | None:
    """The relay's answer when every channel's upstream refused: 429 with no hint of when to return.

    Args:
        state: The relay's state (the saturation fraction and its random stream).
    """
    fraction = state.config.saturation
    if not fraction or state.saturation_rng.random() >= fraction:
        return None
    state.stats.saturated += 1
    return envelope(429, "fail_to_fetch_task", SATURATED_MESSAGE)


def inject(
    state: RelayState, fault: FaultKind, request: web.Request, *, failure_code: str
) -> web.StreamResponse:
    """Answer with the injected fault, and count it.

    Args:
        state: The relay's state (its profile's error shape, its counters).
        fault: The fault drawn for this request.
        request: The request, whose connection a drop closes.
        failure_code: The relay code of a 500 (new-api's differs for creates and queries).
    """
    state.stats.faults[fault] += 1
    if fault in DROPS:
        return drop_connection(request)
    if fault == "fail_503":
        if state.shapes.spec.openai_errors:
            return envelope(503, "fail_to_fetch_task", "upstream is busy, try again later")
        return envelope(503, "upstream_busy", "upstream is busy, try again later")
    return envelope(500, failure_code, "simulated relay failure")
