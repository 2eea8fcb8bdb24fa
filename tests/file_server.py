"""A plain file server on 127.0.0.1 for download tests: a CDN on an origin of its own.

Each path answers with a handler a test sets up (a file with ranges, a redirect, a stream of a
large body, a body that stalls, an error), and every request's path and headers are recorded, so a
test can check what a server was sent, the ``Authorization`` header above all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from sora_async.mock._content import parse_range

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


class FileServer:
    """``async with FileServer() as cdn: cdn.route("/v.mp4", serve(body)); cdn.url("/v.mp4")``."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._routes: dict[str, Handler] = {}
        self._runner: web.AppRunner | None = None
        self.origin = ""

    def route(self, path: str, handler: Handler) -> str:
        """Answer ``path`` with ``handler``; returns its full URL."""
        self._routes[path] = handler
        return self.url(path)

    def url(self, path: str) -> str:
        return self.origin + path

    def seen_at(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.path, dict(request.headers)))
        handler = self._routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such file")
        return await handler(request)

    async def __aenter__(self) -> FileServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.origin = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def serve(body: bytes, *, ranges: bool = True, content_type: str = "video/mp4") -> Handler:
    """The file ``body``, with single ``Range`` requests honoured unless ``ranges`` is False."""

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": content_type}
        span = parse_range(request.headers.get("Range", ""), len(body)) if ranges else None
        if span is False:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        if isinstance(span, tuple):
            first, last = span
            headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
            return web.Response(status=206, body=body[first : last + 1], headers=headers)
        return web.Response(body=body, headers=headers)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


def answer(status: int, text: str = "", content_type: str = "text/plain") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=text, content_type=content_type)

    return handler


def in_turn(*handlers: Handler) -> Handler:
    """The first request gets the first handler's answer, and so on; the last one answers the rest."""
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        return await handlers[min(calls, len(handlers)) - 1](request)

    return handler


def stream_blocks(block: bytes, count: int) -> Handler:
    """``count`` copies of ``block`` with their whole Content-Length, written one block at a time."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(block) * count)})
        response.content_type = "video/mp4"
        await response.prepare(request)
        for _ in range(count):
            await response.write(block)
        await response.write_eof()
        return response

    return handler


def stall_after(head: bytes, size: int, release: asyncio.Event) -> Handler:
    """Promise ``size`` bytes, send ``head``, then send nothing until ``release`` is set."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(size)})
        await response.prepare(request)
        await response.write(head)
        await release.wait()
        return response

    return handler
