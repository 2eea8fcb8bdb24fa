"""`MockRelay`, the in-process Sora-compatible server, and `run_mock_server`, its blocking CLI entry.

A create request goes through the same stages as on a real relay, in this order, each answering on its
own when it refuses: auth (401) → body validation (400) → rate limit (429, no token spent) → injected
latency and faults (503 / dropped connection before creation) → creation, idempotent by key → faults
after creation (500 / dropped connection) → 200 with the task id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import math
import random
import time
from email.utils import formatdate
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from ._config import MockConfig, RetryAfterMode
from ._faults import BEFORE_CREATION, DROPS, FaultKind, FaultPicker, drop_connection
from ._ratelimit import GcraLimiter
from ._stats import RelayStats
from ._tasks import FAIL_REASON_PROMPT, FAIL_REASON_RANDOM, TaskRecord, TaskStore, describe_task
from ._validate import CreateSpec, InvalidRequest, parse_create

_SHUTDOWN_GRACE = 0.5
"""Seconds `stop()` lets in-flight handlers finish: a mock should stop fast, even mid-latency."""

_FAKE_VIDEO = b"\x00\x00\x00\x18ftypmp42 not a real video, served by the sora_async mock relay\n"


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
        self._tasks = TaskStore(random.Random(None if seed is None else f"{seed}:ids"))
        self._limiter = _make_limiter(self._config)
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
        """Change knobs of a running relay (e.g. end an outage); the RNG streams and tasks carry on."""
        old = self._config
        self._config = attrs.evolve(old, **changes)
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
        app.router.add_post("/sora/v1/videos", self._create)
        app.router.add_get("/sora/v1/videos/{task_id}", self._query)
        app.router.add_get("/videos/{name}", self._video)
        return app

    # ----------------------------------------------------------------------------------- handlers

    async def _create(self, request: web.Request) -> web.StreamResponse:
        """POST /sora/v1/videos, through the stages listed in the module docstring."""
        self._stats.create_requests += 1
        token = _bearer_token(request)
        if not self._authorized(token):
            return self._unauthorized()
        try:
            spec = parse_create(await request.read())
        except InvalidRequest as exc:
            self._stats.invalid += 1
            return _envelope(400, "invalid_request", str(exc))
        arrived = time.monotonic()
        refusal = self._rate_limit(token, arrived)
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
        return _envelope(200, "success", "", task_id)

    async def _query(self, request: web.Request) -> web.StreamResponse:
        """GET /sora/v1/videos/{task_id}: free of rate limit and faults unless configured otherwise."""
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
        return self._describe(request)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        """GET /videos/{name}: a placeholder body so that result URLs are not dead links."""
        return web.Response(body=_FAKE_VIDEO, content_type="video/mp4")

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
        return _envelope(401, "invalid_api_key", "missing or invalid API key")

    def _rate_limit(self, token: str | None, now: float) -> web.Response | None:
        """None when the request may proceed (a token was spent), else the 429 with the exact wait."""
        if self._limiter is None:
            return None
        wait = self._limiter.acquire(token or "", now)
        if not wait:
            return None
        self._stats.rate_limited += 1
        hint = _wait_hint(self._config.retry_after, wait)
        return _envelope(
            429, "rate_limit_exceeded", f"rate limit exceeded, retry in {wait:.3f} s", headers=hint
        )

    def _inject(self, fault: FaultKind, request: web.Request, *, failure_code: str) -> web.StreamResponse:
        """Answer with the injected fault, and count it."""
        self._stats.faults[fault] += 1
        if fault in DROPS:
            return drop_connection(request)
        if fault == "fail_503":
            return _envelope(503, "upstream_busy", "upstream is busy, try again later")
        return _envelope(500, failure_code, "simulated relay failure")

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
            self._tasks.add(
                task_id, TaskRecord(time.monotonic(), spec.width, spec.height, spec.n_variants, outcome)
            )
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

    def _describe(self, request: web.Request) -> web.Response:
        """200 with the task's current state, or 400 `task_not_exist`."""
        task_id = request.match_info["task_id"]
        record = self._tasks.get(task_id)
        if record is None:
            return _envelope(400, "task_not_exist", f"task {task_id!r} does not exist")
        view = describe_task(
            task_id,
            record,
            now=time.monotonic(),
            queue_time=self._config.queue_time,
            run_time=self._config.run_time,
            unix_offset=self._unix_offset,
            video_origin=f"{request.scheme}://{request.host}",
        )
        return _envelope(200, "success", "", view)


def _make_limiter(config: MockConfig) -> GcraLimiter | None:
    return None if config.rate is None else GcraLimiter(config.rate, config.burst)


def _envelope(
    status: int, code: str, message: str, data: object = None, *, headers: dict[str, str] | None = None
) -> web.Response:
    """The relays' answer shape, `{"code", "message", "data"}`, for success and error alike."""
    return web.json_response({"code": code, "message": message, "data": data}, status=status, headers=headers)


def _bearer_token(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None; it also names the rate-limit bucket."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _wait_hint(mode: RetryAfterMode, wait: float) -> dict[str, str]:
    """The 429's wait header; every form is rounded up, so obeying it is never too early."""
    if mode == "seconds":
        return {"Retry-After": str(max(1, math.ceil(wait)))}
    if mode == "ms":
        return {"retry-after-ms": str(max(1, math.ceil(wait * 1000)))}
    if mode == "date":
        return {"Retry-After": formatdate(math.ceil(time.time() + wait), usegmt=True)}
    return {}


def run_mock_server(config: MockConfig, *, port: int, host: str = "127.0.0.1") -> None:
    """Serve a mock relay until Ctrl-C, after printing one line with its URL (the CLI's `mock` command)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(config, host=host, port=port))


async def _serve_forever(config: MockConfig, *, host: str, port: int) -> None:
    async with MockRelay(config, host=host, port=port) as relay:
        print(f"mock Sora relay serving at {relay.url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
