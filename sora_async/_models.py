"""The request and answer models of the Sora relay API, validated when they are built.

A ``VideoRequest`` that exists is one the relay will accept: every rule of API.md is checked in the
constructor and a broken one raises ``ValidationError`` naming the field, what is allowed and what was
got. That way a bad line in a batch fails before it costs a request, and never after.

Python names equal the wire names (``type`` included), so a JSON line and the keyword arguments
look the same.

Import the models from here. They are written in four files: ``_enums`` (the closed sets of words
and the six sizes), ``_parts`` (actions, inpaint items, the sdedit), ``_request`` (``VideoRequest``)
with ``_fields`` (the field checks they share), and ``_task`` (``TaskStatus``, ``VideoTask``: the
task answer in every relay's shape).
"""

from ._enums import GenerationType, InpaintType, Model, Operation, Size, Style
from ._parts import Action, InpaintItem, SDEdit
from ._request import FRAMES_PER_SECOND, VideoRequest
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
