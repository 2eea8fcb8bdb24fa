"""``VideoRequest``: one video generation to create, valid when it exists or not built at all.

Every rule of API.md is checked in the constructor and a broken one raises ``ValidationError``
naming the field, what is allowed and what was got. That way a bad line in a batch fails before it
costs a request, and never after. Size and length may be given the friendly way (``size``,
``duration``) or the wire way (``width``/``height``, ``n_frames``); the request stores the wire way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._checks import is_int
from ._enums import SIZE_TEXT, GenerationType, Model, Operation, Size, Style
from ._errors import ValidationError
from ._fields import (
    check_optional_int,
    check_optional_str,
    first_unknown_key,
    optional_model,
    to_enum,
    tuple_of,
)
from ._parts import Action, InpaintItem, SDEdit

__all__ = ["FRAMES_PER_SECOND", "VideoRequest"]

FRAMES_PER_SECOND = 30
"""150 frames are 5 s and 300 frames are 10 s (API.md)."""

_DURATIONS = {5: 150, 10: 300}
_N_FRAMES = tuple(_DURATIONS.values())


@attrs.frozen(kw_only=True, init=False)
class VideoRequest:
    """One video generation to create. Built valid or not at all.

    Give the size and length either the friendly way, ``size`` (a ``Size`` or ``"1280x720"``) and
    ``duration`` (5 or 10 seconds), or the wire way, ``width`` + ``height`` and ``n_frames`` (150 or 300).
    Mixing the two for the same thing is an error.

    Args:
        prompt: What the video shows; required unless ``inpaint_items`` or ``sdedit`` give
            something to generate from.
        size: The friendly size: a ``Size`` or its value, e.g. ``"1280x720"``.
        duration: The friendly length: 5 or 10 seconds.
        width: The wire size, with ``height``: together one of the six sizes.
        height: The wire size, with ``width``.
        n_frames: The wire length: 150 (5 s) or 300 (10 s).
        n_variants: How many videos to generate, >= 1.
        type: The kind of generation, a ``GenerationType`` or its value.
        style: The visual style, a ``Style`` or its value.
        model: The generation model, a ``Model`` or its value.
        operation: What to do with the inputs, an ``Operation`` or its value.
        actions: Timed beats, as ``Action`` objects or mappings of their fields; each within the
            video's length.
        inpaint_items: Images placed at frames, as ``InpaintItem`` objects or mappings.
        sdedit: An edit of an earlier generation, as an ``SDEdit`` or a mapping.

    Raises:
        ValidationError: Any rule broken; ``field`` names it (dotted or indexed for nested parts).

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
            type=to_enum(GenerationType, "type", type),
            style=to_enum(Style, "style", style),
            model=to_enum(Model, "model", model),
            operation=to_enum(Operation, "operation", operation),
            actions=tuple_of(Action, "actions")(actions),
            inpaint_items=tuple_of(InpaintItem, "inpaint_items")(inpaint_items),
            sdedit=optional_model(SDEdit, "sdedit")(sdedit),
        )

    def __attrs_post_init__(self) -> None:
        check_optional_str("prompt", self.prompt)
        for name in ("width", "height", "n_frames"):
            check_optional_int(name, getattr(self, name))
        check_optional_int("n_variants", self.n_variants, minimum=1)
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
                "width/height", f"must together be one of {SIZE_TEXT}, or both be unset", text
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

        A typo such as ``"promt"`` is refused rather than left for the relay to ignore.

        Args:
            data: The fields by wire name; ``size`` and ``duration`` are accepted too.

        Raises:
            ValidationError: ``data`` is not a mapping, has an unknown key, or breaks a rule.

        >>> VideoRequest.from_dict({"prompt": "a fox", "width": 480, "height": 480}).size
        <Size.SQUARE_480P: '480x480'>
        """
        if not isinstance(data, Mapping):
            raise ValidationError("request", "must be a JSON object", data)
        known = {a.name for a in attrs.fields(cls)} | {"size", "duration"}
        unknown = first_unknown_key(data, known)
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
        raise ValidationError("size", f"must be one of {SIZE_TEXT}", size) from None
    return chosen.width, chosen.height


def _resolve_duration(duration: int | None, n_frames: int | None) -> Any:
    if duration is None:
        return n_frames
    if n_frames is not None:
        raise ValidationError(
            "duration", "must not be combined with n_frames (give one or the other)", duration
        )
    if not is_int(duration) or duration not in _DURATIONS:
        raise ValidationError("duration", "must be 5 or 10 (seconds)", duration)
    return _DURATIONS[duration]
