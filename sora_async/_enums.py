"""The closed sets of words the API accepts: operations, models, styles, kinds, and the six sizes.

Each is a ``str`` enum whose values are the wire words, so a member and its value are the same
thing to JSON and a request may be given either.
"""

from __future__ import annotations

import enum

__all__ = ["SIZE_TEXT", "GenerationType", "InpaintType", "Model", "Operation", "Size", "Style"]


class Operation(str, enum.Enum):
    """What the generation does with its inputs. Requests accept the member or its value.

    >>> from sora_async import VideoRequest
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

    >>> from sora_async import VideoRequest
    >>> VideoRequest(prompt="a fox", style=Style.NATURAL).style.value
    'natural'
    """

    NATURAL = "natural"


class GenerationType(str, enum.Enum):
    """The kind of generation (the wire field ``type``).

    >>> from sora_async import VideoRequest
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
        """Pixels across: the number before the ``x``."""
        return int(self.value.split("x")[0])

    @property
    def height(self) -> int:
        """Pixels down: the number after the ``x``."""
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


SIZE_TEXT = ", ".join(s.value for s in Size)
"""The six sizes as an error message lists them: ``"480x480, 720x720, ..."``."""
