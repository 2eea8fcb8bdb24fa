"""A FastAPI app that creates Sora videos: one SoraClient for the whole process, opened in the lifespan.

    pip install fastapi uvicorn
    uvicorn examples.fastapi_app:app --port 8080
    curl -X POST localhost:8080/videos -H 'content-type: application/json' \\
         -d '{"prompt": "a fox in snow", "size": "1280x720"}'
    curl localhost:8080/videos/TASK_ID

The relay comes from $SORA_BASE_URL and the key from $SORA_API_KEY, read when the app starts.

What it shows:

* The client is opened in the app's ``lifespan`` (inside the running event loop, once) and closed when
  the server shuts down; handlers get it through a dependency. Never create one client per request:
  its connection pool, rate limiter and concurrency gate are meant to be shared.
* sora_async's exceptions become HTTP answers in one place (``exception_handler``), so the endpoints
  stay about the happy path: a bad field is the caller's 422, an ambiguous create a 502 that carries
  the idempotency key, a relay that keeps failing our 502 or 503.
* An ``Idempotency-Key`` header from the caller is passed on to the relay, and the create is shielded
  from cancellation, as in the aiohttp example: a request already on its way to the relay is never
  abandoned half-way.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import sora_async as sa


class CreateVideo(BaseModel):
    """The POST body: a few of the API's fields (sa.VideoRequest checks them all again)."""

    prompt: str
    size: str | None = None
    duration: int | None = None


class Video(BaseModel):
    task_id: str
    status: str
    progress: float | None = None
    fail_reason: str | None = None
    video_urls: list[str] = []


def get_client(request: Request) -> sa.SoraClient:
    """The dependency that hands the app's one client to a handler."""
    client: sa.SoraClient = request.app.state.sora
    return client


Client = Annotated[sa.SoraClient, Depends(get_client)]


def create_app(*, base_url: str | None = None, api_key: str | None = None) -> FastAPI:
    """The app; the client is only created when it starts (None: from the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with sa.SoraClient(api_key, base_url=base_url) as client:
            app.state.sora = client
            yield
        # Leaving the `async with` cancels unfinished submissions and closes the connections.

    app = FastAPI(title="videos", lifespan=lifespan)

    @app.post("/videos", status_code=202)
    async def create_video(
        body: CreateVideo,
        client: Client,
        idempotency_key: Annotated[str | None, Header()] = None,  # the Idempotency-Key header
    ) -> dict[str, str]:
        video = sa.VideoRequest(prompt=body.prompt, size=body.size, duration=body.duration)
        # submit() runs the create as a task the client owns; shield() keeps it going if this handler is
        # cancelled. `await client.create_video(video)` is the same minus that protection.
        task_id = await asyncio.shield(client.submit(video, idempotency_key=idempotency_key))
        return {"task_id": task_id}

    @app.get("/videos/{task_id}")
    async def get_video(task_id: str, client: Client) -> Video:
        task = await client.get_task(task_id)
        return Video(
            task_id=task.task_id,
            status=task.status.value,
            progress=task.progress,
            fail_reason=task.fail_reason or None,
            video_urls=list(task.video_urls),
        )

    @app.exception_handler(sa.SoraError)
    async def sora_error(request: Request, exc: Exception) -> JSONResponse:
        """One place that turns the SDK's exceptions into answers for our own callers."""
        status = 502  # by default: the relay failed us, after the client's own retries
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if isinstance(exc, sa.ValidationError):  # the caller sent a field the relay would refuse
            status, extra = 422, {"field": exc.field}
        elif isinstance(exc, sa.NotFoundError):
            status = 404
        elif isinstance(exc, sa.ConfigurationError):  # no key or URL: our deployment is broken
            status = 500
        elif isinstance(exc, sa.AmbiguousSubmissionError):  # the task may exist: say under which key
            extra = {"idempotency_key": exc.idempotency_key}
        elif isinstance(exc, sa.RateLimitError):  # still limited after the client's own retries
            status = 503
            if exc.retry_after:
                headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        body = {"error": type(exc).__name__, "message": str(exc), **extra}
        return JSONResponse(body, status_code=status, headers=headers)

    return app


app = create_app()
"""For ``uvicorn examples.fastapi_app:app``."""


def main() -> None:
    import uvicorn

    uvicorn.run(app, port=8080)


if __name__ == "__main__":
    main()
