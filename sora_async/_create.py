"""What a create call starts from: the request, its idempotency key, and the call's state.

``create_video``, ``submit`` and ``submit_many`` (and the batch) take a ``VideoRequest`` or its
fields as keywords, and send every attempt of one call under one idempotency key: a fresh one unless
the caller gives theirs. The key is made here without a system call per request.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any

from ._checks import check_idempotency_key
from ._errors import ValidationError
from ._models import VideoRequest
from ._retry import CallState

__all__ = ["create_state", "new_key", "request_from"]

_KEY_PREFIX = uuid.uuid4().hex
_key_counter = itertools.count(1)


def new_key() -> str:
    """A fresh idempotency key: a random per-process prefix and a counter.

    As unique as a uuid4 per key (the 128-bit prefix is random), without a system call per request.
    """
    return f"{_KEY_PREFIX}-{next(_key_counter)}"


def create_state(idempotency_key: str | None) -> CallState:
    """The state of one create call: its key (the caller's, checked, or a fresh one) and attempts."""
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    return CallState(operation="create_video", creates=True, idempotency_key=idempotency_key or new_key())


def request_from(request: VideoRequest | None, fields: Mapping[str, Any]) -> VideoRequest:
    """The request given, or one built from keyword fields; never both."""
    if request is None:
        if not fields:
            raise ValidationError("request", "must be a VideoRequest, or its fields as keywords", None)
        return VideoRequest(**fields)
    if not isinstance(request, VideoRequest):
        raise ValidationError("request", "must be a VideoRequest", request)
    if fields:
        raise ValidationError(
            "request", "cannot be combined with keyword fields (give one or the other)", sorted(fields)
        )
    return request
