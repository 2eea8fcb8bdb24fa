"""Relay families as data: one ``Dialect`` per family of relay software (RELAYS.md, docs/relays.md).

A dialect holds what a family sends and expects, and nothing else knows relay shapes: the routes
(``Endpoint``: name, method, path template, whether it creates a task, whether it takes a rate
token), the shapes of its create and task answers, its status words, where it puts the video URL,
and the error codes it documents. The request core asks the dialect for a path, sends, and hands the
parsed JSON of a success answer back to ``task_id_from_create`` or ``parse_task``.

Both functions are pure and read every shape any family sends, not only their own: a relay found to
answer a create with an OpenAI video object when an envelope was expected still gave a task id, and
throwing it away would leave a task paid for and lost. They never raise: an odd shape gives ``None``
or an ``UNKNOWN`` task, for the caller to report.

>>> d = get_dialect("new-api")
>>> d.create.method, d.create.path, d.get_task.render("task_1")
('POST', '/v1/video/generations', '/v1/video/generations/task_1')
>>> d.task_id_from_create({"id": "task_1", "object": "video", "status": "queued"})
'task_1'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from ._errors import ValidationError
from ._task import STATUS_WORDS, TaskStatus, VideoTask

__all__ = ["DIALECTS", "Dialect", "Endpoint", "RelayErrorCode", "get_dialect"]

_TASK_ID_FIELD = "{task_id}"
_MAX_ID_LENGTH = 512


@attrs.frozen(kw_only=True, cache_hash=True)  # the core looks its URL up by endpoint on every call
class Endpoint:
    """One route of a relay: a name the client calls it by, and how to reach it.

    ``creates`` marks the route that creates (and bills) a task: its failures may be ambiguous.
    ``takes_rate_token`` marks the routes the client-side rate limiter must pace (creates; queries
    are free on the relays).

    Args:
        name: What the client calls the route (``"create"``, ``"get_task"``, ``"content"``), in
            logs and errors.
        method: The HTTP method, upper case.
        path: The path template, absolute; ``{task_id}`` marks where a task id goes.
        creates: This route creates (and bills) a task: its requests carry an ``Idempotency-Key``
            and an unclear failure is ambiguous, not retried blind.
        takes_rate_token: Each request waits for the client's rate limiter first.

    >>> Endpoint(name="get_task", method="GET", path="/v1/videos/{task_id}").render("task 1")
    '/v1/videos/task%201'
    """

    name: str
    method: str
    path: str
    creates: bool = False
    takes_rate_token: bool = False

    def render(self, task_id: str | None = None) -> str:
        """The path with ``{task_id}`` filled in, percent-encoded so an id can never add a segment.

        Args:
            task_id: The task's id; needed when the path holds ``{task_id}``, ignored otherwise.

        Raises:
            ValidationError: The path needs a task id and none was given.
        """
        if _TASK_ID_FIELD not in self.path:
            return self.path
        if task_id is None:
            raise ValidationError("task_id", f"is needed for the route {self.name!r}", task_id)
        return self.path.replace(_TASK_ID_FIELD, quote(task_id, safe=""))

    def url(self, base_url: str, task_id: str | None = None) -> str:
        """``base_url`` joined with the path, without doubling a version path the base already ends in.

        Users copy base URLs the openai-python way (``https://relay.example/v1``); when the base's
        path ends with the start of the route's path, the overlap is used once.

        Args:
            base_url: The relay's address, with or without a trailing version path.
            task_id: The task's id, for a path that holds ``{task_id}``.

        Raises:
            ValidationError: The path needs a task id and none was given.

        >>> Endpoint(name="create", method="POST", path="/v1/videos").url("https://relay.example/v1/")
        'https://relay.example/v1/videos'
        """
        return join_url(base_url, self.render(task_id))


def _absolute(base_url: str, url: str) -> str:
    """A video URL as the relay gave it, made absolute: a path joins the relay's base (version path
    and all), a scheme-relative ``//cdn.example/v.mp4`` takes the relay's scheme (another host:
    never the relay's path), anything else is kept."""
    if url.startswith("//"):
        scheme = base_url.split(":", 1)[0] if "://" in base_url else "https"
        return f"{scheme}:{url}"
    if url.startswith("/"):
        return join_url(base_url, url)
    return url


def join_url(base_url: str, path: str) -> str:
    """Join a base URL and an absolute path, using once a run of segments that ends one and starts the other.

    >>> join_url("https://r.example/sora/v1", "/sora/v1/videos/t")
    'https://r.example/sora/v1/videos/t'
    >>> join_url("https://r.example/api", "/v1/videos")
    'https://r.example/api/v1/videos'
    """
    base = base_url.rstrip("/")
    base_path = urlsplit(base).path
    base_parts = [p for p in base_path.split("/") if p]
    path_parts = [p for p in path.split("/") if p]
    for size in range(min(len(base_parts), len(path_parts)), 0, -1):
        if base_parts[-size:] == path_parts[:size]:
            rest = "/".join(path_parts[size:])
            return f"{base}/{rest}" if rest else base
    return base + path


@attrs.frozen(kw_only=True)
class RelayErrorCode:
    """An error code a family documents: the code, the HTTP status it comes with, what it means."""

    code: str
    status: int | None
    meaning: str


def _frozen_words(words: Mapping[str, TaskStatus]) -> Mapping[str, TaskStatus]:
    return MappingProxyType(dict(words))


@attrs.frozen(kw_only=True)
class Dialect:
    """What one relay family sends: routes, answer shapes, status words, URL locations, error codes.

    The descriptive fields (``create_shapes``, ``task_shape``, ``url_locations``) are documentation
    kept next to the code that reads them; the parsing functions accept every family's shapes.

    Args:
        name: The family's name, as ``SoraClient(dialect=...)`` and ``--dialect`` take it.
        description: One line on which relay software speaks it.
        create: The route that creates a task.
        get_task: The route that queries one task.
        content: The route that streams a finished task's video, for families that have one; a
            SUCCESS without a URL is given this route's URL.
        create_shapes: The create answers the family sends (documentation).
        task_shape: The shape of a task answer (documentation).
        status_words: The family's status words (lower case) and the ``TaskStatus`` each means;
            kept read-only.
        url_locations: Where the family puts a finished video's URL (documentation).
        error_codes: The error codes the family documents, for ``error_code``.

    Choose one with ``SoraClient(dialect="new-api")``, or pass a moved copy:

    >>> moved = get_dialect("new-api").with_paths(create="/api/video/generations")
    >>> moved.name, moved.create.path
    ('new-api', '/api/video/generations')
    >>> openai = get_dialect("openai")
    >>> [(e.name, e.method) for e in openai.endpoints]
    [('create', 'POST'), ('get_task', 'GET'), ('content', 'GET')]
    >>> answer = {"id": "task_1", "object": "video", "status": "completed"}
    >>> task = openai.parse_task("task_1", answer, base_url="https://relay.example")
    >>> task.status.value, task.video_urls
    ('SUCCESS', ('https://relay.example/v1/videos/task_1/content',))
    """

    name: str
    description: str
    create: Endpoint
    get_task: Endpoint
    content: Endpoint | None = None
    create_shapes: tuple[str, ...]
    task_shape: str
    status_words: Mapping[str, TaskStatus] = attrs.field(converter=_frozen_words, eq=False, hash=False)
    url_locations: tuple[str, ...]
    error_codes: tuple[RelayErrorCode, ...] = ()

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every route of the family: create, get_task, and content where it has one."""
        routes = (self.create, self.get_task)
        return routes if self.content is None else (*routes, self.content)

    def error_code(self, code: object) -> RelayErrorCode | None:
        """The documented entry for ``code``, or None.

        Args:
            code: The ``code`` of a relay's error answer (any value; an unknown one gives None).
        """
        return next((e for e in self.error_codes if e.code == code), None)

    def with_paths(
        self, *, create: str | None = None, get_task: str | None = None, content: str | None = None
    ) -> Dialect:
        """The same family on other paths, for relays that mount it elsewhere.

        Args:
            create: The create route's path (no ``{task_id}``); None keeps the family's.
            get_task: The query route's path, holding ``{task_id}`` once; None keeps the family's.
            content: The content route's path, holding ``{task_id}`` once; None keeps the family's
                (or none, for a family without one).

        Raises:
            ValidationError: A path that does not start with ``/``, or has ``{task_id}`` the wrong
                number of times.

        >>> moved = get_dialect("sora").with_paths(create="/api/videos", get_task="/api/videos/{task_id}")
        >>> moved.create.path, moved.get_task.render("t1")
        ('/api/videos', '/api/videos/t1')
        """
        changes: dict[str, Any] = {}
        for field, path, needs_id in (("create", create, False), ("get_task", get_task, True)):
            if path is not None:
                changes[field] = attrs.evolve(getattr(self, field), path=_checked_path(field, path, needs_id))
        if content is not None:
            checked = _checked_path("content", content, True)
            base = self.content or Endpoint(name="content", method="GET", path=checked)
            changes["content"] = attrs.evolve(base, path=checked)
        return attrs.evolve(self, **changes) if changes else self

    def task_id_from_create(self, payload: object) -> str | None:
        """The task id in a 2xx create answer of any family's shape, or None when there is none.

        Reads the envelope (``{"code": "success", "data": "task_..."}``), an OpenAI video object
        (``id``), ``task_id``, an envelope whose ``data`` is such an object, and a bare JSON string.

        Args:
            payload: The parsed JSON of the answer (any value; an odd one gives None, never an error).
        """
        if isinstance(payload, str):
            return _id_text(payload)
        if not isinstance(payload, Mapping):
            return None
        inner = payload.get("data")
        found = _id_text(inner) or _object_id(payload)
        if found is None and isinstance(inner, Mapping):
            found = _object_id(inner)
        return found

    def parse_task(self, task_id: str, payload: object, *, base_url: str | None = None) -> VideoTask:
        """A ``VideoTask`` from the whole parsed JSON of a 2xx query answer: an envelope or a bare object.

        With ``base_url``, a relative video URL (``/v1/videos/{id}/content``) is made absolute, and a
        SUCCESS that names no URL gets the family's content route, when it has one.

        Args:
            task_id: The id that was queried; kept when the answer names none.
            payload: The parsed JSON of the answer (any value; an odd one gives an ``UNKNOWN`` task).
            base_url: The relay's address, to make relative video URLs absolute.
        """
        task = VideoTask.from_api(task_id, _task_object(payload))
        if base_url is None:
            return task
        urls = tuple(_absolute(base_url, u) for u in task.video_urls)
        if not urls and task.status is TaskStatus.SUCCESS and self.content is not None:
            urls = (self.content.url(base_url, task.task_id),)
        return task if urls == task.video_urls else attrs.evolve(task, video_urls=urls)


def _checked_path(field: str, path: object, needs_id: bool) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValidationError(field, "must be a path starting with '/'", path)
    if needs_id and path.count(_TASK_ID_FIELD) != 1:
        raise ValidationError(field, "must hold '{task_id}' exactly once", path)
    if not needs_id and _TASK_ID_FIELD in path:
        raise ValidationError(field, "must not hold '{task_id}'", path)
    return path


def _id_text(value: object) -> str | None:
    """A task id as relays send it: a non-empty string without spaces, or an integer."""
    if isinstance(value, str):
        text = value.strip()
        # isprintable() refuses control characters and every space but " " (one C call, the fast path)
        if text and len(text) <= _MAX_ID_LENGTH and text.isprintable() and " " not in text:
            return text
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    return None


def _object_id(obj: Mapping[Any, Any]) -> str | None:
    """The id of a task object: ``id`` first for an OpenAI video object, else ``task_id`` first."""
    keys = ("id", "task_id") if obj.get("object") == "video" else ("task_id", "id")
    for key in keys:
        found = _id_text(obj.get(key))
        if found is not None:
            return found
    return None


def _task_object(payload: object) -> object:
    """The task object of a query answer: an envelope's ``data``, or the bare object itself."""
    if isinstance(payload, Mapping) and "code" in payload and "data" in payload and "status" not in payload:
        return payload["data"]
    return payload


# --- the families -----------------------------------------------------------------------------------

_UPPER_WORDS = {w: s for w, s in STATUS_WORDS.items() if w.upper() in TaskStatus.__members__}
_OPENAI_WORDS = {w: STATUS_WORDS[w] for w in ("queued", "in_progress", "completed", "failed", "unknown")}

_TASK_ERRORS = (
    RelayErrorCode(code="invalid_request", status=400, meaning="the body was refused; nothing was created"),
    RelayErrorCode(code="task_not_exist", status=400, meaning="no such task for this user"),
    RelayErrorCode(
        code="do_request_failed", status=500, meaning="the upstream call failed; may have created"
    ),
    RelayErrorCode(code="get_task_failed", status=500, meaning="the relay could not read its task record"),
    RelayErrorCode(
        code="fail_to_fetch_task",
        status=None,
        meaning="the upstream refused, with its status; 429 = upstream saturated, no Retry-After",
    ),
)
_NEW_API_ERRORS = (
    *_TASK_ERRORS,
    RelayErrorCode(code="model_not_found", status=503, meaning="no channel serves this model: configuration"),
    RelayErrorCode(code="get_channel_failed", status=500, meaning="no channel left to retry on"),
    RelayErrorCode(code="invalid_api_platform", status=400, meaning="the channel cannot do video tasks"),
)

SORA = Dialect(
    name="sora",
    description="The seed's hosted relays: envelope answers on /sora/v1/videos (API.md).",
    create=Endpoint(
        name="create", method="POST", path="/sora/v1/videos", creates=True, takes_rate_token=True
    ),
    get_task=Endpoint(name="get_task", method="GET", path="/sora/v1/videos/{task_id}"),
    create_shapes=('{"code": "success", "message": "", "data": "task_..."}',),
    task_shape='{"code": "success", "data": {task_id, action, status, fail_reason, ..., progress, data}}',
    status_words={w: STATUS_WORDS[w] for w in ("not_start", "in_progress", "success", "failure")},
    url_locations=("data.data.generations[i].url", "data.data.url"),
    error_codes=(
        *_TASK_ERRORS,
        RelayErrorCode(code="invalid_api_key", status=401, meaning="bad or missing key"),
        RelayErrorCode(
            code="rate_limit_exceeded", status=429, meaning="per-key limit; may carry Retry-After"
        ),
    ),
)

NEW_API = Dialect(
    name="new-api",
    description="new-api (QuantumNous, once Calcium-Ion) and forks: the /v1/video/generations routes.",
    create=Endpoint(
        name="create", method="POST", path="/v1/video/generations", creates=True, takes_rate_token=True
    ),
    get_task=Endpoint(name="get_task", method="GET", path="/v1/video/generations/{task_id}"),
    content=Endpoint(name="content", method="GET", path="/v1/videos/{task_id}/content"),
    create_shapes=(
        '{"id": "task_...", "task_id": "task_...", "object": "video", "status": "queued", ...}',
        '{"code": "success", "message": "", "data": "task_..."}',
    ),
    task_shape='{"code": "success", "message": "", "data": TaskDto}',
    status_words=_UPPER_WORDS,
    url_locations=(
        "data.result_url (newer; may be the relay's own /v1/videos/{id}/content, which needs the key)",
        "data.fail_reason on SUCCESS (older versions)",
        "data.url (upstreams fetched in real time)",
        "data.data.generations[i].url",
        "data.data.url",
    ),
    error_codes=_NEW_API_ERRORS,
)

OPENAI = Dialect(
    name="openai",
    description="OpenAI-compatible video routes (new-api's /v1/videos, the OpenAI Videos API shape).",
    create=Endpoint(name="create", method="POST", path="/v1/videos", creates=True, takes_rate_token=True),
    get_task=Endpoint(name="get_task", method="GET", path="/v1/videos/{task_id}"),
    content=Endpoint(name="content", method="GET", path="/v1/videos/{task_id}/content"),
    create_shapes=(
        '{"id": "task_...", "object": "video", "model": "...", "status": "queued", "progress": 0}',
    ),
    task_shape='{"id", "object": "video", "status", "progress": int, "created_at", "completed_at", "error"}',
    status_words=_OPENAI_WORDS,
    url_locations=(
        "metadata.url (on completed)",
        "the content route GET /v1/videos/{id}/content (with the key)",
    ),
    error_codes=_NEW_API_ERRORS,
)

DIALECTS: Mapping[str, Dialect] = MappingProxyType({d.name: d for d in (SORA, NEW_API, OPENAI)})
"""The known families by name."""

_ALIASES = {"new_api": "new-api", "newapi": "new-api", "one-api": "new-api", "seed": "sora"}


def get_dialect(dialect: str | Dialect) -> Dialect:
    """The ``Dialect`` named ``dialect`` (``"sora"``, ``"new-api"``, ``"openai"``), or ``dialect`` itself.

    Args:
        dialect: A family's name (any case; ``"new_api"`` and ``"one-api"`` are understood) or a
            ``Dialect``, returned as it is.

    Raises:
        ValidationError: An unknown name, or a value that is neither a name nor a ``Dialect``.

    >>> get_dialect("openai").content.path
    '/v1/videos/{task_id}/content'
    >>> get_dialect("azure")
    Traceback (most recent call last):
    ...
    sora_async._errors.ValidationError: 'dialect' must be one of 'sora', 'new-api', 'openai' or a Dialect ...
    """
    if isinstance(dialect, Dialect):
        return dialect
    if isinstance(dialect, str):
        key = dialect.strip().lower()
        found = DIALECTS.get(_ALIASES.get(key, key))
        if found is not None:
            return found
    names = ", ".join(repr(name) for name in DIALECTS)
    raise ValidationError("dialect", f"must be one of {names} or a Dialect", dialect)
