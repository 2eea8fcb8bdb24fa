"""Checks and converters for the fields of the request models, each raising ``ValidationError``.

Every refusal names the field (with its path inside nested models, e.g. ``actions[0].time``), says
what is allowed and shows what came, so a bad line of a batch can be fixed from the message alone.
The plain number checks shared beyond the models are in ``_checks``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ._checks import is_int, is_number
from ._errors import ValidationError

__all__ = [
    "MISSING",
    "check_encodable",
    "check_number_between",
    "check_optional_int",
    "check_optional_str",
    "first_unknown_key",
    "optional_model",
    "to_enum",
    "tuple_of",
]

_E = TypeVar("_E", bound=enum.Enum)


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()
"""Stands for an absent value in a ValidationError (``got nothing``)."""


def check_optional_str(field: str, value: object) -> None:
    """Refuse anything but None or a string.

    Args:
        field: The field's name, for the message.
        value: The value given.

    Raises:
        ValidationError: ``value`` is neither None nor a string.
    """
    if value is not None and not isinstance(value, str):
        raise ValidationError(field, "must be a string", value)
    if value is not None:
        check_encodable(field, value)


def check_encodable(field: str, value: str) -> None:
    """Refuse text that no request can carry: a lone surrogate (from a ``\\ud800`` escape in JSON,
    say) has no UTF-8 form, so the body could never be sent.

    Raises:
        ValidationError: ``value`` holds a lone surrogate.
    """
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            field, "must be text that UTF-8 can encode (it holds a lone surrogate)", value
        ) from None


def check_optional_int(field: str, value: object, *, minimum: int | None = None) -> None:
    """Refuse anything but None or an integer (``True`` is not one), at least ``minimum`` if given.

    Args:
        field: The field's name, for the message.
        value: The value given.
        minimum: The smallest integer allowed, or None for any.

    Raises:
        ValidationError: ``value`` is not an integer, or is below ``minimum``.
    """
    if value is None:
        return
    if not is_int(value):
        raise ValidationError(field, "must be an integer", value)
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise ValidationError(field, f"must be >= {minimum}", value)


def check_number_between(field: str, value: object, *, low: float, high: float | None = None) -> None:
    """Refuse anything but a finite number from ``low`` to ``high`` (inclusive; no ``high``: no cap).

    Args:
        field: The field's name, for the message.
        value: The value given.
        low: The smallest value allowed.
        high: The largest value allowed, or None for no upper bound.

    Raises:
        ValidationError: ``value`` is not a finite number, or lies outside the bounds.
    """
    if not (is_number(value) and math.isfinite(value)):  # type: ignore[arg-type]
        raise ValidationError(field, "must be a number", value)
    if value < low or (high is not None and value > high):  # type: ignore[operator]
        allowed = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise ValidationError(field, f"must be {allowed}", value)


def to_enum(enum_cls: type[_E], field: str, value: object) -> _E | None:
    """Accept the enum member or its wire value; reject anything else naming the allowed values.

    Args:
        enum_cls: The enum to convert to.
        field: The field's name, for the message.
        value: The member, its value, or None (kept as None).

    Raises:
        ValidationError: ``value`` is no member's value.
    """
    if value is None or isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(repr(m.value) for m in enum_cls)
        raise ValidationError(field, f"must be one of {allowed}", value) from None


def tuple_of(item_cls: type[Any], field: str) -> Callable[[object], tuple[Any, ...] | None]:
    """A converter: a list/tuple of ``item_cls`` or of mappings with its fields, stored as a tuple.

    A tuple keeps the frozen model hashable and its items in order; each item's errors are named
    by its index (``field[2].time``).

    Args:
        item_cls: The attrs model of each item.
        field: The field's name, for the messages.
    """

    def convert(value: object) -> tuple[Any, ...] | None:
        if value is None:
            return None
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise ValidationError(field, f"must be a list of {item_cls.__name__}", value)
        return tuple(_coerce_item(item_cls, f"{field}[{i}]", item) for i, item in enumerate(value))

    return convert


def optional_model(item_cls: type[Any], field: str) -> Callable[[object], Any]:
    """A converter: None, an ``item_cls``, or a mapping of its fields built into one.

    Args:
        item_cls: The attrs model accepted.
        field: The field's name, for the messages.
    """

    def convert(value: object) -> Any:
        return None if value is None else _coerce_item(item_cls, field, value)

    return convert


def first_unknown_key(data: Mapping[Any, Any], known: set[str]) -> Any:
    """The first key (in sorted text order) that is not a known field, or None; keys need not be str.

    Sorted so that the same bad input always names the same key.

    Args:
        data: The mapping given.
        known: The field names allowed.
    """
    unknown = [k for k in data if not (isinstance(k, str) and k in known)]
    return min(unknown, key=str) if unknown else None


def _coerce_item(item_cls: type[Any], field: str, item: object) -> Any:
    if isinstance(item, item_cls):
        return item
    if isinstance(item, Mapping):
        return _from_mapping(item_cls, field, item)
    raise ValidationError(field, f"must be a {item_cls.__name__} or a mapping", item)


def _from_mapping(cls: type[Any], field: str, data: Mapping[str, Any]) -> Any:
    """Build a model from a mapping, naming unknown keys (typos) and missing ones with their path."""
    fields = attrs.fields(cls)
    unknown = first_unknown_key(data, {a.name for a in fields})
    if unknown is not None:
        raise ValidationError(f"{field}.{unknown}", f"is not a field of {cls.__name__}", data[unknown])
    for a in fields:
        if a.default is attrs.NOTHING and a.name not in data:
            raise ValidationError(f"{field}.{a.name}", "is required", MISSING)
    try:
        return cls(**data)
    except ValidationError as exc:
        raise ValidationError(f"{field}.{exc.field}", exc.expected, exc.got) from None
