"""The request and answer models of the Sora relay API, validated when they are built.

The task answer (``TaskStatus``, ``VideoTask``) lives in ``_task`` and is re-exported here.

A ``VideoRequest`` that exists is one the relay will accept: every rule of API.md is checked in the
constructor and a broken one raises ``ValidationError`` naming the field, what is allowed and what was
got. That way a bad line in a batch fails before it costs a request, and never after.

Python names equal the wire names (``type`` included), so a JSON line and the keyword arguments
look the same.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ._errors import ValidationError
from ._task import TaskStatus, VideoTask

__all__ = [
    "FRAMES_PER_SECOND",
    "Action",
    "GenerationType",
    "InpaintItem",
    "InpaintType",
    "Model",
    "Operation",
    "SDEdit",
    "Size",
    "Style",
    "TaskStatus",
    "VideoRequest",
    "VideoTask",
]

FRAMES_PER_SECOND = 30
"""150 frames are 5 s and 300 frames are 10 s (API.md)."""

_DURATIONS = {5: 150, 10: 300}
_N_FRAMES = tuple(_DURATIONS.values())


class Operation(str, enum.Enum):
    """What the generation does with its inputs. Requests accept the member or its value.

    >>> VideoRequest(prompt="a fox", operation="remix").operation
    <Operation.REMIX: 'remix'>
    """

    SIMPLE_COMPOSE = "simple_compose"
    STORYBOARD = "storyboard"
    REMIX = "remix"
    BLEND = "blend"


class Model(str, enum.Enum):
    """The generation model.

    >>> Model("turbo") is Model.TURBO
    True
    """

    TURBO = "turbo"


class Style(str, enum.Enum):
    """The visual style.

    >>> VideoRequest(prompt="a fox", style=Style.NATURAL).style.value
    'natural'
    """

    NATURAL = "natural"


class GenerationType(str, enum.Enum):
    """The kind of generation (the wire field ``type``).

    >>> VideoRequest(prompt="a fox", type="video_gen").type
    <GenerationType.VIDEO_GEN: 'video_gen'>
    """

    VIDEO_GEN = "video_gen"


class InpaintType(str, enum.Enum):
    """The kind of an inpaint item.

    >>> InpaintType("image") is InpaintType.IMAGE
    True
    """

    IMAGE = "image"


class Size(str, enum.Enum):
    """The six sizes the API accepts, as ``"WIDTHxHEIGHT"``.

    >>> Size("1280x720") is Size.LANDSCAPE_720P
    True
    >>> Size.LANDSCAPE_720P.width, Size.LANDSCAPE_720P.aspect
    (1280, '16:9')
    """

    SQUARE_480P = "480x480"
    SQUARE_720P = "720x720"
    PORTRAIT_480P = "480x854"
    LANDSCAPE_480P = "854x480"
    LANDSCAPE_720P = "1280x720"
    PORTRAIT_720P = "720x1280"

    @property
    def width(self) -> int:
        return int(self.value.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.value.split("x")[1])

    @property
    def aspect(self) -> str:
        """``"1:1"``, ``"16:9"`` or ``"9:16"``."""
        if self.width == self.height:
            return "1:1"
        return "16:9" if self.width > self.height else "9:16"

    @property
    def resolution(self) -> str:
        """``"480p"`` or ``"720p"``: the shorter side."""
        return f"{min(self.width, self.height)}p"


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()
"""Stands for an absent value in a ValidationError (``got nothing``)."""

_SIZE_TEXT = ", ".join(s.value for s in Size)
_E = TypeVar("_E", bound=enum.Enum)


# --- validators: each names the field, says what is allowed and what came ---------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def _check_optional_str(field: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(field, "must be a string", value)


def _check_optional_int(field: str, value: object, *, minimum: int | None = None) -> None:
    if value is None:
        return
    if not _is_int(value):
        raise ValidationError(field, "must be an integer", value)
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise ValidationError(field, f"must be >= {minimum}", value)


def _to_enum(enum_cls: type[_E], field: str, value: object) -> _E | None:
    """Accept the enum member or its wire value; reject anything else naming the allowed values."""
    if value is None or isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(repr(m.value) for m in enum_cls)
        raise ValidationError(field, f"must be one of {allowed}", value) from None


def _tuple_of(item_cls: type[Any], field: str) -> Any:
    """Accept a list/tuple of ``item_cls`` or of mappings with its fields; store a tuple."""

    def convert(value: object) -> tuple[Any, ...] | None:
        if value is None:
            return None
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise ValidationError(field, f"must be a list of {item_cls.__name__}", value)
        return tuple(_coerce_item(item_cls, f"{field}[{i}]", item) for i, item in enumerate(value))

    return convert


def _coerce_item(item_cls: type[Any], field: str, item: object) -> Any:
    if isinstance(item, item_cls):
        return item
    if isinstance(item, Mapping):
        return _from_mapping(item_cls, field, item)
    raise ValidationError(field, f"must be a {item_cls.__name__} or a mapping", item)


def _optional_model(item_cls: type[Any], field: str) -> Any:
    def convert(value: object) -> Any:
        return None if value is None else _coerce_item(item_cls, field, value)

    return convert


def _from_mapping(cls: type[Any], field: str, data: Mapping[str, Any]) -> Any:
    """Build a model from a mapping, naming unknown keys (typos) and missing ones with their path."""
    fields = attrs.fields(cls)
    unknown = _first_unknown_key(data, {a.name for a in fields})
    if unknown is not None:
        raise ValidationError(f"{field}.{unknown}", f"is not a field of {cls.__name__}", data[unknown])
    for a in fields:
        if a.default is attrs.NOTHING and a.name not in data:
            raise ValidationError(f"{field}.{a.name}", "is required", MISSING)
    try:
        return cls(**data)
    except ValidationError as exc:
        raise ValidationError(f"{field}.{exc.field}", exc.expected, exc.got) from None


def _first_unknown_key(data: Mapping[Any, Any], known: set[str]) -> Any:
    """The first key (in sorted text order) that is not a known field, or None; keys need not be str."""
    unknown = [k for k in data if not (isinstance(k, str) and k in known)]
    return min(unknown, key=str) if unknown else None


def _positive_number(field: str, value: object, *, low: float, high: float | None = None) -> None:
    if not _is_number(value):
        raise ValidationError(field, "must be a number", value)
    if value < low or (high is not None and value > high):  # type: ignore[operator]
        allowed = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise ValidationError(field, f"must be {allowed}", value)


# --- request models ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Action:
    """A timed beat of the video: at ``time`` seconds, ``description`` happens.

    >>> tips_over = Action(time=2.5, description="the boat tips over")
    >>> VideoRequest(prompt="a paper boat", duration=5, actions=[tips_over]).actions
    (Action(time=2.5, description='the boat tips over'),)
    >>> VideoRequest(prompt="a boat", duration=5, actions=[{"time": 7, "description": "it sinks"}])
    Traceback (most recent call last):
    ...
    sora_async._errors.ValidationError: 'actions[0].time' must be within the video's 5 s ... (got 7)
    """

    time: float
    description: str

    def __attrs_post_init__(self) -> None:
        _positive_number("time", self.time, low=0)
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValidationError("description", "must be a non-empty string", self.description)


def _to_inpaint_type(value: object) -> InpaintType | None:
    return _to_enum(InpaintType, "type", value)


@attrs.frozen(kw_only=True)
class InpaintItem:
    """An image (or clip) placed at a frame of the video.

    ``preset_id`` and ``generation_id`` are sent as explicit ``null`` unless set, as the API types them.

    >>> item = InpaintItem(type="image", url="https://cdn.example/first-frame.png", frame_index=0)
    >>> VideoRequest(inpaint_items=[item]).inpaint_items[0].type
    <InpaintType.IMAGE: 'image'>
    """

    type: InpaintType | None = attrs.field(default=None, converter=_to_inpaint_type)
    url: str | None = None
    frame_index: int | None = None
    preset_id: str | None = None
    generation_id: str | None = None
    upload_media_id: str | None = None
    source_start_frame: int | None = None
    source_end_frame: int | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("url", "preset_id", "generation_id", "upload_media_id"):
            _check_optional_str(name, getattr(self, name))
        for name in ("frame_index", "source_start_frame", "source_end_frame"):
            _check_optional_int(name, getattr(self, name), minimum=0)
        start, end = self.source_start_frame, self.source_end_frame
        if start is not None and end is not None and start > end:
            raise ValidationError("source_start_frame", f"must be <= source_end_frame ({end})", start)


@attrs.frozen(kw_only=True)
class SDEdit:
    """A stochastic diffusion edit of an earlier generation.

    ``source_upload_media_id`` is required by the API but may be null; it is always sent.

    >>> edit = SDEdit(amount=4, source_generation_id="gen_01jhjnz5")
    >>> VideoRequest(prompt="the same fox, at night", sdedit=edit).sdedit.amount
    4
    """

    amount: float
    source_generation_id: str
    source_upload_media_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _positive_number("amount", self.amount, low=1, high=8)
        if not isinstance(self.source_generation_id, str) or not self.source_generation_id:
            raise ValidationError(
                "source_generation_id", "must be a non-empty string", self.source_generation_id
            )
        _check_optional_str("source_upload_media_id", self.source_upload_media_id)


@attrs.frozen(kw_only=True, init=False)
class VideoRequest:
    """One video generation to create. Built valid or not at all.

    Give the size and length either the friendly way, ``size`` (a ``Size`` or ``"1280x720"``) and
    ``duration`` (5 or 10 seconds), or the wire way, ``width`` + ``height`` and ``n_frames`` (150 or 300).
    Mixing the two for the same thing is an error.

    >>> req = VideoRequest(prompt="a fox in snow", size="1280x720", duration=10)
    >>> (req.width, req.height, req.n_frames)
    (1280, 720, 300)
    >>> VideoRequest(prompt="a fox", width=1000, height=720)
    Traceback (most recent call last):
    ...
    sora_async._errors.ValidationError: 'width/height' must together be one of 480x480, 720x720, 480x854, \
854x480, 1280x720, 720x1280, or both be unset (got '1000x720')
    """

    prompt: str | None = None
    width: int | None = None
    height: int | None = None
    n_frames: int | None = None
    n_variants: int | None = None
    type: GenerationType | None = None
    style: Style | None = None
    model: Model | None = None
    operation: Operation | None = None
    actions: tuple[Action, ...] | None = None
    inpaint_items: tuple[InpaintItem, ...] | None = None
    sdedit: SDEdit | None = None

    def __init__(
        self,
        *,
        prompt: str | None = None,
        size: Size | str | None = None,
        duration: int | None = None,
        width: int | None = None,
        height: int | None = None,
        n_frames: int | None = None,
        n_variants: int | None = None,
        type: GenerationType | str | None = None,
        style: Style | str | None = None,
        model: Model | str | None = None,
        operation: Operation | str | None = None,
        actions: Iterable[Action | Mapping[str, Any]] | None = None,
        inpaint_items: Iterable[InpaintItem | Mapping[str, Any]] | None = None,
        sdedit: SDEdit | Mapping[str, Any] | None = None,
    ) -> None:
        width, height = _resolve_size(size, width, height)
        n_frames = _resolve_duration(duration, n_frames)
        self.__attrs_init__(
            prompt=prompt,
            width=width,
            height=height,
            n_frames=n_frames,
            n_variants=n_variants,
            type=_to_enum(GenerationType, "type", type),
            style=_to_enum(Style, "style", style),
            model=_to_enum(Model, "model", model),
            operation=_to_enum(Operation, "operation", operation),
            actions=_tuple_of(Action, "actions")(actions),
            inpaint_items=_tuple_of(InpaintItem, "inpaint_items")(inpaint_items),
            sdedit=_optional_model(SDEdit, "sdedit")(sdedit),
        )

    def __attrs_post_init__(self) -> None:
        _check_optional_str("prompt", self.prompt)
        for name in ("width", "height", "n_frames"):
            _check_optional_int(name, getattr(self, name))
        _check_optional_int("n_variants", self.n_variants, minimum=1)
        self._check_size()
        if self.n_frames is not None and self.n_frames not in _N_FRAMES:
            raise ValidationError("n_frames", "must be 150 (5 s) or 300 (10 s)", self.n_frames)
        self._check_action_times()
        if not (self.prompt and self.prompt.strip()) and not self.inpaint_items and self.sdedit is None:
            raise ValidationError(
                "prompt",
                "is required unless inpaint_items or sdedit give something to generate from",
                self.prompt,
            )

    def _check_size(self) -> None:
        if self.width is None and self.height is None:
            return
        text = f"{self.width}x{self.height}"
        if text not in Size._value2member_map_:
            raise ValidationError(
                "width/height", f"must together be one of {_SIZE_TEXT}, or both be unset", text
            )

    def _check_action_times(self) -> None:
        if not self.actions or self.n_frames is None:
            return
        seconds = self.n_frames / FRAMES_PER_SECOND
        for i, action in enumerate(self.actions):
            if action.time > seconds:
                raise ValidationError(
                    f"actions[{i}].time",
                    f"must be within the video's {seconds:g} s (n_frames={self.n_frames})",
                    action.time,
                )

    @property
    def size(self) -> Size | None:
        """The size as a ``Size``, or None when unset."""
        if self.width is None:
            return None
        return Size(f"{self.width}x{self.height}")

    @property
    def duration(self) -> int | None:
        """The length in seconds (5 or 10), or None when unset."""
        return None if self.n_frames is None else self.n_frames // FRAMES_PER_SECOND

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoRequest:
        """Build a request from a wire-format mapping (e.g. one JSON line), rejecting unknown keys.

        >>> VideoRequest.from_dict({"prompt": "a fox", "width": 480, "height": 480}).size
        <Size.SQUARE_480P: '480x480'>
        """
        if not isinstance(data, Mapping):
            raise ValidationError("request", "must be a JSON object", data)
        known = {a.name for a in attrs.fields(cls)} | {"size", "duration"}
        unknown = _first_unknown_key(data, known)
        if unknown is not None:
            raise ValidationError(str(unknown), "is not a field of VideoRequest", data[unknown])
        return cls(**data)


def _resolve_size(size: Size | str | None, width: int | None, height: int | None) -> tuple[Any, Any]:
    if size is None:
        return width, height
    if width is not None or height is not None:
        raise ValidationError("size", "must not be combined with width/height (give one or the other)", size)
    try:
        chosen = Size(size)
    except ValueError:
        raise ValidationError("size", f"must be one of {_SIZE_TEXT}", size) from None
    return chosen.width, chosen.height


def _resolve_duration(duration: int | None, n_frames: int | None) -> Any:
    if duration is None:
        return n_frames
    if n_frames is not None:
        raise ValidationError(
            "duration", "must not be combined with n_frames (give one or the other)", duration
        )
    if not _is_int(duration) or duration not in _DURATIONS:
        raise ValidationError("duration", "must be 5 or 10 (seconds)", duration)
    return _DURATIONS[duration]
