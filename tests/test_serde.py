"""Unit tests of the wire format: the seed example as a golden body, omissions, JSON bytes, round trips."""

from __future__ import annotations

import copy
import enum
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sora_async import (
    Action,
    GenerationType,
    InpaintItem,
    InpaintType,
    Model,
    Operation,
    SDEdit,
    Size,
    Style,
    TaskStatus,
    ValidationError,
    VideoRequest,
    VideoTask,
)
from sora_async._serde import converter, dumps_request, request_from_wire, request_to_wire, task_from_wire
from tests.seed_example import SEED_EXAMPLE

# The only places the wire format may hold a None: the API types these as explicit nulls.
NULLABLE_PATHS = {
    "inpaint_items[].preset_id",
    "inpaint_items[].generation_id",
    "sdedit.source_upload_media_id",
}


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (path, leaf) for every leaf of a wire value, list indexes written as ``[]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, f"{path}[]")
    else:
        yield path, value


# --- the golden body --------------------------------------------------------------------------------


def test_seed_example_round_trips_exactly() -> None:
    """The seed's example body reads into a request and writes back identical, nulls included."""
    body = copy.deepcopy(SEED_EXAMPLE)
    wire = request_to_wire(request_from_wire(body))
    assert wire == SEED_EXAMPLE
    assert body == SEED_EXAMPLE  # reading did not modify the input


def test_seed_example_reads_into_the_expected_request() -> None:
    """Each field of the seed example lands in the right model field with the right type."""
    request = request_from_wire(SEED_EXAMPLE)
    assert request == VideoRequest(
        prompt="string",
        size=Size.LANDSCAPE_720P,
        duration=5,
        n_variants=1,
        type=GenerationType.VIDEO_GEN,
        style=Style.NATURAL,
        model=Model.TURBO,
        operation=Operation.SIMPLE_COMPOSE,
        actions=[Action(time=0, description="string")],
        inpaint_items=[
            InpaintItem(
                type=InpaintType.IMAGE,
                url="string",
                frame_index=0,
                upload_media_id="string",
                source_start_frame=0,
                source_end_frame=0,
            )
        ],
        sdedit=SDEdit(amount=1, source_generation_id="string", source_upload_media_id="string"),
    )


def test_seed_example_keeps_the_explicit_nulls() -> None:
    """preset_id and generation_id go out as explicit nulls, source_upload_media_id as given."""
    wire = request_to_wire(request_from_wire(SEED_EXAMPLE))
    item = wire["inpaint_items"][0]
    assert "preset_id" in item
    assert item["preset_id"] is None
    assert "generation_id" in item
    assert item["generation_id"] is None
    assert wire["sdedit"]["source_upload_media_id"] == "string"


def test_seed_example_serialises_to_the_same_json() -> None:
    """The bytes sent for the seed example parse back to the seed example."""
    assert json.loads(dumps_request(request_from_wire(SEED_EXAMPLE))) == SEED_EXAMPLE


# --- omission and nulls -----------------------------------------------------------------------------


def test_unset_fields_are_omitted() -> None:
    """A prompt-only request is a prompt-only body: no nulls for the fields left unset."""
    assert request_to_wire(VideoRequest(prompt="a fox")) == {"prompt": "a fox"}


def test_bare_inpaint_item_sends_only_its_explicit_nulls() -> None:
    """An inpaint item with nothing set still sends preset_id and generation_id as null."""
    wire = request_to_wire(VideoRequest(prompt="x", inpaint_items=[InpaintItem()]))
    assert wire == {"prompt": "x", "inpaint_items": [{"preset_id": None, "generation_id": None}]}


def test_set_preset_and_generation_ids_are_sent() -> None:
    """When set, the two nullable inpaint ids carry their values."""
    wire = request_to_wire(VideoRequest(inpaint_items=[InpaintItem(preset_id="p", generation_id="g")]))
    assert wire == {"inpaint_items": [{"preset_id": "p", "generation_id": "g"}]}


def test_sdedit_without_upload_media_id_sends_it_as_null() -> None:
    """``source_upload_media_id`` is required by the API, so an unset one goes out as null."""
    wire = request_to_wire(VideoRequest(sdedit=SDEdit(amount=2.5, source_generation_id="gen_1")))
    assert wire == {
        "sdedit": {"amount": 2.5, "source_generation_id": "gen_1", "source_upload_media_id": None}
    }


def test_only_the_three_nullable_fields_are_ever_null() -> None:
    """Across a request with every field given, None appears only at the three documented places."""
    request = VideoRequest(
        prompt="p",
        size="480x854",
        duration=10,
        n_variants=2,
        actions=[{"time": 1, "description": "d"}],
        inpaint_items=[{"url": "u"}, {"frame_index": 3}],
        sdedit={"amount": 8, "source_generation_id": "g"},
    )
    nulls = {path for path, value in walk(request_to_wire(request)) if value is None}
    assert nulls == NULLABLE_PATHS


def test_enums_go_out_as_plain_strings() -> None:
    """Enum fields are sent as plain ``str`` values, not enum members."""
    wire = request_to_wire(
        VideoRequest(
            prompt="x",
            type=GenerationType.VIDEO_GEN,
            style=Style.NATURAL,
            model=Model.TURBO,
            operation=Operation.REMIX,
            inpaint_items=[InpaintItem(type=InpaintType.IMAGE)],
        )
    )
    for key, expected in [
        ("type", "video_gen"),
        ("style", "natural"),
        ("model", "turbo"),
        ("operation", "remix"),
    ]:
        assert wire[key] == expected
        assert type(wire[key]) is str
    assert type(wire["inpaint_items"][0]["type"]) is str


def test_task_status_unstructures_to_a_plain_string() -> None:
    """The converter also writes TaskStatus as its plain value."""
    value = converter.unstructure(TaskStatus.IN_PROGRESS)
    assert value == "IN_PROGRESS"
    assert type(value) is str


def test_tuples_go_out_as_lists() -> None:
    """Nested sequences are JSON arrays (lists), not tuples."""
    wire = request_to_wire(VideoRequest(prompt="x", actions=[Action(time=1, description="d")]))
    assert type(wire["actions"]) is list
    assert type(wire["actions"][0]) is dict


# --- bytes ------------------------------------------------------------------------------------------


def test_dumps_request_is_compact_utf8_json() -> None:
    """The body is compact JSON, UTF-8 encoded, with non-ASCII text kept as is (not \\u-escaped)."""
    prompt = "雪中的狐狸, a fox in snow — «neige» 🦊"
    data = dumps_request(VideoRequest(prompt=prompt, size="480x480"))
    assert isinstance(data, bytes)
    assert data == '{"prompt":"雪中的狐狸, a fox in snow — «neige» 🦊","width":480,"height":480}'.encode()
    assert b"\\u" not in data
    assert json.loads(data.decode("utf-8")) == {"prompt": prompt, "width": 480, "height": 480}


def test_dumps_request_has_no_whitespace_between_tokens() -> None:
    """No spaces after separators: the body is as small as JSON allows."""
    data = dumps_request(request_from_wire(SEED_EXAMPLE))
    assert b", " not in data
    assert b": " not in data
    assert b"\n" not in data


# --- reading: no coercion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prompt": "x", "width": "1280", "height": 720}, "width"),
        ({"prompt": "x", "width": 1280, "height": "720"}, "height"),
        ({"prompt": "x", "width": 1280.0, "height": 720.0}, "width"),
        ({"prompt": "x", "n_frames": "150"}, "n_frames"),
        ({"prompt": "x", "n_variants": "1"}, "n_variants"),
        ({"prompt": "x", "n_variants": True}, "n_variants"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "x", "model": ["turbo"]}, "model"),
        ({"prompt": "x", "actions": [{"time": "1", "description": "d"}]}, "actions[0].time"),
        ({"prompt": "x", "actions": [{"time": 1, "description": 7}]}, "actions[0].description"),
        ({"prompt": "x", "inpaint_items": [{"frame_index": "0"}]}, "inpaint_items[0].frame_index"),
        ({"prompt": "x", "inpaint_items": [{"url": 1}]}, "inpaint_items[0].url"),
        (
            {"sdedit": {"amount": "2", "source_generation_id": "g", "source_upload_media_id": None}},
            "sdedit.amount",
        ),
        ({"prompt": "x", "actions": {"time": 1, "description": "d"}}, "actions"),
    ],
)
def test_request_from_wire_rejects_wrong_types_without_coercing(data: dict[str, Any], field: str) -> None:
    """A wrong JSON type is a ValidationError naming the field, never silently converted."""
    with pytest.raises(ValidationError) as info:
        request_from_wire(data)
    assert info.value.field == field


@pytest.mark.parametrize("data", [[{"prompt": "x"}], "prompt", None, 42])
def test_request_from_wire_rejects_a_non_object(data: Any) -> None:
    """A JSON value that is not an object is rejected as a whole."""
    with pytest.raises(ValidationError) as info:
        request_from_wire(data)
    assert info.value.field == "request"


def test_request_from_wire_rejects_unknown_keys() -> None:
    """The wire reader rejects typos just like ``VideoRequest.from_dict``."""
    with pytest.raises(ValidationError) as info:
        request_from_wire({"prompt": "x", "n_frame": 150})
    assert info.value.field == "n_frame"


def test_converter_structures_a_video_request_through_its_validation() -> None:
    """``converter.structure`` uses the same validated path as ``request_from_wire``."""
    assert converter.structure({"prompt": "x", "size": "720x720"}, VideoRequest) == VideoRequest(
        prompt="x", width=720, height=720
    )
    with pytest.raises(ValidationError):
        converter.structure({"prompt": "x", "width": "720", "height": 720}, VideoRequest)


def test_task_from_wire_parses_a_query_answer() -> None:
    """``task_from_wire`` and ``converter.structure`` both read a task payload."""
    payload = {"task_id": "task_1", "status": "IN_PROGRESS", "progress": "30%"}
    task = task_from_wire("task_1", payload)
    assert (task.task_id, task.status, task.progress) == ("task_1", TaskStatus.IN_PROGRESS, 30.0)
    assert converter.structure(payload, VideoTask) == task
    assert task_from_wire("task_2", None).status is TaskStatus.NOT_START


# --- property: every valid request survives the wire ------------------------------------------------

ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
opt_ids = st.none() | ids
frames = st.none() | st.integers(min_value=0, max_value=10_000)


def numbers(low: float, high: float) -> st.SearchStrategy[float]:
    """Ints or finite floats in [low, high]."""
    return st.integers(min_value=int(low), max_value=int(high)) | st.floats(
        min_value=low, max_value=high, allow_nan=False, allow_infinity=False
    )


@st.composite
def inpaint_items(draw: st.DrawFn) -> InpaintItem:
    """Any valid inpaint item, ordered source range included."""
    start, end = draw(frames), draw(frames)
    if start is not None and end is not None and start > end:
        start, end = end, start
    return InpaintItem(
        type=draw(st.none() | st.just(InpaintType.IMAGE) | st.just("image")),
        url=draw(opt_ids),
        frame_index=draw(frames),
        preset_id=draw(opt_ids),
        generation_id=draw(opt_ids),
        upload_media_id=draw(opt_ids),
        source_start_frame=start,
        source_end_frame=end,
    )


sdedits = st.builds(
    SDEdit,
    amount=numbers(1, 8),
    source_generation_id=ids,
    source_upload_media_id=opt_ids,
)


def enum_field(cls: type[enum.Enum]) -> st.SearchStrategy[Any]:
    """Unset, a member, or a member's wire value."""
    members = st.sampled_from(list(cls))
    return st.none() | members | members.map(lambda m: m.value)


@st.composite
def video_requests(draw: st.DrawFn) -> VideoRequest:
    """Any valid VideoRequest: sizes, lengths and action times respect API.md's rules."""
    n_frames = draw(st.sampled_from([None, 150, 300]))
    limit = 3600 if n_frames is None else n_frames // 30
    actions = draw(
        st.none()
        | st.lists(
            st.builds(Action, time=numbers(0, limit), description=ids.filter(lambda s: bool(s.strip()))),
            max_size=3,
        )
    )
    items = draw(st.none() | st.lists(inpaint_items(), max_size=3))
    sdedit = draw(st.none() | sdedits)
    prompt = draw(st.none() | st.text(max_size=30))
    if not (prompt and prompt.strip()) and not items and sdedit is None:
        prompt = draw(ids.filter(lambda s: bool(s.strip())))
    size = draw(st.none() | st.sampled_from(list(Size)))
    return VideoRequest(
        prompt=prompt,
        width=None if size is None else size.width,
        height=None if size is None else size.height,
        n_frames=n_frames,
        n_variants=draw(st.none() | st.integers(min_value=1, max_value=64)),
        type=draw(enum_field(GenerationType)),
        style=draw(enum_field(Style)),
        model=draw(enum_field(Model)),
        operation=draw(enum_field(Operation)),
        actions=actions,
        inpaint_items=items,
        sdedit=sdedit,
    )


@settings(max_examples=150, deadline=None)
@given(video_requests())
def test_every_valid_request_round_trips_through_the_wire(video: VideoRequest) -> None:
    """to_wire then from_wire gives the same request; the wire dict is JSON and nulls only where allowed."""
    wire = request_to_wire(video)
    assert request_from_wire(wire) == video
    assert json.loads(json.dumps(wire, allow_nan=False)) == wire
    assert json.loads(dumps_request(video)) == wire
    assert {path for path, value in walk(wire) if value is None} <= NULLABLE_PATHS
