"""Unit tests of the relay dialects: routes as data, task ids from every create shape, task answers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sora_async import TaskStatus, ValidationError, VideoTask
from sora_async._dialects import DIALECTS, Dialect, Endpoint, get_dialect, join_url

NEW_API = get_dialect("new-api")
OPENAI = get_dialect("openai")
SORA = get_dialect("sora")
ALL = [SORA, NEW_API, OPENAI]
TASK = "task_01jhjnz502ejqsm6r37km2q637abcdef"

# --- routes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "create", "get_task", "content"),
    [
        ("sora", "/sora/v1/videos", "/sora/v1/videos/{task_id}", None),
        (
            "new-api",
            "/v1/video/generations",
            "/v1/video/generations/{task_id}",
            "/v1/videos/{task_id}/content",
        ),
        ("openai", "/v1/videos", "/v1/videos/{task_id}", "/v1/videos/{task_id}/content"),
    ],
)
def test_each_family_has_its_routes(name: str, create: str, get_task: str, content: str | None) -> None:
    """The three families' routes are the ones RELAYS.md read from the relays' routers."""
    dialect = get_dialect(name)
    assert dialect.name == name
    assert (dialect.create.method, dialect.create.path) == ("POST", create)
    assert (dialect.get_task.method, dialect.get_task.path) == ("GET", get_task)
    assert (dialect.content.path if dialect.content else None) == content


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_only_create_creates_and_takes_a_rate_token(dialect: Dialect) -> None:
    """Creating is the one billed call: it alone is marked ``creates`` and paced by the limiter."""
    marked = [(e.name, e.creates, e.takes_rate_token) for e in dialect.endpoints]
    assert marked[0] == ("create", True, True)
    assert all(not creates and not paced for _, creates, paced in marked[1:])


def test_render_percent_encodes_the_task_id() -> None:
    """A task id cannot add a path segment or a query."""
    assert NEW_API.get_task.render("a/b?c") == "/v1/video/generations/a%2Fb%3Fc"


def test_render_without_a_task_id_names_the_route() -> None:
    """A route with ``{task_id}`` needs one."""
    with pytest.raises(ValidationError, match="get_task"):
        OPENAI.get_task.render()


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://r.example", "/v1/videos", "https://r.example/v1/videos"),
        ("https://r.example/", "/v1/videos", "https://r.example/v1/videos"),
        ("https://r.example/v1", "/v1/videos", "https://r.example/v1/videos"),
        ("https://r.example/v1/", "/v1/video/generations/t", "https://r.example/v1/video/generations/t"),
        ("https://r.example/sora/v1", "/sora/v1/videos", "https://r.example/sora/v1/videos"),
        ("https://r.example/sora", "/sora/v1/videos", "https://r.example/sora/v1/videos"),
        ("https://r.example/api", "/v1/videos", "https://r.example/api/v1/videos"),
        ("https://r.example/v1", "/sora/v1/videos", "https://r.example/v1/sora/v1/videos"),
        ("http://127.0.0.1:8000", "/sora/v1/videos/t", "http://127.0.0.1:8000/sora/v1/videos/t"),
    ],
)
def test_join_url_uses_a_version_path_once(base: str, path: str, url: str) -> None:
    """A base URL copied the openai-python way (ending in the route's first segments) is not doubled."""
    assert join_url(base, path) == url


def test_endpoint_url_joins_and_renders() -> None:
    """``Endpoint.url`` is the base joined with the rendered path."""
    assert OPENAI.content is not None
    assert OPENAI.content.url("https://r.example/v1", "t1") == "https://r.example/v1/videos/t1/content"


def test_with_paths_moves_routes_and_keeps_the_rest() -> None:
    """Path overrides change only the paths; the family's shapes and flags stay."""
    moved = SORA.with_paths(
        create="/api/v2/videos", get_task="/api/v2/videos/{task_id}", content="/f/{task_id}"
    )
    assert (moved.create.path, moved.create.creates, moved.create.takes_rate_token) == (
        "/api/v2/videos",
        True,
        True,
    )
    assert moved.get_task.render("t") == "/api/v2/videos/t"
    assert moved.content is not None and moved.content.render("t") == "/f/t"
    assert (moved.name, moved.status_words, moved.task_shape) == (
        SORA.name,
        SORA.status_words,
        SORA.task_shape,
    )
    assert SORA.create.path == "/sora/v1/videos"
    assert SORA.with_paths() is SORA


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"create": "v1/videos"}, "create"),
        ({"create": "/v1/videos/{task_id}"}, "create"),
        ({"get_task": "/v1/videos"}, "get_task"),
        ({"get_task": "/v1/{task_id}/{task_id}"}, "get_task"),
        ({"content": "/v1/content"}, "content"),
        ({"create": 5}, "create"),
    ],
)
def test_with_paths_rejects_bad_templates(kwargs: dict[str, Any], field: str) -> None:
    """A path must start with '/', and hold ``{task_id}`` once exactly where a task is addressed."""
    with pytest.raises(ValidationError) as info:
        NEW_API.with_paths(**kwargs)
    assert info.value.field == field


# --- choosing a dialect ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sora", "sora"),
        ("new-api", "new-api"),
        ("NEW_API", "new-api"),
        ("newapi", "new-api"),
        (" openai ", "openai"),
    ],
)
def test_get_dialect_by_name(name: str, expected: str) -> None:
    """Names are matched without regard to case, spaces or the usual spellings of new-api."""
    assert get_dialect(name) is DIALECTS[expected]


def test_get_dialect_passes_a_dialect_through() -> None:
    """A Dialect object (e.g. one with moved paths) is used as is."""
    custom = OPENAI.with_paths(create="/x/videos")
    assert get_dialect(custom) is custom


@pytest.mark.parametrize("value", ["azure", "", None, 3])
def test_unknown_dialect_lists_the_known_names(value: object) -> None:
    """An unknown name is a ValidationError that lists every known family."""
    with pytest.raises(ValidationError) as info:
        get_dialect(value)  # type: ignore[arg-type]
    assert info.value.field == "dialect"
    for name in DIALECTS:
        assert repr(name) in str(info.value)


# --- create answers -------------------------------------------------------------------------------

CREATE_ANSWERS = [
    {"code": "success", "message": "", "data": TASK},
    {"id": TASK, "task_id": TASK, "object": "video", "model": "sora-2", "status": "queued", "progress": 0},
    {"id": TASK, "object": "video", "status": "queued", "created_at": 1700000000},
    {"task_id": TASK, "status": "submitted"},
    {"code": "success", "data": {"task_id": TASK}},
    {"code": "success", "data": {"id": TASK, "object": "video"}},
    TASK,
]


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
@pytest.mark.parametrize("answer", CREATE_ANSWERS)
def test_task_id_from_every_create_shape(dialect: Dialect, answer: object) -> None:
    """Every family reads the task id of every shape: an id in an answer is never thrown away."""
    assert dialect.task_id_from_create(answer) == TASK


def test_video_object_prefers_id_and_others_prefer_task_id() -> None:
    """A video object's id is ``id``; elsewhere ``task_id`` wins (TaskDto's ``id`` is a row number)."""
    assert OPENAI.task_id_from_create({"object": "video", "id": "a", "task_id": "b"}) == "a"
    assert OPENAI.task_id_from_create({"id": "a", "task_id": "b"}) == "b"
    assert OPENAI.task_id_from_create({"id": 42}) == "42"


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {},
        {"code": "success", "data": None},
        {"code": "success", "data": ""},
        {"code": "success", "data": "two words"},
        {"id": True},
        {"id": 0},
        {"task_id": ["x"]},
        [TASK],
        True,
        42,
        "",
        "x" * 600,
    ],
)
def test_no_id_gives_none(answer: object) -> None:
    """An answer without a usable id gives None, for the request core to report."""
    assert NEW_API.task_id_from_create(answer) is None


# --- task answers ---------------------------------------------------------------------------------

TASK_DTO: dict[str, Any] = {
    "id": 17,
    "created_at": 1700000000,
    "updated_at": 1700000070,
    "task_id": TASK,
    "platform": "55",
    "user_id": 1,
    "group": "default",
    "channel_id": 3,
    "quota": 1000,
    "action": "generate",
    "status": "SUCCESS",
    "fail_reason": "",
    "result_url": "https://r.example/v1/videos/" + TASK + "/content",
    "submit_time": 1700000000,
    "start_time": 1700000005,
    "finish_time": 1700000065,
    "progress": "100%",
    "properties": {"input": "a fox", "origin_model_name": "sora-2"},
    "data": {"id": "video_upstream", "status": "completed"},
}


def test_new_api_envelope_with_task_dto() -> None:
    """new-api's query answer: an envelope around TaskDto, the URL in ``result_url``."""
    task = NEW_API.parse_task(TASK, {"code": "success", "message": "", "data": TASK_DTO})
    assert (task.task_id, task.status, task.progress) == (TASK, TaskStatus.SUCCESS, 100.0)
    assert task.video_urls == (TASK_DTO["result_url"],)
    assert task.raw["quota"] == 1000
    assert task.data == TASK_DTO["data"]


def test_older_new_api_url_in_fail_reason() -> None:
    """Older new-api: no ``result_url``, the URL in ``fail_reason``."""
    dto = {**TASK_DTO, "fail_reason": "https://cdn.example/v.mp4"}
    del dto["result_url"]
    task = NEW_API.parse_task(TASK, {"code": "success", "data": dto})
    assert (task.video_urls, task.fail_reason) == (("https://cdn.example/v.mp4",), "")


def test_openai_bare_object_with_content_route() -> None:
    """A completed video object without a URL gets the family's content route on the base URL."""
    obj = {"id": TASK, "object": "video", "status": "completed", "progress": 100}
    task = OPENAI.parse_task(TASK, obj, base_url="https://r.example/v1")
    assert task.status is TaskStatus.SUCCESS
    assert task.video_urls == (f"https://r.example/v1/videos/{TASK}/content",)
    assert OPENAI.parse_task(TASK, obj).video_urls == ()


def test_no_content_route_is_invented_for_the_seed_family() -> None:
    """The seed's relays have no content route: a SUCCESS without URLs stays without."""
    assert (
        SORA.parse_task(
            TASK, {"code": "success", "data": {"status": "SUCCESS"}}, base_url="https://r"
        ).video_urls
        == ()
    )


def test_content_route_only_for_success() -> None:
    """A running or failed task gets no content URL."""
    for status in ("in_progress", "failed", "queued"):
        assert OPENAI.parse_task(TASK, {"id": TASK, "status": status}, base_url="https://r").video_urls == ()


def test_relative_result_url_is_resolved_on_the_base() -> None:
    """new-api with no server address sends a relative ``result_url``; it is joined to the base URL."""
    dto = {"task_id": TASK, "status": "SUCCESS", "result_url": f"/v1/videos/{TASK}/content"}
    task = NEW_API.parse_task(TASK, {"code": "success", "data": dto}, base_url="https://r.example/v1")
    assert task.video_urls == (f"https://r.example/v1/videos/{TASK}/content",)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://r.example/v1", "https://cdn.example:8443/v.mp4"),
        ("http://127.0.0.1:9", "http://cdn.example:8443/v.mp4"),
    ],
)
def test_a_scheme_relative_url_names_its_own_host(base: str, expected: str) -> None:
    """``//cdn.example/v.mp4`` is another host with the relay's scheme, never a path on the relay
    (it became ``https://r.example/v1//cdn.example/...``, and the key went to the relay with it)."""
    dto = {"task_id": TASK, "status": "SUCCESS", "result_url": "//cdn.example:8443/v.mp4"}
    task = NEW_API.parse_task(TASK, {"code": "success", "data": dto}, base_url=base)
    assert task.video_urls == (expected,)


def test_realtime_simple_shape_with_url() -> None:
    """new-api's real-time fetch shape: ``{status: "succeeded", url, format}`` in the envelope."""
    data = {
        "error": None,
        "format": "mp4",
        "metadata": None,
        "status": "succeeded",
        "task_id": TASK,
        "url": "https://v/1",
    }
    task = NEW_API.parse_task(TASK, {"code": "success", "data": data})
    assert (task.status, task.video_urls) == (TaskStatus.SUCCESS, ("https://v/1",))


def test_null_data_is_not_started() -> None:
    """``{"code": "success", "data": null}`` is a task with no result yet."""
    for dialect in ALL:
        assert dialect.parse_task(TASK, {"code": "success", "data": None}).status is TaskStatus.NOT_START


def test_seed_shape_still_parses() -> None:
    """The seed's envelope with generations parses as before."""
    data = {"task_id": TASK, "status": "SUCCESS", "data": {"generations": [{"url": "https://cdn/1.mp4"}]}}
    task = SORA.parse_task("asked", {"code": "success", "message": "", "data": data})
    assert task == VideoTask.from_api("asked", data)
    assert task.video_urls == ("https://cdn/1.mp4",)


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
def test_each_family_documents_its_words(dialect: Dialect) -> None:
    """Every status word a family documents maps to a member other than UNKNOWN (bar ``unknown`` itself)."""
    for word, status in dialect.status_words.items():
        assert TaskStatus.from_word(word) is status
        assert status is not TaskStatus.UNKNOWN or word == "unknown"


def test_documented_error_codes() -> None:
    """The codes RELAYS.md lists are on the families that send them."""
    assert NEW_API.error_code("model_not_found") is not None
    assert NEW_API.error_code("model_not_found").status == 503  # type: ignore[union-attr]
    assert NEW_API.error_code("task_not_exist").status == 400  # type: ignore[union-attr]
    assert SORA.error_code("fail_to_fetch_task") is not None
    assert SORA.error_code("nope") is None


def test_dialects_are_frozen_values() -> None:
    """Dialects and endpoints are immutable and compare by value."""
    with pytest.raises(AttributeError):
        SORA.name = "x"  # type: ignore[misc]
    assert SORA.with_paths(create="/a") == SORA.with_paths(create="/a")
    assert Endpoint(name="a", method="GET", path="/a") == Endpoint(name="a", method="GET", path="/a")
    assert hash(SORA.create) == hash(SORA.with_paths(create="/sora/v1/videos").create)


# --- never raise ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
shaped = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(["success", "fail"]) | json_values,
        "data": json_values | st.just(TASK),
        "id": json_values | st.just(TASK),
        "task_id": json_values,
        "object": st.just("video") | json_values,
        "status": st.sampled_from(["SUCCESS", "completed", "failed"]) | json_values,
        "result_url": st.just("/v1/videos/x/content") | json_values,
    },
)


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
@given(payload=json_values | shaped)
@settings(max_examples=200, deadline=None)
def test_any_json_value_gives_an_id_or_none(dialect: Dialect, payload: object) -> None:
    """``task_id_from_create`` never raises: a non-empty id string or None."""
    found = dialect.task_id_from_create(payload)
    assert found is None or (isinstance(found, str) and found and " " not in found)


@pytest.mark.parametrize("dialect", ALL, ids=lambda d: d.name)
@given(
    payload=json_values | shaped, base=st.sampled_from([None, "https://r.example/v1", "http://127.0.0.1:1"])
)
@settings(max_examples=200, deadline=None)
def test_any_json_value_gives_a_task(dialect: Dialect, payload: object, base: str | None) -> None:
    """``parse_task`` never raises: always a VideoTask."""
    task = dialect.parse_task(TASK, payload, base_url=base)
    assert isinstance(task, VideoTask)
    if base is not None:
        assert all(not url.startswith("/") for url in task.video_urls)


def test_deep_answers_do_not_recurse() -> None:
    """Nesting of any depth is not walked."""
    deep: object = TASK
    for _ in range(100_000):
        deep = {"data": deep}
    for dialect in ALL:
        assert dialect.task_id_from_create(deep) is None
        assert isinstance(dialect.parse_task(TASK, deep, base_url="https://r"), VideoTask)
