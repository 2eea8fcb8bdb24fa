"""What each relay family sends, as the mock reproduces it (docs/relays.md; read from new-api's source).

A `ProfileSpec` holds a family's routes and its own defaults; the functions below build its answers
from the seed-shaped task view of `_tasks.describe_task`:

- **sora**: the seed's envelope relays (`POST /sora/v1/videos`, `GET /sora/v1/videos/{id}`), the URLs
  in `data.generations[i].url`.
- **new-api**: `POST /v1/video/generations` answered with an OpenAI video object (`id` and `task_id`,
  as new-api's task adaptors write it), `GET /v1/video/generations/{id}` answered with an envelope
  around a `TaskDto` (upper-case statuses through SUBMITTED and QUEUED, `progress` "30%", the URL in
  `result_url`, the relay's own content route, which needs the key).
- **openai**: `POST /v1/videos` and `GET /v1/videos/{id}` answered with bare OpenAI video objects
  (lower-case statuses, `progress` an int, `error.message` on failure), the file only at
  `GET /v1/videos/{id}/content`. The new-api profile serves these routes too, as new-api does
  (`router/video-router.go`), over the same tasks.

Both new-api-based profiles answer auth errors OpenAI-style, an unknown path under `/v1` or `/api`
with a 404 `Invalid URL`, and any other unknown path with their dashboard: 200, text/html.
"""

from __future__ import annotations

from typing import Any

import attrs
from aiohttp import web

from ._config import CreateAnswer, LimitBody, MockConfig, UrlLocation

SATURATED_MESSAGE = "当前分组上游负载已饱和，请稍后再试"  # noqa: RUF001 (the relay's own text)
"""new-api's message on every task 429 (controller/relay.go): "the group's upstream is saturated"."""

DASHBOARD_HTML = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>New API</title></head>'
    b'<body><div id="root"></div><script type="module" src="/assets/index.js"></script></body></html>'
)


_OPENAI_STATUS = {
    "NOT_START": "queued",
    "SUBMITTED": "queued",
    "QUEUED": "queued",
    "IN_PROGRESS": "in_progress",
    "SUCCESS": "completed",
    "FAILURE": "failed",
}


@attrs.frozen
class ProfileSpec:
    """A family's routes, answer shapes and defaults."""

    name: str
    create_path: str
    task_path: str
    content_path: str | None
    create_answer: CreateAnswer
    url_location: UrlLocation
    limit_body: LimitBody
    queue_words: tuple[str, ...]
    openai_errors: bool
    """Auth, routing and model errors in OpenAI style (new-api's middleware), not the envelope."""
    task_answer: str = "envelope"
    """Query answers: the seed's `envelope`, new-api's `dto` (an envelope around a TaskDto), or `video`."""
    legacy_task_id: bool = False
    """A video object also carries `task_id` (new-api keeps it for old clients)."""


PROFILE_SPECS: dict[str, ProfileSpec] = {
    "sora": ProfileSpec(
        "sora", "/sora/v1/videos", "/sora/v1/videos/{task_id}", None, "envelope", "generations", "relay",
        ("NOT_START",), False,
    ),
    "new-api": ProfileSpec(
        "new-api", "/v1/video/generations", "/v1/video/generations/{task_id}", "/v1/videos/{task_id}/content",
        "video", "result_url", "openai", ("NOT_START", "SUBMITTED", "QUEUED"), True, "dto", True,
    ),
    "openai": ProfileSpec(
        "openai", "/v1/videos", "/v1/videos/{task_id}", "/v1/videos/{task_id}/content", "video", "content",
        "openai", ("NOT_START", "SUBMITTED", "QUEUED"), True, "video",
    ),
}  # fmt: skip

VIDEO_OBJECT_URL_LOCATIONS = ("content", "url", "metadata_url")
"""Where a video object can hold the URL (`url`, `metadata.url`), or nowhere (the content route)."""


@attrs.frozen
class Shapes:
    """The answer shapes in force: the profile's defaults with the config's overrides."""

    spec: ProfileSpec
    create_answer: CreateAnswer
    url_location: UrlLocation
    limit_body: LimitBody

    @classmethod
    def of(cls, config: MockConfig) -> Shapes:
        spec = PROFILE_SPECS[config.profile]
        return cls(
            spec,
            config.create_answer or spec.create_answer,
            config.url_location or spec.url_location,
            config.limit_body or spec.limit_body,
        )

    @classmethod
    def openai_routes_of(cls, config: MockConfig) -> Shapes | None:
        """The shapes of new-api's OpenAI-compatible routes (`/v1/videos`), served beside its own."""
        if config.profile != "new-api":
            return None
        spec = attrs.evolve(PROFILE_SPECS["openai"], name="new-api /v1/videos", legacy_task_id=True)
        location = config.url_location if config.url_location in VIDEO_OBJECT_URL_LOCATIONS else "content"
        return cls(spec, "video", location, config.limit_body or spec.limit_body)


# --- answers ----------------------------------------------------------------------------------------


def envelope(
    status: int, code: str, message: str, data: object = None, *, headers: dict[str, str] | None = None
) -> web.Response:
    """The task relays' shape, `{"code", "message", "data"}`, for success and error alike."""
    return web.json_response({"code": code, "message": message, "data": data}, status=status, headers=headers)


def openai_error(
    status: int,
    message: str,
    code: str = "",
    *,
    kind: str = "new_api_error",
    headers: dict[str, str] | None = None,
) -> web.Response:
    """new-api's middleware errors: `{"error": {"message", "type", "code"}}` with a request id in the text."""
    body = {"error": {"message": f"{message} (request id: mock)", "type": kind, "param": "", "code": code}}
    return web.json_response(body, status=status, headers=headers)


def create_answer(shapes: Shapes, task_id: str, *, model: str | None, created: int) -> web.Response:
    """The 200 of an accepted create, in the shape in force."""
    if shapes.create_answer == "envelope":
        return envelope(200, "success", "", task_id)
    if shapes.create_answer == "task_id":
        return web.json_response({"task_id": task_id, "status": "submitted"})
    video: dict[str, Any] = {"id": task_id, "object": "video", "model": model or "", "status": "queued"}
    video.update(progress=0, created_at=created)
    if shapes.spec.legacy_task_id:
        video["task_id"] = task_id  # new-api's adaptors keep the old field for old clients
    return web.json_response(video)


def task_answer(shapes: Shapes, view: dict[str, Any], *, content_url: str, model: str | None) -> web.Response:
    """The 200 of a task query: the seed's view reshaped for the family and the URL location in force."""
    view = _place_urls(shapes.url_location, view, content_url)
    if shapes.spec.task_answer == "video":
        return web.json_response(_video_object(view, model, shapes.url_location))
    if shapes.spec.task_answer == "dto":
        view = _task_dto(view, model)
    return envelope(200, "success", "", view)


def _place_urls(location: UrlLocation, view: dict[str, Any], content_url: str) -> dict[str, Any]:
    """Move the finished task's URLs where the family puts them; new-api's `result_url` quirks included."""
    generations = (view.get("data") or {}).get("generations") or []
    cdn = generations[0]["url"] if generations else None
    if location == "generations":
        return view
    view = dict(view)
    if view["status"] == "SUCCESS":
        view["data"] = {"id": "video_" + view["task_id"], "status": "completed"}
        if location == "data_url":
            view["data"]["url"] = cdn
        elif location == "url":
            view["url"] = cdn
        elif location == "result_url":
            view["result_url"] = content_url
        elif location == "fail_reason":
            view["fail_reason"] = cdn
        elif location == "metadata_url":
            view["metadata"] = {"url": cdn}
    elif view["status"] == "FAILURE" and location in ("result_url", "metadata_url"):
        # new-api's GetResultURL falls back to fail_reason: on a failure the "URL" is the reason text
        key = "result_url" if location == "result_url" else "metadata"
        view[key] = view["fail_reason"] if key == "result_url" else {"url": view["fail_reason"]}
    return view


def _task_dto(view: dict[str, Any], model: str | None) -> dict[str, Any]:
    """new-api's TaskDto (dto/task.go): the seed fields plus its bookkeeping fields."""
    submitted = view["submit_time"]
    dto: dict[str, Any] = {
        "id": int(submitted) % 100_000,
        "created_at": submitted,
        "updated_at": view["finish_time"] or view["start_time"] or submitted,
        "task_id": view["task_id"],
        "platform": "55",
        "user_id": 1,
        "group": "default",
        "channel_id": 1,
        "quota": 0,
    }
    dto.update(view)
    dto["properties"] = {"input": "", "origin_model_name": model or ""}
    return dto


def _video_object(view: dict[str, Any], model: str | None, location: UrlLocation) -> dict[str, Any]:
    """The OpenAI video object new-api's `GET /v1/videos/{id}` sends (dto/openai_video.go)."""
    status = _OPENAI_STATUS.get(view["status"], "queued")
    video: dict[str, Any] = {
        "id": view["task_id"],
        "object": "video",
        "model": model or "",
        "status": status,
        "progress": int(view["progress"].rstrip("%") or 0),
        "created_at": view["submit_time"],
        "completed_at": view["finish_time"] or view["start_time"] or view["submit_time"],
    }
    if status == "failed":
        video["error"] = {"message": view["fail_reason"], "code": "task_failed"}
    if location == "url" and "url" in view:
        video["url"] = view["url"]
    if location == "metadata_url" and "metadata" in view:
        video["metadata"] = view["metadata"]
    return video


def unknown_path(spec: ProfileSpec, request: web.Request) -> web.Response:
    """new-api's NoRoute: under /v1 or /api a 404 `Invalid URL`, elsewhere the dashboard, 200 text/html."""
    if spec.openai_errors and request.path.startswith(("/v1", "/api", "/assets")):
        message = f"Invalid URL ({request.method} {request.path})"
        return openai_error(404, message, kind="invalid_request_error")
    return web.Response(body=DASHBOARD_HTML, content_type="text/html", charset="utf-8")
