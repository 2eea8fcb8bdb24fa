"""The wire format: one cattrs converter between the models and the JSON the relay speaks.

Unstructuring omits every unset field (the relay would otherwise see ``null`` where the seed
document shows no key), except the three the API types as explicit nulls: ``preset_id`` and
``generation_id`` of an inpaint item and ``source_upload_media_id`` of an sdedit. Enums go out as
their values and tuples as lists.

Structuring goes through the models' own constructors, so a JSON line gets exactly the validation a
Python caller gets, with no silent coercion (``"1280"`` stays a wrong type rather than becoming 1280).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_unstructure_fn, override

from ._json import dumps
from ._models import (
    Action,
    GenerationType,
    InpaintItem,
    InpaintType,
    Model,
    Operation,
    SDEdit,
    Style,
    TaskStatus,
    VideoRequest,
    VideoTask,
)

__all__ = ["converter", "dumps_request", "request_from_wire", "request_to_wire", "task_from_wire"]

converter = cattrs.Converter(omit_if_default=True)
"""The one converter; the hooks below teach it the API's rules."""


def _enum_value(member: enum.Enum) -> Any:
    return member.value


_ALWAYS_SENT = override(omit_if_default=False)

for _enum in (GenerationType, InpaintType, Model, Operation, Style, TaskStatus):
    # Per class: these are str subclasses, and cattrs' str passthrough would otherwise win.
    converter.register_unstructure_hook(_enum, _enum_value)
converter.register_unstructure_hook(
    InpaintItem,
    make_dict_unstructure_fn(
        InpaintItem,
        converter,
        _cattrs_omit_if_default=True,
        preset_id=_ALWAYS_SENT,
        generation_id=_ALWAYS_SENT,
    ),
)
converter.register_unstructure_hook(
    SDEdit,
    make_dict_unstructure_fn(
        SDEdit, converter, _cattrs_omit_if_default=True, source_upload_media_id=_ALWAYS_SENT
    ),
)
converter.register_unstructure_hook(
    Action, make_dict_unstructure_fn(Action, converter, _cattrs_omit_if_default=True)
)


def _enum_value_or_none(member: enum.Enum | None) -> Any:
    return None if member is None else member.value


# The request's scalar and enum fields get direct hooks: this runs once per create call, and
# cattrs' generic dispatch for optional fields was a measurable share of the client's CPU. cattrs
# copies a field whose hook is its own ``identity`` without calling anything.
_SCALAR = override(unstruct_hook=identity)
_ENUM = override(unstruct_hook=_enum_value_or_none)
converter.register_unstructure_hook(
    VideoRequest,
    make_dict_unstructure_fn(
        VideoRequest,
        converter,
        _cattrs_omit_if_default=True,
        prompt=_SCALAR,
        width=_SCALAR,
        height=_SCALAR,
        n_frames=_SCALAR,
        n_variants=_SCALAR,
        type=_ENUM,
        style=_ENUM,
        model=_ENUM,
        operation=_ENUM,
    ),
)

converter.register_structure_hook(VideoRequest, lambda data, _: VideoRequest.from_dict(data))
converter.register_structure_hook(VideoTask, lambda data, _: VideoTask.from_api("", data))


def request_to_wire(request: VideoRequest) -> dict[str, Any]:
    """The JSON-ready body of a create call.

    >>> request_to_wire(VideoRequest(prompt="a fox", size="480x480"))
    {'prompt': 'a fox', 'width': 480, 'height': 480}
    """
    result: dict[str, Any] = converter.unstructure(request)
    return result


def dumps_request(request: VideoRequest) -> bytes:
    """The create body as compact UTF-8 JSON bytes, ready to send (serialised once per request)."""
    return dumps(request_to_wire(request))


def request_from_wire(data: Mapping[str, Any]) -> VideoRequest:
    """A validated ``VideoRequest`` from a wire-format mapping; raises ``ValidationError``."""
    return converter.structure(data, VideoRequest)


def task_from_wire(task_id: str, data: Mapping[str, Any] | None) -> VideoTask:
    """A ``VideoTask`` from a query answer's ``data``, tolerating missing, unknown and null fields."""
    return VideoTask.from_api(task_id, data)
