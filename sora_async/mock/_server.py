"""`MockRelay`, the in-process Sora-compatible server (`run_mock_server` serves one from the CLI).

A create request goes through the same stages as on a real relay, in this order, each answering on its
own when it refuses: auth (401) → body validation (400) → model routing (new-api: 503
`model_not_found`) → rate limit (429, no token spent) → upstream saturation (429 `fail_to_fetch_task`)
→ injected latency and faults (503 / dropped connection before creation) → creation (idempotent by key
only when asked) → faults after creation (500 / dropped connection) → 200 with the task id.

The routes, answer shapes and error bodies are those of the configured profile (`_profiles`).
"""

from __future__ import annotations

import asyncio
import hmac
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from ._config import MockConfig
from ._content import serve_video
from ._faults import BEFORE_CREATION, DROPS, FaultKind, FaultPicker, drop_connection
from ._profiles import (
    SATURATED_MESSAGE,
    Shapes,
    create_answer,
    envelope,
    openai_error,
    task_answer,
    unknown_path,
)
from ._ratelimit import GcraLimiter, wait_hint
from ._stats import RelayStats
from ._tasks import FAIL_REASON_PROMPT, FAIL_REASON_RANDOM, TaskRecord, TaskStore, describe_task
from ._validate import CreateSpec, InvalidRequest, parse_create

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
    """

    def __init__(
        self, config: MockConfig | None = None, /, *, host: str = "127.0.0.1", port: int = 0, **overrides: Any
    ) -> None:
        base = config if config is not None else MockConfig()
        self._config = attrs.evolve(base, **overrides) if overrides else base
        self._host = host
        self._port = port
        seed = self._config.seed
        self._faults = FaultPicker(random.Random(seed))
        self._failure_rng = random.Random(None if seed is None else f"{seed}:failures")
        self._saturation_rng = random.Random(None if seed is None else f"{seed}:saturation")
        self._tasks = TaskStore(random.Random(None if seed is None else f"{seed}:ids"))
        self._limiter = _make_limiter(self._config)
        self._shapes = Shapes.of(self._config)
        self._openai_shapes = Shapes.openai_routes_of(self._config)
        self._first_task_by_key: dict[str, str] = {}
        self._stats = RelayStats()
        self._unix_offset = time.time() - time.monotonic()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"MockRelay(url={self._url!r}, config={self._config!r})"

    # ----------------------------------------------------------------------------------- public state

    @property
    def url(self) -> str:
        """Base URL of the running relay, e.g. "http://127.0.0.1:54321"."""
        if self._url is None:
            raise RuntimeError("the mock relay is not running: use 'async with' or 'await relay.start()'")
        return self._url

    @property
    def config(self) -> MockConfig:
        return self._config

    @property
    def stats(self) -> RelayStats:
        """Counters since start or the last `reset_stats()` (a new object after each reset)."""
        return self._stats

    @property
    def task_count(self) -> int:
        """Tasks the relay can answer queries about."""
        return len(self._tasks)

    def reset_stats(self) -> None:
        """Start counting afresh; tasks, idempotency keys and rate-limit state are kept."""
        self._stats = RelayStats()

    def configure(self, **changes: Any) -> None:
        """Change knobs of a running relay (e.g. end an outage); the RNG streams and tasks carry on.

        The profile is fixed at construction: its routes are bound when the relay starts.
        """
        old = self._config
        if changes.get("profile", old.profile) != old.profile:
            raise ValueError("'profile' cannot change on a running relay; build another MockRelay")
        self._config = attrs.evolve(old, **changes)
        self._shapes = Shapes.of(self._config)
        self._openai_shapes = Shapes.openai_routes_of(self._config)
        if (old.rate, old.burst) != (self._config.rate, self._config.burst):
            self._limiter = _make_limiter(self._config)

    # ----------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind and serve; on port 0 the OS picks a free port, which is kept for a later restart."""
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
        @web.middleware
        async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
            self._stats.requests += 1
            return await handler(request)

        app = web.Application(middlewares=[count_requests])
        self._add_family_routes(app, lambda: self._shapes)
        if self._openai_shapes is not None:  # new-api serves the OpenAI-compatible routes too
            self._add_family_routes(app, lambda: self._openai_shapes or self._shapes)
        spec = self._shapes.spec
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
        self._stats.create_requests += 1
        token = _bearer_token(request)
        if not self._authorized(token):
            return self._unauthorized()
        try:
            spec = parse_create(await request.read(), any_model=shapes.spec.openai_errors)
        except InvalidRequest as exc:
            self._stats.invalid += 1
            return envelope(400, "invalid_request", str(exc))
        unrouted = self._route_model(spec)
        if unrouted is not None:
            return unrouted
        arrived = time.monotonic()
        refusal = self._rate_limit(token, arrived) or self._saturated()
        if refusal is not None:
            return refusal
        fault, latency = self._faults.draw(self._config)
        if latency > 0:
            await asyncio.sleep(latency)
        if fault is not None and fault in BEFORE_CREATION:
            return self._inject(fault, request, failure_code="do_request_failed")
        task_id = self._create_once(spec, request.headers.get("Idempotency-Key") or None, arrived)
        if fault is not None:
            return self._inject(fault, request, failure_code="do_request_failed")
        return create_answer(shapes, task_id, model=spec.model, created=int(arrived + self._unix_offset))

    async def _query(self, request: web.Request, shapes: Shapes) -> web.StreamResponse:
        """GET of a task: free of rate limit and faults unless configured otherwise."""
        self._stats.query_requests += 1
        token = _bearer_token(request)
        if not self._authorized(token):
            return self._unauthorized()
        config = self._config
        if config.limit_queries:
            refusal = self._rate_limit(token, time.monotonic())
            if refusal is not None:
                return refusal
        if config.fault_queries:
            fault, latency = self._faults.draw(config)
            if latency > 0:
                await asyncio.sleep(latency)
            if fault is not None:
                return self._inject(fault, request, failure_code="get_task_failed")
        return self._describe(request, shapes)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        """GET /videos/{name}: the file behind a CDN-style URL, served to anyone (no key needed)."""
        self._stats.video_requests += 1
        if "Authorization" in request.headers:
            self._stats.video_requests_with_key += 1
        return await serve_video(request, request.match_info["name"], self._config)

    async def _content(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/videos/{task_id}/content: a finished task's file, for its owner's key only."""
        self._stats.content_requests += 1
        if not self._authorized(_bearer_token(request)):
            return self._unauthorized()
        task_id = request.match_info["task_id"]
        record = self._tasks.get(task_id)
        if record is None:
            return _proxy_error(404, "Task not found")
        status = self._view(task_id, record, request)["status"]
        if status != "SUCCESS":
            return _proxy_error(400, f"Task is not completed yet, current status: {status}")
        return await serve_video(request, task_id, self._config)

    async def _no_route(self, request: web.Request) -> web.StreamResponse:
        """Any other path: new-api's NoRoute (its dashboard page with 200, or `Invalid URL` under /v1)."""
        self._stats.unknown_paths += 1
        return unknown_path(self._shapes.spec, request)

    # ----------------------------------------------------------------------------------- stages

    def _authorized(self, token: str | None) -> bool:
        """Any caller passes when no key is configured; else the bearer token must match (constant time)."""
        expected = self._config.api_key
        if expected is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())

    def _unauthorized(self) -> web.Response:
        """401 that never echoes what the client sent: the key must not leak into logs or tests."""
        self._stats.unauthorized += 1
        if self._shapes.spec.openai_errors:
            return openai_error(401, "invalid token")
        return envelope(401, "invalid_api_key", "missing or invalid API key")

    def _route_model(self, spec: CreateSpec) -> web.Response | None:
        """new-api's distributor: a create needs a model some channel serves (when `models` is set)."""
        models = self._config.models
        if models is None or not self._shapes.spec.openai_errors:
            return None
        if spec.model is None:
            return openai_error(400, "model name required")
        if spec.model not in models:
            self._stats.model_not_found += 1
            message = f"no available channel for model {spec.model} under group default"
            return openai_error(503, message, "model_not_found")
        return None

    def _rate_limit(self, token: str | None, now: float) -> web.Response | None:
        """None when the request may proceed (a token was spent), else the 429 with the exact wait."""
        if self._limiter is None:
            return None
        wait = self._limiter.acquire(token or "", now)
        if not wait:
            return None
        self._stats.rate_limited += 1
        hint = wait_hint(self._config.retry_after, wait)
        body = self._shapes.limit_body
        message = f"rate limit exceeded, retry in {wait:.3f} s"
        if body == "openai":
            return openai_error(429, message, headers=hint)
        if body == "empty":
            return web.Response(status=429, headers=hint)
        return envelope(429, "rate_limit_exceeded", message, headers=hint)

    def _saturated(self) -> web.Response | None:
        """The relay's answer when every channel's upstream refused: 429 with no hint of when to return."""
        fraction = self._config.saturation
        if not fraction or self._saturation_rng.random() >= fraction:
            return None
        self._stats.saturated += 1
        return envelope(429, "fail_to_fetch_task", SATURATED_MESSAGE)

    def _inject(self, fault: FaultKind, request: web.Request, *, failure_code: str) -> web.StreamResponse:
        """Answer with the injected fault, and count it."""
        self._stats.faults[fault] += 1
        if fault in DROPS:
            return drop_connection(request)
        if fault == "fail_503":
            if self._shapes.spec.openai_errors:
                return envelope(503, "fail_to_fetch_task", "upstream is busy, try again later")
            return envelope(503, "upstream_busy", "upstream is busy, try again later")
        return envelope(500, failure_code, "simulated relay failure")

    def _create_once(self, spec: CreateSpec, key: str | None, arrived: float) -> str:
        """Create a task, or return the first task of an idempotency key seen before (when honoured)."""
        if key is not None and self._config.honour_idempotency:
            existing = self._first_task_by_key.get(key)
            if existing is not None:
                self._stats.replayed += 1
                return existing
        task_id = self._tasks.new_id()
        if self._config.record_tasks:
            outcome = self._fail_reason(spec)
            record = TaskRecord(
                time.monotonic(),
                spec.width,
                spec.height,
                spec.n_variants,
                outcome,
                model=spec.model,
                number=len(self._tasks) + 1,
            )
            self._tasks.add(task_id, record)
        if key is not None:
            self._first_task_by_key.setdefault(key, task_id)
        self._stats.record_creation(key, arrived)
        return task_id

    def _fail_reason(self, spec: CreateSpec) -> str:
        """Decide the task's outcome now, so that every later query agrees."""
        if spec.wants_failure:
            return FAIL_REASON_PROMPT
        rate = self._config.failure_rate
        if rate and self._failure_rng.random() < rate:
            return FAIL_REASON_RANDOM
        return ""

    def _describe(self, request: web.Request, shapes: Shapes) -> web.Response:
        """200 with the task's current state, or 400 `task_not_exist`."""
        task_id = request.match_info["task_id"]
        record = self._tasks.get(task_id)
        if record is None:
            return envelope(400, "task_not_exist", "task_not_exist")
        view = self._view(task_id, record, request)
        content_path = self._shapes.spec.content_path or "/v1/videos/{task_id}/content"
        content_url = _origin(request) + content_path.replace("{task_id}", task_id)
        return task_answer(shapes, view, content_url=content_url, model=record.model)

    def _view(self, task_id: str, record: TaskRecord, request: web.Request) -> dict[str, Any]:
        """The seed-shaped state of a task now, its URLs on this relay's origin."""
        return describe_task(
            task_id,
            record,
            now=time.monotonic(),
            queue_time=self._config.queue_time,
            run_time=self._config.run_time,
            unix_offset=self._unix_offset,
            video_origin=_origin(request),
            queue_words=self._shapes.spec.queue_words,
        )


def _make_limiter(config: MockConfig) -> GcraLimiter | None:
    return None if config.rate is None else GcraLimiter(config.rate, config.burst)


def _proxy_error(status: int, message: str) -> web.Response:
    """new-api's VideoProxy errors (controller/video_proxy.go): OpenAI style, without a code."""
    return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=status)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _bearer_token(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None; it also names the rate-limit bucket."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
