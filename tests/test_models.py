"""Unit tests of the request and answer models: every validation rule, both ways, and VideoTask parsing."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs
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
    SoraError,
    Style,
    TaskStatus,
    ValidationError,
    VideoRequest,
    VideoTask,
)

# The six sizes of API.md's table: (width, height, aspect, resolution).
API_SIZES = [
    (480, 480, "1:1", "480p"),
    (720, 720, "1:1", "720p"),
    (480, 854, "9:16", "480p"),
    (854, 480, "16:9", "480p"),
    (1280, 720, "16:9", "720p"),
    (720, 1280, "9:16", "720p"),
]
SIZE_LIST_TEXT = "480x480, 720x720, 480x854, 854x480, 1280x720, 720x1280"


def invalid(build: Callable[[], object], field: str, *fragments: str) -> ValidationError:
    """Call ``build``, expect a ValidationError for ``field`` whose message holds every fragment."""
    with pytest.raises(ValidationError) as info:
        build()
    exc = info.value
    assert isinstance(exc, ValueError)
    assert isinstance(exc, SoraError)
    assert exc.field == field
    text = str(exc)
    assert text.startswith(f"'{field}' ")
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    return exc


def req(**kwargs: Any) -> VideoRequest:
    """A VideoRequest with a prompt unless the test gives its own."""
    kwargs.setdefault("prompt", "a fox in snow")
    return VideoRequest(**kwargs)


def inpaint(**kwargs: Any) -> InpaintItem:
    """An InpaintItem from loosely typed keyword arguments (to feed it wrong types)."""
    return InpaintItem(**kwargs)


# --- ValidationError itself -------------------------------------------------------------------------


def test_validation_error_carries_field_expected_and_got() -> None:
    """ValidationError keeps its parts as attributes and renders them in one sentence."""
    exc = ValidationError("sdedit.amount", "must be between 1 and 8", 9)
    assert (exc.field, exc.expected, exc.got) == ("sdedit.amount", "must be between 1 and 8", 9)
    assert str(exc) == "'sdedit.amount' must be between 1 and 8 (got 9)"


def test_validation_error_shortens_a_long_got_value() -> None:
    """A huge offending value is cut in the message but kept whole on the exception."""
    value = "x" * 500
    exc = ValidationError("prompt", "must be short", value)
    assert exc.got == value
    assert len(str(exc)) < 130
    assert str(exc).endswith("...)")


# --- sizes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(w, h) for w, h, _, _ in API_SIZES])
def test_each_api_size_is_accepted(width: int, height: int) -> None:
    """The six sizes of API.md are accepted as width + height."""
    request = req(width=width, height=height)
    assert (request.width, request.height) == (width, height)
    assert request.size is Size(f"{width}x{height}")


def test_size_may_be_left_unset() -> None:
    """Neither width nor height is a valid choice (the relay picks its default)."""
    request = req()
    assert request.width is None
    assert request.height is None
    assert request.size is None


@pytest.mark.parametrize(
    ("width", "height"),
    [(1, 1), (1000, 720), (1280, 1280), (480, 720), (1920, 1080), (720, 854), (0, 0)],
)
def test_other_sizes_are_rejected(width: int, height: int) -> None:
    """A width/height pair outside the six is rejected, listing the six and the pair got."""
    invalid(
        lambda: req(width=width, height=height),
        "width/height",
        f"must together be one of {SIZE_LIST_TEXT}, or both be unset",
        f"(got '{width}x{height}')",
    )


def test_width_without_height_is_rejected() -> None:
    """Half a size is not a size."""
    invalid(lambda: req(width=1280), "width/height", "both be unset", "(got '1280xNone')")


def test_height_without_width_is_rejected() -> None:
    """The other half alone is not a size either."""
    invalid(lambda: req(height=720), "width/height", "both be unset", "(got 'Nonex720')")


@pytest.mark.parametrize("value", ["1280", 1280.0, True, False, [1280], b"1280"])
def test_width_must_be_an_int(value: object) -> None:
    """Width accepts only a real int: no str, float or bool."""
    invalid(lambda: req(width=value, height=720), "width", "must be an integer", f"(got {value!r})")


@pytest.mark.parametrize("value", ["720", 720.0, True])
def test_height_must_be_an_int(value: object) -> None:
    """Height accepts only a real int."""
    invalid(lambda: req(width=1280, height=value), "height", "must be an integer", f"(got {value!r})")


# --- n_frames, n_variants ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n_frames", "seconds"), [(150, 5), (300, 10)])
def test_n_frames_150_and_300_are_accepted(n_frames: int, seconds: int) -> None:
    """150 frames (5 s) and 300 frames (10 s) are the two lengths."""
    request = req(n_frames=n_frames)
    assert request.n_frames == n_frames
    assert request.duration == seconds


@pytest.mark.parametrize("n_frames", [0, 1, 5, 10, 149, 151, 299, 301, 600, -150])
def test_other_n_frames_are_rejected(n_frames: int) -> None:
    """Any other frame count is rejected, saying which two are allowed."""
    invalid(
        lambda: req(n_frames=n_frames), "n_frames", "must be 150 (5 s) or 300 (10 s)", f"(got {n_frames})"
    )


@pytest.mark.parametrize("value", ["150", 150.0, True])
def test_n_frames_must_be_an_int(value: object) -> None:
    """n_frames of the wrong type is a type error, not a coerced value."""
    invalid(lambda: req(n_frames=value), "n_frames", "must be an integer", f"(got {value!r})")


@pytest.mark.parametrize("n_variants", [1, 2, 4, 100])
def test_n_variants_of_one_or_more_is_accepted(n_variants: int) -> None:
    """Any positive variant count is accepted."""
    assert req(n_variants=n_variants).n_variants == n_variants


@pytest.mark.parametrize("n_variants", [0, -1, -100])
def test_n_variants_below_one_is_rejected(n_variants: int) -> None:
    """Zero or negative variants are rejected with the minimum in the message."""
    invalid(lambda: req(n_variants=n_variants), "n_variants", "must be >= 1", f"(got {n_variants})")


@pytest.mark.parametrize("value", ["2", 1.5, 2.0, True])
def test_n_variants_must_be_an_int(value: object) -> None:
    """n_variants must be an int, not a str, float or bool."""
    invalid(lambda: req(n_variants=value), "n_variants", "must be an integer", f"(got {value!r})")


def test_prompt_must_be_a_string() -> None:
    """A prompt that is not text is rejected."""
    invalid(lambda: req(prompt=42), "prompt", "must be a string", "(got 42)")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: req(prompt="a fox \ud800"), "prompt"),
        (lambda: Action(time=1, description="jump \udfff"), "description"),
        (lambda: SDEdit(amount=2, source_generation_id="gen_\ud83d"), "source_generation_id"),
        (lambda: InpaintItem(url="https://cdn.example/\udc00.png"), "url"),
    ],
)
def test_text_with_a_lone_surrogate_is_refused_where_it_is_given(
    build: Callable[[], object], field: str
) -> None:
    """A lone surrogate (a JSON \\ud800 escape decodes to one) has no UTF-8 form, so no body could
    carry it: the field that holds it is named when the request is made, not when it is sent."""
    invalid(build, field, "UTF-8", "lone surrogate")


def test_text_beyond_ascii_is_kept() -> None:
    """Any text UTF-8 can encode is kept as it is (emoji, accents, CJK, a surrogate pair's character)."""
    prompt = "un renard 🦊 dans la neige, 雪の中の狐"
    assert req(prompt=prompt).prompt == prompt


# --- enums ------------------------------------------------------------------------------------------

ENUM_FIELDS: list[tuple[str, type[Any], str]] = [
    ("type", GenerationType, "'video_gen'"),
    ("style", Style, "'natural'"),
    ("model", Model, "'turbo'"),
    ("operation", Operation, "'simple_compose', 'storyboard', 'remix', 'blend'"),
]
ENUM_MEMBERS = [(field, member) for field, cls, _ in ENUM_FIELDS for member in cls]


@pytest.mark.parametrize(("field", "member"), ENUM_MEMBERS)
def test_enum_fields_accept_the_member(field: str, member: Any) -> None:
    """An enum field accepts the enum member itself."""
    assert getattr(req(**{field: member}), field) is member


@pytest.mark.parametrize(("field", "member"), ENUM_MEMBERS)
def test_enum_fields_accept_the_wire_value(field: str, member: Any) -> None:
    """An enum field accepts the member's wire string and stores the member."""
    value = getattr(req(**{field: member.value}), field)
    assert value is member
    assert type(member.value) is str


@pytest.mark.parametrize(("field", "cls", "allowed"), ENUM_FIELDS)
@pytest.mark.parametrize("bad", ["bogus", "", "TURBO ", 1, ["turbo"]])
def test_enum_fields_reject_other_values_listing_the_allowed(
    field: str, cls: type[Any], allowed: str, bad: object
) -> None:
    """A value outside the enum is rejected, and the message lists every allowed value."""
    invalid(lambda: req(**{field: bad}), field, f"must be one of {allowed}", f"(got {bad!r})")


def test_enum_field_rejects_a_member_of_another_enum() -> None:
    """A member of a different enum is not silently accepted because both are strings."""
    invalid(lambda: req(style=Model.TURBO), "style", "must be one of 'natural'")


def test_enum_values_match_the_api() -> None:
    """The enum values are exactly those API.md lists."""
    assert [m.value for m in GenerationType] == ["video_gen"]
    assert [m.value for m in Style] == ["natural"]
    assert [m.value for m in Model] == ["turbo"]
    assert [m.value for m in Operation] == ["simple_compose", "storyboard", "remix", "blend"]
    assert [m.value for m in InpaintType] == ["image"]


# --- Action -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("time", [0, 0.0, 0.5, 3, 9.99, 10, 60, 3600.5])
def test_action_time_of_zero_or_more_is_accepted(time: float) -> None:
    """Any finite non-negative number of seconds is a valid action time."""
    assert Action(time=time, description="jump").time == time


@pytest.mark.parametrize("time", [-0.001, -1, -100.5])
def test_negative_action_time_is_rejected(time: float) -> None:
    """Action times before the start are rejected."""
    invalid(lambda: Action(time=time, description="jump"), "time", "must be >= 0", f"(got {time!r})")


@pytest.mark.parametrize("time", [True, False, "1", None, [1], math.nan, math.inf, -math.inf])
def test_action_time_must_be_a_finite_number(time: object) -> None:
    """Action time rejects bool, str, None and non-finite floats."""
    invalid(lambda: Action(time=time, description="jump"), "time", "must be a number")  # type: ignore[arg-type]


@pytest.mark.parametrize("description", ["", "   ", "\n\t", None, 5])
def test_action_description_must_be_non_empty_text(description: object) -> None:
    """An action needs a description that says something."""
    invalid(
        lambda: Action(time=1, description=description),  # type: ignore[arg-type]
        "description",
        "must be a non-empty string",
        f"(got {description!r})",
    )


@pytest.mark.parametrize(("n_frames", "limit"), [(150, 5), (300, 10)])
def test_action_at_the_end_of_the_video_is_accepted(n_frames: int, limit: int) -> None:
    """An action exactly at the last second (5 s or 10 s) is still inside the video."""
    request = req(
        n_frames=n_frames, actions=[{"time": 0, "description": "a"}, {"time": limit, "description": "b"}]
    )
    assert request.actions is not None
    assert request.actions[1].time == limit


@pytest.mark.parametrize(
    ("n_frames", "time", "seconds"), [(150, 5.01, "5"), (150, 10, "5"), (300, 10.5, "10")]
)
def test_action_after_the_end_of_the_video_is_rejected(n_frames: int, time: float, seconds: str) -> None:
    """An action past the video's length is rejected, naming the action by index."""
    invalid(
        lambda: req(
            n_frames=n_frames,
            actions=[Action(time=1, description="a"), Action(time=time, description="b")],
        ),
        "actions[1].time",
        f"must be within the video's {seconds} s (n_frames={n_frames})",
        f"(got {time!r})",
    )


def test_action_time_is_checked_against_the_friendly_duration() -> None:
    """``duration=5`` bounds action times just like ``n_frames=150``."""
    invalid(
        lambda: req(duration=5, actions=[{"time": 6, "description": "late"}]),
        "actions[0].time",
        "within the video's 5 s",
    )


def test_action_time_is_unbounded_without_n_frames() -> None:
    """Without a length there is nothing to check a late action against."""
    request = req(actions=[{"time": 60, "description": "much later"}])
    assert request.actions == (Action(time=60, description="much later"),)


def test_actions_from_mappings_become_action_tuples() -> None:
    """Mappings and Action instances may be mixed; the request stores a tuple of Actions."""
    request = req(actions=[{"time": 1, "description": "a"}, Action(time=2, description="b")])
    assert request.actions == (Action(time=1, description="a"), Action(time=2, description="b"))
    assert isinstance(request.actions, tuple)


def test_invalid_nested_action_names_its_path() -> None:
    """A broken action inside a request is reported as ``actions[i].field``."""
    invalid(
        lambda: req(actions=[{"time": 1, "description": "ok"}, {"time": -2, "description": "bad"}]),
        "actions[1].time",
        "must be >= 0",
        "(got -2)",
    )


def test_nested_action_missing_a_required_field_is_rejected() -> None:
    """An action mapping without ``description`` says that it is required."""
    invalid(lambda: req(actions=[{"time": 1}]), "actions[0].description", "is required", "(got nothing)")


@pytest.mark.parametrize("value", ["jump at 1s", {"time": 1, "description": "x"}, 5])
def test_actions_must_be_a_list(value: object) -> None:
    """``actions`` must be a list, not a string, a single mapping or a number."""
    invalid(lambda: req(actions=value), "actions", "must be a list of Action")


def test_action_item_must_be_an_action_or_mapping() -> None:
    """A list item that is neither an Action nor a mapping is rejected by index."""
    invalid(lambda: req(actions=[("1", "x")]), "actions[0]", "or a mapping")


# --- InpaintItem ------------------------------------------------------------------------------------


def test_inpaint_item_fields_are_all_optional() -> None:
    """An inpaint item may leave every field unset."""
    item = InpaintItem()
    assert attrs.asdict(item) == dict.fromkeys(
        [
            "type",
            "url",
            "frame_index",
            "preset_id",
            "generation_id",
            "upload_media_id",
            "source_start_frame",
            "source_end_frame",
        ]
    )


def test_inpaint_item_full_is_accepted() -> None:
    """An inpaint item with every field set is accepted and keeps them."""
    item = InpaintItem(
        type="image",
        url="https://x/y.png",
        frame_index=0,
        preset_id="p",
        generation_id="g",
        upload_media_id="m",
        source_start_frame=0,
        source_end_frame=30,
    )
    assert item.type is InpaintType.IMAGE
    assert (item.frame_index, item.source_start_frame, item.source_end_frame) == (0, 0, 30)


@pytest.mark.parametrize("name", ["frame_index", "source_start_frame", "source_end_frame"])
def test_inpaint_frame_numbers_of_zero_or_more_are_accepted(name: str) -> None:
    """Frame numbers start at zero."""
    assert getattr(inpaint(**{name: 0}), name) == 0
    assert getattr(inpaint(**{name: 299}), name) == 299


@pytest.mark.parametrize("name", ["frame_index", "source_start_frame", "source_end_frame"])
def test_inpaint_negative_frame_numbers_are_rejected(name: str) -> None:
    """A negative frame number is rejected."""
    invalid(lambda: inpaint(**{name: -1}), name, "must be >= 0", "(got -1)")


@pytest.mark.parametrize("name", ["frame_index", "source_start_frame", "source_end_frame"])
@pytest.mark.parametrize("value", ["0", 1.5, True])
def test_inpaint_frame_numbers_must_be_ints(name: str, value: object) -> None:
    """Frame numbers are ints: no str, float or bool."""
    invalid(lambda: inpaint(**{name: value}), name, "must be an integer", f"(got {value!r})")


@pytest.mark.parametrize(("start", "end"), [(0, 0), (3, 3), (0, 10), (None, 5), (5, None)])
def test_inpaint_source_range_in_order_is_accepted(start: int | None, end: int | None) -> None:
    """A source range whose start is not after its end (or half given) is accepted."""
    item = InpaintItem(source_start_frame=start, source_end_frame=end)
    assert (item.source_start_frame, item.source_end_frame) == (start, end)


def test_inpaint_source_range_backwards_is_rejected() -> None:
    """A source range that ends before it starts is rejected, naming the end."""
    invalid(
        lambda: InpaintItem(source_start_frame=5, source_end_frame=4),
        "source_start_frame",
        "must be <= source_end_frame (4)",
        "(got 5)",
    )


@pytest.mark.parametrize("name", ["url", "preset_id", "generation_id", "upload_media_id"])
@pytest.mark.parametrize("value", [5, b"bytes", ["x"]])
def test_inpaint_text_fields_must_be_strings(name: str, value: object) -> None:
    """The id and URL fields are strings or unset."""
    invalid(lambda: inpaint(**{name: value}), name, "must be a string", f"(got {value!r})")


def test_inpaint_type_accepts_member_and_value() -> None:
    """The item type accepts InpaintType.IMAGE and ``"image"``."""
    assert InpaintItem(type=InpaintType.IMAGE).type is InpaintType.IMAGE
    assert InpaintItem(type="image").type is InpaintType.IMAGE


def test_inpaint_type_rejects_other_values() -> None:
    """An unknown item type is rejected listing ``'image'``."""
    invalid(lambda: InpaintItem(type="video"), "type", "must be one of 'image'", "(got 'video')")


def test_invalid_nested_inpaint_item_names_its_path() -> None:
    """A broken inpaint item inside a request is reported as ``inpaint_items[i].field``."""
    invalid(
        lambda: req(inpaint_items=[{"frame_index": 0}, {"type": "video"}]),
        "inpaint_items[1].type",
        "must be one of 'image'",
    )


def test_inpaint_items_must_be_a_list() -> None:
    """A single inpaint mapping where a list belongs is rejected."""
    invalid(lambda: req(inpaint_items={"url": "x"}), "inpaint_items", "must be a list of InpaintItem")


# --- SDEdit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [1, 1.0, 1.5, 4, 7.99, 8, 8.0])
def test_sdedit_amount_from_1_to_8_is_accepted(amount: float) -> None:
    """Edit strengths 1 to 8 inclusive are accepted, ints and floats alike."""
    assert SDEdit(amount=amount, source_generation_id="gen_1").amount == amount


@pytest.mark.parametrize("amount", [0.5, 8.5, 0, 0.999, 8.001, 9, -1])
def test_sdedit_amount_outside_1_to_8_is_rejected(amount: float) -> None:
    """Edit strengths outside 1..8 are rejected with the range in the message."""
    invalid(
        lambda: SDEdit(amount=amount, source_generation_id="gen_1"),
        "amount",
        "must be between 1 and 8",
        f"(got {amount!r})",
    )


@pytest.mark.parametrize("amount", ["2", True, None, math.nan])
def test_sdedit_amount_must_be_a_number(amount: object) -> None:
    """The edit strength must be a real finite number."""
    invalid(
        lambda: SDEdit(amount=amount, source_generation_id="gen_1"),  # type: ignore[arg-type]
        "amount",
        "must be a number",
    )


@pytest.mark.parametrize("value", ["", 5, None])
def test_sdedit_source_generation_id_must_be_non_empty_text(value: object) -> None:
    """The source generation id is required text."""
    invalid(
        lambda: SDEdit(amount=2, source_generation_id=value),  # type: ignore[arg-type]
        "source_generation_id",
        "must be a non-empty string",
    )


def test_sdedit_source_upload_media_id_may_be_null_or_text() -> None:
    """The upload media id is a string or null (the default)."""
    assert SDEdit(amount=2, source_generation_id="g").source_upload_media_id is None
    assert (
        SDEdit(amount=2, source_generation_id="g", source_upload_media_id="m").source_upload_media_id == "m"
    )


def test_sdedit_source_upload_media_id_must_be_text() -> None:
    """A non-string upload media id is rejected."""
    invalid(
        lambda: SDEdit(amount=2, source_generation_id="g", source_upload_media_id=7),  # type: ignore[arg-type]
        "source_upload_media_id",
        "must be a string",
    )


def test_sdedit_mapping_without_source_generation_id_is_rejected() -> None:
    """An sdedit mapping missing its required source id says so with the nested path."""
    invalid(lambda: req(sdedit={"amount": 2}), "sdedit.source_generation_id", "is required", "(got nothing)")


def test_sdedit_in_from_dict_without_source_generation_id_is_rejected() -> None:
    """The same rule holds for a whole request read from a wire mapping."""
    invalid(
        lambda: VideoRequest.from_dict(
            {"prompt": "x", "sdedit": {"amount": 2, "source_upload_media_id": None}}
        ),
        "sdedit.source_generation_id",
        "is required",
    )


def test_sdedit_mapping_without_amount_is_rejected() -> None:
    """The edit strength is required too."""
    invalid(lambda: req(sdedit={"source_generation_id": "g"}), "sdedit.amount", "is required")


def test_invalid_nested_sdedit_names_its_path() -> None:
    """A bad amount inside a request is reported as ``sdedit.amount``."""
    invalid(
        lambda: req(sdedit={"amount": 8.5, "source_generation_id": "g"}),
        "sdedit.amount",
        "must be between 1 and 8",
        "(got 8.5)",
    )


def test_sdedit_must_be_an_sdedit_or_mapping() -> None:
    """An sdedit given as a string is rejected."""
    invalid(lambda: req(sdedit="gen_1"), "sdedit", "or a mapping", "(got 'gen_1')")


# --- something to generate --------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", [None, "", "   ", "\n\t "])
def test_request_with_nothing_to_generate_from_is_rejected(prompt: str | None) -> None:
    """No prompt text, no inpaint items and no sdedit leaves nothing to generate."""
    invalid(
        lambda: VideoRequest(prompt=prompt, size="480x480"),
        "prompt",
        "is required unless inpaint_items or sdedit give something to generate from",
        f"(got {prompt!r})",
    )


def test_empty_inpaint_list_does_not_count_as_something_to_generate() -> None:
    """An empty inpaint list is as good as none."""
    invalid(lambda: VideoRequest(inpaint_items=[]), "prompt", "is required unless")


def test_inpaint_only_request_is_accepted() -> None:
    """Inpaint items alone are something to generate from."""
    request = VideoRequest(inpaint_items=[{"type": "image", "url": "https://x/a.png", "frame_index": 0}])
    assert request.prompt is None
    assert request.inpaint_items == (
        InpaintItem(type=InpaintType.IMAGE, url="https://x/a.png", frame_index=0),
    )


def test_sdedit_only_request_is_accepted() -> None:
    """An sdedit alone is something to generate from."""
    request = VideoRequest(prompt="  ", sdedit=SDEdit(amount=3, source_generation_id="gen_1"))
    assert request.sdedit == SDEdit(amount=3, source_generation_id="gen_1")


# --- unknown keys -----------------------------------------------------------------------------------


def test_from_dict_builds_a_request() -> None:
    """A wire mapping becomes the same request the keyword arguments give."""
    data = {"prompt": "a fox", "width": 1280, "height": 720, "n_frames": 300, "model": "turbo"}
    assert VideoRequest.from_dict(data) == VideoRequest(
        prompt="a fox", size=Size.LANDSCAPE_720P, duration=10, model=Model.TURBO
    )


def test_from_dict_rejects_an_unknown_key() -> None:
    """A typo in a JSON line fails instead of being silently dropped."""
    invalid(
        lambda: VideoRequest.from_dict({"prompt": "x", "promt": "y"}),
        "promt",
        "is not a field of VideoRequest",
        "(got 'y')",
    )


def test_from_dict_names_the_first_unknown_key_in_sorted_order() -> None:
    """With several unknown keys, the report is deterministic."""
    invalid(lambda: VideoRequest.from_dict({"prompt": "x", "zz": 1, "aa": 2}), "aa", "is not a field")


def test_from_dict_rejects_a_non_string_key() -> None:
    """A non-string key is a ValidationError too, not a KeyError."""
    data: dict[Any, Any] = {"prompt": "x", 1: 2}
    invalid(lambda: VideoRequest.from_dict(data), "1", "is not a field of VideoRequest", "(got 2)")


@pytest.mark.parametrize(
    ("data", "field", "owner"),
    [
        ({"actions": [{"time": 0, "description": "a", "foo": 1}]}, "actions[0].foo", "Action"),
        ({"actions": [{"time": 0, "description": "a"}, {"tiem": 1}]}, "actions[1].tiem", "Action"),
        ({"inpaint_items": [{"url": "u", "frame": 3}]}, "inpaint_items[0].frame", "InpaintItem"),
        ({"sdedit": {"amount": 2, "source_generation_id": "g", "strength": 2}}, "sdedit.strength", "SDEdit"),
        ({"actions": [{"time": 0, "description": "a", 7: "x"}]}, "actions[0].7", "Action"),
    ],
)
def test_unknown_nested_keys_are_rejected_with_their_path(
    data: dict[Any, Any], field: str, owner: str
) -> None:
    """An unknown key inside a nested mapping is reported with its full path."""
    invalid(lambda: VideoRequest.from_dict({"prompt": "x", **data}), field, f"is not a field of {owner}")


@pytest.mark.parametrize("data", [["prompt", "x"], "prompt=x", None, 5])
def test_from_dict_rejects_a_non_mapping(data: Any) -> None:
    """A JSON line that is not an object is rejected."""
    invalid(lambda: VideoRequest.from_dict(data), "request", "must be a JSON object")


# --- friendly size= and duration= -------------------------------------------------------------------


@pytest.mark.parametrize("size", list(Size))
def test_size_member_sets_width_and_height(size: Size) -> None:
    """``size=Size.X`` fills width and height."""
    request = req(size=size)
    assert (request.width, request.height) == (size.width, size.height)
    assert request.size is size


@pytest.mark.parametrize(("text", "width", "height"), [("1280x720", 1280, 720), ("480x854", 480, 854)])
def test_size_string_sets_width_and_height(text: str, width: int, height: int) -> None:
    """``size="WxH"`` fills width and height."""
    request = req(size=text)
    assert (request.width, request.height) == (width, height)


def test_size_and_wire_fields_build_equal_requests() -> None:
    """The friendly and the wire spelling give the same request."""
    assert req(size="1280x720", duration=10) == req(width=1280, height=720, n_frames=300)


@pytest.mark.parametrize("extra", [{"width": 1280}, {"height": 720}, {"width": 1280, "height": 720}])
def test_size_combined_with_width_or_height_is_rejected(extra: dict[str, int]) -> None:
    """Giving the size twice is ambiguous and rejected."""
    invalid(lambda: req(size="1280x720", **extra), "size", "must not be combined with width/height")


@pytest.mark.parametrize("size", ["1920x1080", "1280X720", "1280 x 720", "", 1280, "16:9"])
def test_unknown_size_is_rejected(size: object) -> None:
    """A size outside the six is rejected listing the six."""
    invalid(lambda: req(size=size), "size", f"must be one of {SIZE_LIST_TEXT}", f"(got {size!r})")


@pytest.mark.parametrize(("duration", "n_frames"), [(5, 150), (10, 300)])
def test_duration_sets_n_frames(duration: int, n_frames: int) -> None:
    """``duration=5`` and ``duration=10`` become 150 and 300 frames."""
    request = req(duration=duration)
    assert request.n_frames == n_frames
    assert request.duration == duration


def test_duration_combined_with_n_frames_is_rejected() -> None:
    """Giving the length twice is rejected, even when both agree."""
    invalid(
        lambda: req(duration=5, n_frames=150), "duration", "must not be combined with n_frames", "(got 5)"
    )


@pytest.mark.parametrize("duration", [0, 1, 6, 15, 150, -5, 5.0, "5", True])
def test_bad_duration_is_rejected(duration: object) -> None:
    """Only 5 and 10 (ints) are durations."""
    invalid(lambda: req(duration=duration), "duration", "must be 5 or 10 (seconds)", f"(got {duration!r})")


def test_from_dict_accepts_the_friendly_names() -> None:
    """A JSON line may use ``size`` and ``duration`` too."""
    request = VideoRequest.from_dict({"prompt": "x", "size": "720x1280", "duration": 5})
    assert (request.width, request.height, request.n_frames) == (720, 1280, 150)


# --- Size -------------------------------------------------------------------------------------------


def test_size_has_exactly_the_six_api_sizes() -> None:
    """The Size enum holds the six sizes of API.md and nothing else."""
    assert sorted(s.value for s in Size) == sorted(f"{w}x{h}" for w, h, _, _ in API_SIZES)


@pytest.mark.parametrize(("width", "height", "aspect", "resolution"), API_SIZES)
def test_size_properties_match_the_api_table(width: int, height: int, aspect: str, resolution: str) -> None:
    """width, height, aspect and resolution of each size match API.md's table."""
    size = Size(f"{width}x{height}")
    assert (size.width, size.height, size.aspect, size.resolution) == (width, height, aspect, resolution)


def test_size_is_its_wire_string() -> None:
    """A Size compares equal to its ``"WxH"`` text and is looked up by it."""
    assert Size("1280x720") is Size.LANDSCAPE_720P
    text: str = Size.LANDSCAPE_720P
    assert text == "1280x720"


# --- frozen, hashable -------------------------------------------------------------------------------


def test_video_request_is_frozen() -> None:
    """A built request cannot be changed into an invalid one afterwards."""
    request = req(size="480x480")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.width = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "model",
    [Action(time=1, description="a"), InpaintItem(url="u"), SDEdit(amount=2, source_generation_id="g")],
)
def test_nested_models_are_frozen(model: Any) -> None:
    """Actions, inpaint items and sdedits are immutable too."""
    name = attrs.fields(type(model))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(model, name, None)


def test_equal_requests_hash_equal() -> None:
    """Requests built the same way (lists or tuples, members or values) are equal and hash alike."""
    first = req(
        size="1280x720",
        duration=5,
        model="turbo",
        actions=[{"time": 1, "description": "a"}],
        inpaint_items=[{"url": "u"}],
        sdedit={"amount": 2, "source_generation_id": "g"},
    )
    second = req(
        width=1280,
        height=720,
        n_frames=150,
        model=Model.TURBO,
        actions=(Action(time=1, description="a"),),
        inpaint_items=(InpaintItem(url="u"),),
        sdedit=SDEdit(amount=2, source_generation_id="g"),
    )
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    assert first != req(size="1280x720", duration=10, model="turbo")


# --- VideoTask.from_api -----------------------------------------------------------------------------

FULL_PAYLOAD: dict[str, Any] = {
    "task_id": "task_01jhjnz502ejqsm6r37km2q637",
    "action": "sora-video",
    "status": "SUCCESS",
    "fail_reason": "",
    "submit_time": 1700000000,
    "start_time": 1700000005,
    "finish_time": 1700000065,
    "progress": "100%",
    "data": {
        "id": "task_upstream",
        "generations": [
            {"id": "gen_1", "url": "https://cdn.example/1.mp4", "width": 1280, "height": 720},
            {"id": "gen_2", "url": "https://cdn.example/2.mp4", "width": 1280, "height": 720},
        ],
    },
}


def test_from_api_parses_a_full_payload() -> None:
    """Every documented field of a finished task is parsed."""
    task = VideoTask.from_api("ignored", FULL_PAYLOAD)
    assert task.task_id == "task_01jhjnz502ejqsm6r37km2q637"
    assert task.status is TaskStatus.SUCCESS
    assert task.is_finished
    assert task.progress == 100.0
    assert task.fail_reason == ""
    assert task.action == "sora-video"
    assert task.submit_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert task.start_time == datetime(2023, 11, 14, 22, 13, 25, tzinfo=timezone.utc)
    assert task.finish_time == datetime(2023, 11, 14, 22, 14, 25, tzinfo=timezone.utc)
    assert task.video_urls == ("https://cdn.example/1.mp4", "https://cdn.example/2.mp4")
    assert task.data == FULL_PAYLOAD["data"]
    assert task.raw == FULL_PAYLOAD


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        ("42%", 42.0),
        ("42.5%", 42.5),
        (" 7 % ", 7.0),
        ("0%", 0.0),
        ("100", 100.0),
        (42, 42.0),
        (0.5, 0.5),
        ("", None),
        ("%", None),
        ("half", None),
        ("nan%", None),
        ("inf", None),
        (None, None),
        (True, None),
        ([42], None),
    ],
)
def test_from_api_parses_progress(progress: object, expected: float | None) -> None:
    """Progress ``"42%"`` becomes 42.0; anything unreadable becomes None."""
    task = VideoTask.from_api("t", {"status": "IN_PROGRESS", "progress": progress})
    assert task.progress == expected
    assert task.progress is None or type(task.progress) is float


def test_from_api_tolerates_missing_fields() -> None:
    """An empty payload gives a not-started task with defaults, using the given id."""
    task = VideoTask.from_api("task_1", {})
    assert task == VideoTask(task_id="task_1", status=TaskStatus.NOT_START)
    assert task.raw == {}
    assert not task.is_finished


def test_from_api_tolerates_null_fields() -> None:
    """Explicit nulls are treated like missing fields."""
    payload = dict.fromkeys(FULL_PAYLOAD)
    task = VideoTask.from_api("task_1", payload)
    assert task.task_id == "task_1"
    assert task.status is TaskStatus.NOT_START
    assert (task.progress, task.fail_reason, task.action) == (None, "", None)
    assert (task.submit_time, task.start_time, task.finish_time) == (None, None, None)
    assert task.video_urls == ()


def test_from_api_keeps_unknown_fields_in_raw() -> None:
    """Fields this SDK does not know are kept in ``raw`` (a copy of the payload)."""
    payload = {**FULL_PAYLOAD, "quota": 42, "channel": {"id": 7}}
    task = VideoTask.from_api("t", payload)
    assert task.raw["quota"] == 42
    assert task.raw["channel"] == {"id": 7}
    payload["quota"] = 0
    assert task.raw["quota"] == 42


def test_from_api_keeps_the_upstream_record_open() -> None:
    """Unknown fields inside ``data`` survive untouched."""
    inner = {"generations": [{"url": "https://x/1.mp4", "seed": 99}], "new_field": [1, 2]}
    task = VideoTask.from_api("t", {"status": "SUCCESS", "data": inner})
    assert task.data == inner


def test_from_api_with_null_data_has_no_urls() -> None:
    """``data: null`` (no result yet) gives no URLs."""
    task = VideoTask.from_api("t", {"status": "IN_PROGRESS", "data": None})
    assert task.data is None
    assert task.video_urls == ()


@pytest.mark.parametrize(
    ("inner", "urls"),
    [
        (
            {"generations": [{"url": "https://x/1.mp4"}, {"url": "https://x/2.mp4"}]},
            ("https://x/1.mp4", "https://x/2.mp4"),
        ),
        (
            [{"url": "https://x/1.mp4"}, {"id": "no-url"}, {"url": "https://x/3.mp4"}],
            ("https://x/1.mp4", "https://x/3.mp4"),
        ),
        ({"url": "https://x/only.mp4"}, ("https://x/only.mp4",)),
        ({"generations": []}, ()),
        ({"generations": None}, ()),
        ({"generations": [{"url": ""}, {"url": None}, {"url": 5}, "https://x/bare.mp4"]}, ()),
        ("https://x/string.mp4", ()),
        ({"status": "running"}, ()),
    ],
)
def test_from_api_finds_video_urls(inner: object, urls: tuple[str, ...]) -> None:
    """URLs come from ``generations``, a bare list of records or one record; junk is skipped."""
    assert VideoTask.from_api("t", {"status": "SUCCESS", "data": inner}).video_urls == urls


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, None),
        (0.0, None),
        (None, None),
        ("1700000000", None),
        (True, None),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
        (1700000000.5, datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc)),
        (1700000000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)),
    ],
)
def test_from_api_parses_times(value: object, expected: datetime | None) -> None:
    """Unix seconds (or milliseconds) become aware UTC datetimes; 0 and junk become None."""
    task = VideoTask.from_api("t", {"submit_time": value})
    assert task.submit_time == expected
    if expected is not None:
        assert task.submit_time is not None
        assert task.submit_time.tzinfo is timezone.utc


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("NOT_START", TaskStatus.NOT_START),
        ("IN_PROGRESS", TaskStatus.IN_PROGRESS),
        ("SUCCESS", TaskStatus.SUCCESS),
        ("FAILURE", TaskStatus.FAILURE),
        ("success", TaskStatus.SUCCESS),
        ("SUBMITTED", TaskStatus.SUBMITTED),
        ("QUEUED", TaskStatus.QUEUED),
        ("UNKNOWN", TaskStatus.UNKNOWN),
        ("queued", TaskStatus.QUEUED),
        ("processing", TaskStatus.IN_PROGRESS),
        ("in_progress", TaskStatus.IN_PROGRESS),
        ("succeeded", TaskStatus.SUCCESS),
        ("completed", TaskStatus.SUCCESS),
        ("failed", TaskStatus.FAILURE),
        (" Completed ", TaskStatus.SUCCESS),
        ("cancelled", TaskStatus.FAILURE),
        ("UNKNOWN_NEW_STATE", TaskStatus.UNKNOWN),
        (["SUCCESS"], TaskStatus.UNKNOWN),
        (3, TaskStatus.UNKNOWN),
        ("", TaskStatus.NOT_START),
        (None, TaskStatus.NOT_START),
    ],
)
def test_from_api_parses_status(status: object, expected: TaskStatus) -> None:
    """Every status word of RELAYS.md maps to a member, in any case; only undocumented words are UNKNOWN."""
    assert VideoTask.from_api("t", {"status": status}).status is expected


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        (TaskStatus.NOT_START, False),
        (TaskStatus.SUBMITTED, False),
        (TaskStatus.QUEUED, False),
        (TaskStatus.IN_PROGRESS, False),
        (TaskStatus.SUCCESS, True),
        (TaskStatus.FAILURE, True),
        (TaskStatus.UNKNOWN, False),
    ],
)
def test_only_success_and_failure_are_finished(status: TaskStatus, finished: bool) -> None:
    """SUCCESS and FAILURE are the two final states."""
    assert status.is_finished is finished
    assert VideoTask(task_id="t", status=status).is_finished is finished


def test_from_api_reads_the_fail_reason() -> None:
    """A failed task carries the relay's reason."""
    task = VideoTask.from_api("t", {"status": "FAILURE", "fail_reason": "content policy", "progress": "100%"})
    assert task.status is TaskStatus.FAILURE
    assert task.fail_reason == "content policy"


def test_from_api_prefers_the_payload_task_id() -> None:
    """The relay's task id wins over the one asked for; an empty one falls back."""
    assert VideoTask.from_api("asked", {"task_id": "answered"}).task_id == "answered"
    assert VideoTask.from_api("asked", {"task_id": ""}).task_id == "asked"


def test_from_api_with_none_is_a_not_started_task() -> None:
    """``data: null`` for the whole answer means the task has no result yet."""
    task = VideoTask.from_api("task_1", None)
    assert task.task_id == "task_1"
    assert task.status is TaskStatus.NOT_START
    assert task.progress is None
    assert task.video_urls == ()
    assert task.data is None
    assert task.raw == {}


def test_only_not_start_submitted_and_queued_are_waiting() -> None:
    """The three states before a task runs are the waiting ones."""
    waiting = {s for s in TaskStatus if s.is_waiting}
    assert waiting == {TaskStatus.NOT_START, TaskStatus.SUBMITTED, TaskStatus.QUEUED}


# --- where the video URL is (RELAYS.md) -------------------------------------------------------------


def test_result_url_on_success_is_a_video_url() -> None:
    """Newer new-api puts the URL in a top-level ``result_url``."""
    task = VideoTask.from_api(
        "t", {"status": "SUCCESS", "result_url": "https://r.example/v1/videos/t/content"}
    )
    assert task.video_urls == ("https://r.example/v1/videos/t/content",)
    assert task.fail_reason == ""


def test_url_in_fail_reason_on_success_is_a_url_not_a_reason() -> None:
    """Older new-api writes the video URL into ``fail_reason`` on SUCCESS."""
    task = VideoTask.from_api("t", {"status": "SUCCESS", "fail_reason": "https://cdn.example/v.mp4"})
    assert task.video_urls == ("https://cdn.example/v.mp4",)
    assert task.fail_reason == ""
    assert task.raw["fail_reason"] == "https://cdn.example/v.mp4"


def test_fail_reason_is_only_a_reason_for_a_failure() -> None:
    """A failed task keeps its reason, and its ``result_url`` (new-api copies the reason there) is no URL."""
    payload = {"status": "FAILURE", "fail_reason": "content policy", "result_url": "content policy"}
    task = VideoTask.from_api("t", payload)
    assert (task.fail_reason, task.video_urls) == ("content policy", ())
    running = VideoTask.from_api("t", {"status": "IN_PROGRESS", "fail_reason": "stale text"})
    assert running.fail_reason == ""


def test_a_url_in_fail_reason_of_a_failure_is_not_a_video() -> None:
    """On FAILURE, ``fail_reason`` and ``result_url`` never become video URLs, even if they look like one."""
    link = "https://help.example/why"
    task = VideoTask.from_api("t", {"status": "FAILURE", "fail_reason": link, "result_url": link})
    assert task.video_urls == ()
    assert task.fail_reason == link


def test_relative_result_url_is_kept() -> None:
    """new-api without a server address sends ``/v1/videos/{id}/content``; the dialect resolves it."""
    task = VideoTask.from_api("t", {"status": "SUCCESS", "result_url": "/v1/videos/t/content"})
    assert task.video_urls == ("/v1/videos/t/content",)


def test_urls_from_every_location_are_collected_once() -> None:
    """generations, ``data.url``, top-level ``url``, ``result_url``, ``fail_reason``: in order, no repeats."""
    same = "https://cdn.example/1.mp4"
    payload = {
        "status": "SUCCESS",
        "data": {"generations": [{"url": same}]},
        "url": "https://cdn.example/2.mp4",
        "result_url": same,
        "fail_reason": "https://cdn.example/3.mp4",
    }
    urls = VideoTask.from_api("t", payload).video_urls
    assert urls == (same, "https://cdn.example/2.mp4", "https://cdn.example/3.mp4")


def test_openai_video_object_is_parsed() -> None:
    """The OpenAI-style object: ``id``, lower-case status, int progress, ``created_at``, ``metadata.url``."""
    payload = {
        "id": "task_abc",
        "object": "video",
        "model": "sora-2",
        "status": "completed",
        "progress": 100,
        "created_at": 1700000000,
        "completed_at": 1700000060,
        "metadata": {"url": "https://cdn.example/v.mp4"},
        "seconds": "4",
    }
    task = VideoTask.from_api("asked", payload)
    assert (task.task_id, task.status, task.progress) == ("task_abc", TaskStatus.SUCCESS, 100.0)
    assert task.submit_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert task.finish_time == datetime(2023, 11, 14, 22, 14, 20, tzinfo=timezone.utc)
    assert task.video_urls == ("https://cdn.example/v.mp4",)
    assert task.raw["seconds"] == "4"


def test_openai_failed_object_reads_error_message() -> None:
    """A failed video object has its reason in ``error.message``; ``metadata.url`` (a copy) is no URL."""
    payload = {
        "id": "t",
        "status": "failed",
        "error": {"message": "policy", "code": "x"},
        "metadata": {"url": "policy"},
    }
    task = VideoTask.from_api("t", payload)
    assert (task.status, task.fail_reason, task.video_urls) == (TaskStatus.FAILURE, "policy", ())


def test_unfinished_completed_at_is_not_a_finish_time() -> None:
    """new-api fills ``completed_at`` from ``updated_at`` whatever the state: it only counts once finished."""
    task = VideoTask.from_api("t", {"status": "in_progress", "completed_at": 1700000060})
    assert task.finish_time is None


def test_integer_database_id_is_not_the_task_id() -> None:
    """TaskDto's ``id`` is a database row number; the task id is ``task_id`` or the one asked for."""
    assert VideoTask.from_api("task_1", {"id": 42, "status": "QUEUED"}).task_id == "task_1"
    assert VideoTask.from_api("task_1", {"id": 42, "task_id": "task_2"}).task_id == "task_2"


@pytest.mark.parametrize("payload", ["text", 5, 2.5, True, ["SUCCESS"], [{"status": "SUCCESS"}]])
def test_a_payload_that_is_not_an_object_is_unknown(payload: object) -> None:
    """A task answer that is not an object gives an UNKNOWN task that keeps the value."""
    task = VideoTask.from_api("task_1", payload)
    assert (task.task_id, task.status, task.data, task.raw) == ("task_1", TaskStatus.UNKNOWN, payload, {})


@pytest.mark.parametrize("value", [-5, 1e300, float("nan"), float("inf")])
def test_out_of_range_times_are_unset(value: float) -> None:
    """Times no calendar can show are treated as unset rather than raising."""
    assert VideoTask.from_api("t", {"submit_time": value, "start_time": value}).submit_time is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
task_like = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        | st.sampled_from(["SUCCESS", "failed", "queued", "30%", "https://x/v.mp4", 1700000000])
        for key in (
            "status",
            "progress",
            "fail_reason",
            "result_url",
            "url",
            "data",
            "metadata",
            "error",
            "task_id",
            "id",
            "submit_time",
            "completed_at",
        )
    },
)


@given(payload=json_values | task_like)
@settings(max_examples=300, deadline=None)
def test_any_json_value_gives_a_task(payload: object) -> None:
    """Whatever JSON a relay sends, parsing gives a VideoTask and never raises."""
    task = VideoTask.from_api("task_1", payload)
    assert isinstance(task, VideoTask)
    assert all(isinstance(url, str) and url for url in task.video_urls)
    assert isinstance(task.fail_reason, str)
    assert task.fail_reason == "" or task.status is TaskStatus.FAILURE


def test_deeply_nested_payload_does_not_recurse() -> None:
    """A hostile nesting depth is not walked: no RecursionError."""
    deep: object = "https://x/v.mp4"
    for _ in range(100_000):
        deep = [deep]
    task = VideoTask.from_api("t", {"status": "SUCCESS", "data": deep, "fail_reason": deep, "metadata": deep})
    assert task.video_urls == ()
