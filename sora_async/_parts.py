"""The nested parts of a request: timed ``Action`` beats, ``InpaintItem`` images, an ``SDEdit``.

Each checks its own fields when built; rules that need the whole request (an action within the
video's length) are checked by ``VideoRequest``.
"""

from __future__ import annotations

import attrs

from ._enums import InpaintType
from ._errors import ValidationError
from ._fields import check_encodable, check_number_between, check_optional_int, check_optional_str, to_enum

__all__ = ["Action", "InpaintItem", "SDEdit"]


@attrs.frozen(kw_only=True)
class Action:
    """A timed beat of the video: at ``time`` seconds, ``description`` happens.

    Raises:
        ValidationError: ``time`` is not a number >= 0, or ``description`` is empty.

    >>> from sora_async import VideoRequest
    >>> tips_over = Action(time=2.5, description="the boat tips over")
    >>> VideoRequest(prompt="a paper boat", duration=5, actions=[tips_over]).actions
    (Action(time=2.5, description='the boat tips over'),)
    >>> VideoRequest(prompt="a boat", duration=5, actions=[{"time": 7, "description": "it sinks"}])
    Traceback (most recent call last):
    ...
    sora_async._errors.ValidationError: 'actions[0].time' must be within the video's 5 s ... (got 7)
    """

    time: float
    """Seconds from the start, >= 0 and within the video's length (checked by the request)."""
    description: str
    """What happens then; a non-empty string."""

    def __attrs_post_init__(self) -> None:
        check_number_between("time", self.time, low=0)
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValidationError("description", "must be a non-empty string", self.description)
        check_encodable("description", self.description)


def _to_inpaint_type(value: object) -> InpaintType | None:
    return to_enum(InpaintType, "type", value)


@attrs.frozen(kw_only=True)
class InpaintItem:
    """An image (or clip) placed at a frame of the video.

    ``preset_id`` and ``generation_id`` are sent as explicit ``null`` unless set, as the API types them.

    Raises:
        ValidationError: A field of the wrong type, a negative frame, or start after end.

    >>> from sora_async import VideoRequest
    >>> item = InpaintItem(type="image", url="https://cdn.example/first-frame.png", frame_index=0)
    >>> VideoRequest(inpaint_items=[item]).inpaint_items[0].type
    <InpaintType.IMAGE: 'image'>
    """

    type: InpaintType | None = attrs.field(default=None, converter=_to_inpaint_type)
    """The kind of item, an ``InpaintType`` or its value (``"image"``)."""
    url: str | None = None
    """Where the relay fetches the image from."""
    frame_index: int | None = None
    """The frame the item is placed at, >= 0."""
    preset_id: str | None = None
    """A preset to use instead of a URL."""
    generation_id: str | None = None
    """An earlier generation to use instead of a URL."""
    upload_media_id: str | None = None
    """An uploaded file to use instead of a URL."""
    source_start_frame: int | None = None
    """First frame of a clip item to use, >= 0."""
    source_end_frame: int | None = None
    """Last frame of a clip item to use, >= ``source_start_frame``."""

    def __attrs_post_init__(self) -> None:
        for name in ("url", "preset_id", "generation_id", "upload_media_id"):
            check_optional_str(name, getattr(self, name))
        for name in ("frame_index", "source_start_frame", "source_end_frame"):
            check_optional_int(name, getattr(self, name), minimum=0)
        start, end = self.source_start_frame, self.source_end_frame
        if start is not None and end is not None and start > end:
            raise ValidationError("source_start_frame", f"must be <= source_end_frame ({end})", start)


@attrs.frozen(kw_only=True)
class SDEdit:
    """A stochastic diffusion edit of an earlier generation.

    ``source_upload_media_id`` is required by the API but may be null; it is always sent.

    Raises:
        ValidationError: ``amount`` outside 1 to 8, or a source id of the wrong type.

    >>> from sora_async import VideoRequest
    >>> edit = SDEdit(amount=4, source_generation_id="gen_01jhjnz5")
    >>> VideoRequest(prompt="the same fox, at night", sdedit=edit).sdedit.amount
    4
    """

    amount: float
    """How far the edit may move from the source, from 1 to 8."""
    source_generation_id: str
    """The generation to edit; a non-empty string."""
    source_upload_media_id: str | None = None
    """An uploaded file the source came from, or None."""

    def __attrs_post_init__(self) -> None:
        check_number_between("amount", self.amount, low=1, high=8)
        if not isinstance(self.source_generation_id, str) or not self.source_generation_id:
            raise ValidationError(
                "source_generation_id", "must be a non-empty string", self.source_generation_id
            )
        check_encodable("source_generation_id", self.source_generation_id)
        check_optional_str("source_upload_media_id", self.source_upload_media_id)
