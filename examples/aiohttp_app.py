"""An aiohttp web app that creates Sora videos: one SoraClient for the whole process.

    python examples/aiohttp_app.py --port 8080
    curl -X POST localhost:8080/videos -H 'content-type: application/json' \\
         -d '{"prompt": "a fox in snow", "size": "1280x720"}'
    curl localhost:8080/videos/TASK_ID

The relay comes from $SORA_BASE_URL and the key from $SORA_API_KEY (or --base-url and --api-key).

What it shows:

* The client is created when the app starts and closed when it stops (``cleanup_ctx``), never per
  request: its connection pool, rate limiter and concurrency gate are meant to be shared. Creating it
  inside the running loop, at startup, is also what aiohttp sessions require.
* Errors map to HTTP answers that tell the caller what to do: a bad field is their 422, a relay that
  keeps failing is our 502/503, an ambiguous create is a 502 that carries the idempotency key.
* An ``Idempotency-Key`` header from the caller is passed on to the relay, so a caller who retries a
  POST after a timeout gets the same task back from a relay that honours keys, not a second one.
* The create is shielded from cancellation: if the caller hangs up (or a timeout cancels the
  handler), the request already on its way to the relay still finishes in the background instead of
  being abandoned half-way, which could leave a task that nobody knows about.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

import sora_async as sa


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to reach the relay; None means "from the environment"."""

    base_url: str | None = None
    api_key: str | None = None
    max_concurrency: int = 32


SETTINGS = web.AppKey("sora_settings", Settings)
CLIENT = web.AppKey("sora_client", sa.SoraClient)


async def sora_client_context(app: web.Application) -> AsyncIterator[None]:
    """Runs at startup up to ``yield`` and at shutdown after it: one client for the app's life."""
    settings = app[SETTINGS]
    async with sa.SoraClient(
        settings.api_key,  # None: $SORA_API_KEY
        base_url=settings.base_url,  # None: $SORA_BASE_URL
        max_concurrency=settings.max_concurrency,
    ) as client:
        app[CLIENT] = client
        yield
    # Leaving the `async with` cancels unfinished submissions and closes the connections.


def error_response(status: int, error: BaseException, **extra: Any) -> web.Response:
    body = {"error": type(error).__name__, "message": str(error), **extra}
    return web.json_response(body, status=status)


async def create_video(request: web.Request) -> web.Response:
    """POST /videos with a JSON body of request fields -> 202 {"task_id": ...}."""
    client = request.app[CLIENT]
    try:
        body = await request.json()
    except ValueError as exc:
        return error_response(400, exc)
    try:
        video = sa.VideoRequest.from_dict(body)  # checks every field before anything is sent
    except sa.ValidationError as exc:  # names the field, what is allowed and what came
        return error_response(422, exc, field=exc.field)
    key = request.headers.get("Idempotency-Key")  # in a real app, namespace it per user
    try:
        # submit() starts the create as a task the client owns; shield() keeps it going if this handler
        # is cancelled. `await client.create_video(video)` is the same minus that protection.
        task_id = await asyncio.shield(client.submit(video, idempotency_key=key))
    except sa.AmbiguousSubmissionError as exc:
        return error_response(502, exc, idempotency_key=exc.idempotency_key)
    except sa.RateLimitError as exc:  # still rate-limited after the client's own retries
        response = error_response(503, exc)
        if exc.retry_after:
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response
    except sa.APIError as exc:  # the relay failed (after retries), or could not be reached
        return error_response(502, exc)
    return web.json_response({"task_id": task_id}, status=202)


async def get_video(request: web.Request) -> web.Response:
    """GET /videos/{task_id} -> the task's status, progress and video URLs."""
    client = request.app[CLIENT]
    try:
        task = await client.get_task(request.match_info["task_id"])
    except sa.ValidationError as exc:  # not even a well-formed task id
        return error_response(400, exc)
    except sa.NotFoundError as exc:
        return error_response(404, exc)
    except sa.APIError as exc:
        return error_response(502, exc)
    return web.json_response(
        {
            "task_id": task.task_id,
            "status": task.status.value,
            "progress": task.progress,
            "fail_reason": task.fail_reason or None,
            "video_urls": list(task.video_urls),
        }
    )


def create_app(
    *, base_url: str | None = None, api_key: str | None = None, max_concurrency: int = 32
) -> web.Application:
    """The app; the client itself is only created when the app starts."""
    app = web.Application()
    app[SETTINGS] = Settings(base_url=base_url, api_key=api_key, max_concurrency=max_concurrency)
    app.cleanup_ctx.append(sora_client_context)
    app.router.add_post("/videos", create_video)
    app.router.add_get("/videos/{task_id}", get_video)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An aiohttp app that creates Sora videos.")
    parser.add_argument("--base-url", help="the relay (default: $SORA_BASE_URL)")
    parser.add_argument("--api-key", help="the API key (default: $SORA_API_KEY)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    web.run_app(create_app(base_url=args.base_url, api_key=args.api_key), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
