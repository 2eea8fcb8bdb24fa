"""`MockRelay`, the in-process Sora-compatible server (`run_mock_server` serves one from the CLI).

A create request goes through the same stages as on a real relay, in this order, each answering on its
own when it refuses: auth (401) → body validation (400) → model routing (new-api: 503
`model_not_found`) → rate limit (429, no token spent) → upstream saturation (429 `fail_to_fetch_task`)
→ injected latency and faults (503 / dropped connection before creation) → creation (idempotent by key
only when asked) → faults after creation (500 / dropped connection) → 200 with the task id.

This module holds the server's lifecycle, its routes and the handlers that run those stages; the
stages themselves are in `_stages`, what the relay remembers in `_state`, and the routes, answer
shapes and error bodies of the configured profile in `_profiles`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from ._config import MockConfig
from ._content import serve_video
from ._faults import BEFORE_CREATION
from ._profiles import Shapes, create_answer, envelope, task_answer, unknown_path
from ._stages import bearer_token, inject, is_authorized, rate_limited, saturated, unauthorized, unrouted
from ._state import RelayState
from ._stats import RelayStats
from ._validate import InvalidRequest, parse_create

_SHUTDOWN_GRACE = 0.5
"""Seconds `stop()` lets in-flight handlers finish: a mock should stop fast, even mid-latency."""


class MockRelay:
    """A Sora relay on 127.0.0.1 (by default on a free port), for tests, demos and benchmarks.

    Give it a `MockConfig`, field overrides, or both (overrides win)::

        async with MockRelay(rate=5, burst=2, fail_503=0.1, seed=1) as relay:
            relay.url                                   # "http://127.0.0.1:<port>"
            relay.stats.accepted, relay.stats.duplicates

    Tasks and idempotency keys survive `stop()` and `start()` (the port is kept), which makes a restart
    look like a relay outage to the client.

    Args:
        config: Every knob at once; default `MockConfig()`, a healthy, unlimited relay.
        host: The address to listen on; keep the loopback default unless a test needs another.
        port: The port; 0 lets the OS pick a free one (read it from `url`).
        overrides: `MockConfig` fields that replace those of `config`.

    Raises:
        TypeError: An override that is not a `MockConfig` field.
        ValueError: An override value the config refuses.
    """

    def __init__(
        self, config: MockConfig | None = None, /, *, host: str = "127.0.0.1", port: int = 0, **overrides: Any
    ) -> None:
        base = config if config is not None else MockConfig()
        self._state = RelayState(attrs.evolve(base, **overrides) if overrides else base)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"MockRelay(url={self._url!r}, config={self._state.config!r})"

    # ----------------------------------------------------------------------------------- public state

    @property
    def url(self) -> str:
        """Base URL of the running relay, e.g. "http://127.0.0.1:54321".

        Raises:
            RuntimeError: The relay is not running.
        """
        if self._url is None:
            raise RuntimeError("the mock relay is not running: use 'async with' or 'await relay.start()'")
        return self._url

    @property
    def config(self) -> MockConfig:
        """The knobs in force (a new object after each `configure`)."""
        return self._state.config

    @property
    def stats(self) -> RelayStats:
        """Counters since start or the last `reset_stats()` (a new object after each reset)."""
        return self._state.stats

    @property
    def task_count(self) -> int:
        """Tasks the relay can answer queries about."""
        return len(self._state.tasks)

    def reset_stats(self) -> None:
        """Start counting afresh; tasks, idempotency keys and rate-limit state are kept."""
        self._state.stats = RelayStats()

    def configure(self, **changes: Any) -> None:
        """Change knobs of a running relay (e.g. end an outage); the RNG streams and tasks carry on.

        The profile is fixed at construction: its routes are bound when the relay starts.

        Args:
            changes: `MockConfig` fields and their new values.

        Raises:
            TypeError: A name that is not a `MockConfig` field.
            ValueError: A value the config refuses, or a new `profile`.
        """
        self._state.reconfigure(**changes)

    # ----------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind and serve; on port 0 the OS picks a free port, which is kept for a later restart.

        Raises:
            RuntimeError: The relay is already running.
            OSError: The address cannot be bound (e.g. the port is in use).
        """
        if self._runner is not None:
            raise RuntimeError("the mock relay is already running")
        runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._url = f"http://{host}:{self._port}"

    async def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        runner, self._runner, self._url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> MockRelay:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _make_app(self) -> web.Application:
        state = self._state

        @web.middleware
        async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
            state.stats.requests += 1
            return await handler(request)

        app = web.Application(middlewares=[count_requests])
        self._add_family_routes(app, lambda: state.shapes)
        if state.openai_shapes is not None:  # new-api serves the OpenAI-compatible routes too
            self._add_family_routes(app, lambda: state.openai_shapes or state.shapes)
        spec = state.shapes.spec
        if spec.content_path is not None:
            app.router.add_get(spec.content_path, self._content)
        app.router.add_get("/videos/{name}", self._video)
        app.router.add_route("*", "/{tail:.*}", self._no_route)
        return app

    def _add_family_routes(self, app: web.Application, shapes: Callable[[], Shapes]) -> None:
        """A family's create and query routes, answering in the shapes in force when a request comes."""

        async def create(request: web.Request) -> web.StreamResponse:
            return await self._create(request, shapes())

        async def query(request: web.Request) -> web.StreamResponse:
            return await self._query(request, shapes())

        spec = shapes().spec
        app.router.add_post(spec.create_path, create)
        app.router.add_get(spec.task_path, query)

    # ----------------------------------------------------------------------------------- handlers

    async def _create(self, request: web.Request, shapes: Shapes) -> web.StreamResponse:
        """POST of a create, through the stages listed in the module docstring."""
        state = self._state
        state.stats.create_requests += 1
        token = bearer_token(request)
        if not is_authorized(state, token):
            return unauthorized(state)
        try:
            spec = parse_create(await request.read(), any_model=shapes.spec.openai_errors)
        except InvalidRequest as exc:
            state.stats.invalid += 1
            return envelope(400, "invalid_request", str(exc))
        refusal = unrouted(state, spec)
        if refusal is not None:
            return refusal
        arrived = time.monotonic()
        refusal = rate_limited(state, token, arrived) or saturated(state)
        if refusal is not None:
            return refusal
        fault, latency = state.faults.draw(state.config)
        if latency > 0:
            await asyncio.sleep(latency)
        if fault is not None and fault in BEFORE_CREATION:
            return inject(state, fault, request, failure_code="do_request_failed")
        task_id = state.create_once(spec, request.headers.get("Idempotency-Key") or None, arrived)
        if fault is not None:
            return inject(state, fault, request, failure_code="do_request_failed")
        return create_answer(shapes, task_id, model=spec.model, created=int(arrived + state.unix_offset))

    async def _query(self, request: web.Request, shapes: Shapes) -> web.StreamResponse:
        """GET of a task: free of rate limit and faults unless configured otherwise."""
        state = self._state
        state.stats.query_requests += 1
        token = bearer_token(request)
        if not is_authorized(state, token):
            return unauthorized(state)
        config = state.config
        if config.limit_queries:
            refusal = rate_limited(state, token, time.monotonic())
            if refusal is not None:
                return refusal
        if config.fault_queries:
            fault, latency = state.faults.draw(config)
            if latency > 0:
                await asyncio.sleep(latency)
            if fault is not None:
                return inject(state, fault, request, failure_code="get_task_failed")
        return self._describe(request, shapes)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        """GET /videos/{name}: the file behind a CDN-style URL, served to anyone (no key needed)."""
        stats = self._state.stats
        stats.video_requests += 1
        if "Authorization" in request.headers:
            stats.video_requests_with_key += 1
        return await serve_video(request, request.match_info["name"], self._state.config)

    async def _content(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/videos/{task_id}/content: a finished task's file, for its owner's key only."""
        state = self._state
        state.stats.content_requests += 1
        if not is_authorized(state, bearer_token(request)):
            return unauthorized(state)
        task_id = request.match_info["task_id"]
        record = state.tasks.get(task_id)
        if record is None:
            return _proxy_error(404, "Task not found")
        status = state.view(task_id, record, _origin(request))["status"]
        if status != "SUCCESS":
            return _proxy_error(400, f"Task is not completed yet, current status: {status}")
        return await serve_video(request, task_id, state.config)

    async def _no_route(self, request: web.Request) -> web.StreamResponse:
        """Any other path: new-api's NoRoute (its dashboard page with 200, or `Invalid URL` under /v1)."""
        self._state.stats.unknown_paths += 1
        return unknown_path(self._state.shapes.spec, request)

    def _describe(self, request: web.Request, shapes: Shapes) -> web.Response:
        """200 with the task's current state, or 400 `task_not_exist`."""
        state = self._state
        task_id = request.match_info["task_id"]
        record = state.tasks.get(task_id)
        if record is None:
            return envelope(400, "task_not_exist", "task_not_exist")
        origin = _origin(request)
        view = state.view(task_id, record, origin)
        content_path = state.shapes.spec.content_path or "/v1/videos/{task_id}/content"
        content_url = origin + content_path.replace("{task_id}", task_id)
        return task_answer(shapes, view, content_url=content_url, model=record.model)


def _proxy_error(status: int, message: str) -> web.Response:
    """new-api's VideoProxy errors (controller/video_proxy.go): OpenAI style, without a code."""
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=status)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
