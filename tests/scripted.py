"""A real aiohttp server on 127.0.0.1 whose answers are scripted request by request.

Tests queue ``Reply`` objects; each incoming request takes the next one (or a plain success when the
queue is empty) and is recorded with its headers and body, so a test can check exactly what the
client sent on every attempt.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
from aiohttp import web


@attrs.define(kw_only=True)
class Reply:
    """One scripted answer. ``drop`` closes the connection instead: "before" or "after" reading the body."""

    status: int = 200
    json_body: Any = None
    text: str | None = None
    raw: bytes | None = None  # sent as it is (a compressed body, say), with ``headers``
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    drop: str | None = None


@attrs.define
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = attrs.field(factory=lambda: asyncio.get_running_loop().time())


class ScriptedServer:
    """The server; ``url`` is its base URL once started."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._arrival = asyncio.Event()  # set at each request's arrival, for wait_for_creates

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def wait_for_creates(self, count: int, limit: float = 5.0) -> None:
        """Until ``count`` creates have arrived (``limit`` seconds at most: a loaded machine is slow)."""

        async def arrived() -> None:
            while len(self.creates) < count:
                self._arrival.clear()
                await self._arrival.wait()

        await asyncio.wait_for(arrived(), limit)

    @property
    def creates(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        reply = self.replies.pop(0) if self.replies else Reply()
        if reply.drop == "before":
            self.seen.append(Seen(request.method, request.path, dict(request.headers), b""))
            self._arrival.set()
            _drop(request)
            return web.Response()
        body = await request.read()
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        self._arrival.set()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop == "after":
            _drop(request)
            return web.Response()
        if reply.raw is not None:
            return web.Response(status=reply.status, body=reply.raw, headers=reply.headers)
        if reply.text is not None:
            return web.Response(status=reply.status, text=reply.text, headers=reply.headers)
        payload = reply.json_body if reply.json_body is not None else self._default_payload(request)
        return web.Response(status=reply.status, body=json.dumps(payload), headers=reply.headers)

    def _default_payload(self, request: web.Request) -> dict[str, Any]:
        if request.method == "POST":
            return {"code": "success", "message": "", "data": f"task_{next(self._ids):04d}"}
        task_id = request.match_info.get("task_id", "")
        return {"code": "success", "message": "", "data": {"task_id": task_id, "status": "SUCCESS"}}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sora/v1/videos", self._handle)
        app.router.add_get("/sora/v1/videos/{task_id}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _drop(request: web.Request) -> None:
    """Abort the connection so the client sees it reset, with no HTTP answer."""
    transport = request.transport
    assert transport is not None
    transport.abort()


async def running_server() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def envelope(code: str, message: str = "", data: Any = None) -> dict[str, Any]:
    """The relay's ``{"code", "message", "data"}`` envelope."""
    return {"code": code, "message": message, "data": data}
