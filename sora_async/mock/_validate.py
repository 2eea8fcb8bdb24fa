"""Validation of a create-video body, as strict as a real relay (API.md, the seed document wins).

The mock rejects what a relay would reject so that client-side validation bugs show up in tests as a
400 `invalid_request` and not as a silently accepted task. Unknown fields are let through (relays forward
them upstream), and a JSON `null` counts as an absent field.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

import attrs

SIZES: tuple[tuple[int, int], ...] = (
    (480, 480),
    (720, 720),
    (480, 854),
    (854, 480),
    (1280, 720),
    (720, 1280),
)
DEFAULT_SIZE = SIZES[0]
_CANONICAL_SIZES = {size: size for size in SIZES}
"""Maps a parsed size to the module's own tuple, so a million task records share six pairs of ints."""
N_FRAMES = (150, 300)
ENUMS: dict[str, tuple[str, ...]] = {
    "type": ("video_gen",),
    "style": ("natural",),
    "model": ("turbo",),
    "operation": ("simple_compose", "storyboard", "remix", "blend"),
}
FAIL_MARKER = "[fail]"
"""A prompt containing this text always ends in FAILURE: a deterministic failure for tests and demos."""

_SIZE_TEXT = ", ".join(f"{w}x{h}" for w, h in SIZES)


class InvalidRequest(Exception):
    """The body breaks the API contract; `str(exc)` is the message sent back to the client."""


@attrs.frozen
class CreateSpec:
    """What the mock needs to remember of a valid create body."""

    width: int
    height: int
    n_variants: int
    wants_failure: bool
    model: str | None = None


def parse_create(raw: bytes, *, any_model: bool = False) -> CreateSpec:
    """Decode and check a create body; raise `InvalidRequest` naming the first problem found.

    `any_model` lets `model` be any name (new-api routes by channel model names such as "sora-2");
    otherwise it must be one of API.md's.
    """
    body = _decode_object(raw)
    width, height = _check_size(body)
    _check_choice(body, "n_frames", N_FRAMES)
    n_variants = _check_variants(body)
    for name, allowed in ENUMS.items():
        if not (any_model and name == "model"):
            _check_choice(body, name, allowed)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest(f"'model' must be a string (got {model!r})")
    _check_actions(body)
    _check_inpaint_items(body)
    _check_sdedit(body)
    prompt = _check_prompt(body)
    return CreateSpec(width, height, n_variants, wants_failure=FAIL_MARKER in prompt, model=model)


def _decode_object(raw: bytes) -> dict[str, Any]:
    """The body as a dict with its nulls dropped, or `InvalidRequest`."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"request body must be a JSON object (got invalid JSON: {exc})") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object (got {type(body).__name__})")
    return {key: value for key, value in body.items() if value is not None}


def _is_int(value: object) -> TypeGuard[int]:
    """JSON integer: `True` decodes to a Python int too, but it is not a number on the wire."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    """JSON number (int or float, not bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_size(body: dict[str, Any]) -> tuple[int, int]:
    """Width and height come together and name one of the six presets."""
    width, height = body.get("width"), body.get("height")
    if width is None and height is None:
        return DEFAULT_SIZE
    if width is None or height is None:
        raise InvalidRequest("'width' and 'height' must be given together")
    size = _CANONICAL_SIZES.get((width, height)) if _is_int(width) and _is_int(height) else None
    if size is None:
        raise InvalidRequest(f"'width'x'height' must be one of {_SIZE_TEXT} (got {width!r}x{height!r})")
    return size


def _check_choice(body: dict[str, Any], name: str, allowed: tuple[object, ...]) -> None:
    """An optional field whose value, when present, must be one of `allowed` (exact type too)."""
    if name not in body:
        return
    value = body[name]
    if not any(type(value) is type(choice) and value == choice for choice in allowed):
        choices = ", ".join(repr(choice) for choice in allowed)
        raise InvalidRequest(f"'{name}' must be one of {choices} (got {value!r})")


def _check_variants(body: dict[str, Any]) -> int:
    """`n_variants` is an integer >= 1; it defaults to one generation."""
    value = body.get("n_variants", 1)
    if not _is_int(value) or value < 1:
        raise InvalidRequest(f"'n_variants' must be an integer >= 1 (got {value!r})")
    return value


def _check_actions(body: dict[str, Any]) -> None:
    """Every action is an object with a numeric `time` and a string `description`."""
    actions = body.get("actions", [])
    if not isinstance(actions, list):
        raise InvalidRequest(f"'actions' must be a list (got {type(actions).__name__})")
    for index, item in enumerate(actions):
        if not isinstance(item, dict):
            raise InvalidRequest(f"'actions[{index}]' must be an object (got {type(item).__name__})")
        if not _is_number(item.get("time")):
            raise InvalidRequest(f"'actions[{index}].time' is required and must be a number")
        if not isinstance(item.get("description"), str):
            raise InvalidRequest(f"'actions[{index}].description' is required and must be a string")


def _check_inpaint_items(body: dict[str, Any]) -> None:
    """Inpaint items are objects; their fields are optional, but `type` can only be "image"."""
    items = body.get("inpaint_items", [])
    if not isinstance(items, list):
        raise InvalidRequest(f"'inpaint_items' must be a list (got {type(items).__name__})")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRequest(f"'inpaint_items[{index}]' must be an object (got {type(item).__name__})")
        kind = item.get("type")
        if kind is not None and kind != "image":
            raise InvalidRequest(f"'inpaint_items[{index}].type' must be 'image' (got {kind!r})")


def _check_sdedit(body: dict[str, Any]) -> None:
    """An sdedit needs an amount in 1..8 and the generation it edits.

    `source_upload_media_id` is only type-checked: the seed marks it required-but-nullable, and a client
    that drops unset fields would otherwise be refused for sending the same meaning.
    """
    if "sdedit" not in body:
        return
    sdedit = body["sdedit"]
    if not isinstance(sdedit, dict):
        raise InvalidRequest(f"'sdedit' must be an object (got {type(sdedit).__name__})")
    amount = sdedit.get("amount")
    if not (_is_number(amount) and 1 <= amount <= 8):
        raise InvalidRequest(f"'sdedit.amount' is required and must be a number from 1 to 8 (got {amount!r})")
    source = sdedit.get("source_generation_id")
    if not isinstance(source, str) or not source:
        raise InvalidRequest("'sdedit.source_generation_id' is required and must be a non-empty string")
    media = sdedit.get("source_upload_media_id")
    if media is not None and not isinstance(media, str):
        raise InvalidRequest(f"'sdedit.source_upload_media_id' must be a string or null (got {media!r})")


def _check_prompt(body: dict[str, Any]) -> str:
    """A task needs something to generate from: a prompt, inpaint items or an sdedit."""
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise InvalidRequest(f"'prompt' must be a string (got {type(prompt).__name__})")
    if not prompt.strip() and not body.get("inpaint_items") and "sdedit" not in body:
        raise InvalidRequest("one of 'prompt', 'inpaint_items' or 'sdedit' is required")
    return prompt
