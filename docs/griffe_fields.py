"""A griffe extension for the API reference: an ``Attributes:`` entry of an attrs class describes its field.

``griffe_fieldz`` gives an attrs class one parameter row per field, described by the field's own
docstring (the string under it) or by an ``Args:`` entry of the class; an ``Attributes:`` entry it
drops, leaving the row blank. This extension runs first and hands each ``Attributes:`` description of
a class to the field it names, when that field has no docstring of its own, so all three ways of
describing a field show in the reference.

mkdocs.yml loads it before griffe_fieldz (``docs/griffe_fields.py:AttributesDescribeFields``).
"""

from __future__ import annotations

from typing import Any

import griffe


def attribute_descriptions(cls: griffe.Class) -> dict[str, str]:
    """``name -> description`` of the non-empty entries of the class docstring's ``Attributes:`` sections.

    >>> cls = griffe.Class("Point", docstring=griffe.Docstring("A point.\\n\\nAttributes:\\n    x: Across."))
    >>> attribute_descriptions(cls)
    {'x': 'Across.'}
    """
    if cls.docstring is None:
        return {}
    found = {}
    for section in cls.docstring.parse("google", warnings=False):
        if section.kind is griffe.DocstringSectionKind.attributes:
            found.update({item.name: item.description for item in section.value if item.description})
    return found


class AttributesDescribeFields(griffe.Extension):
    """Gives a class's fields the descriptions of its ``Attributes:`` section, where they have none."""

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        for name, description in attribute_descriptions(cls).items():
            member = cls.members.get(name)
            if not isinstance(member, griffe.Attribute) or member.docstring:
                continue  # not a field (or an alias of one), or it describes itself
            member.docstring = griffe.Docstring(description, parent=member)
