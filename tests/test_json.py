"""JSON on the hot path: faster than json.dumps and json.loads, with their answers, whatever the bytes."""

from __future__ import annotations

import json
import math

import pytest

from sora_async._http import parse_response
from sora_async._json import dumps, loads_utf8


@pytest.mark.parametrize(
    "value",
    [
        {"prompt": "un renard roux", "width": 480, "height": 480},
        {"prompt": "狐狸 🦊", "actions": [{"at": 1.5, "say": "hé"}]},
        {"n": 2**70},  # past 64 bits: orjson refuses it, the standard library writes it
        [],
        "text",
    ],
)
def test_dumps_writes_what_the_standard_library_writes(value: object) -> None:
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"code":"success","data":"task_1"}',
        b'{"code": "success", "data": {"id": 123456789012345678901234567890}}',  # past 64 bits
        b'{"code": "success", "data": "\\ud800"}',  # a lone surrogate
        b'{"code": "success", "a": 1, "a": 2}',  # a repeated key: the last one wins
        b'{"code": "success"}\n',  # whitespace after the value
        b' {"code": "success"}',  # and before it
        b'{"text": "caf\xc3\xa9 \\u00e9"}',
    ],
)
def test_loads_utf8_reads_what_the_standard_library_reads(raw: bytes) -> None:
    assert loads_utf8(raw) == json.loads(raw)


def test_loads_utf8_takes_nan_as_the_standard_library_does() -> None:
    assert math.isnan(loads_utf8(b'{"x": NaN}')["x"])


@pytest.mark.parametrize(
    "raw",
    [b'{"code": "success"', b'{"a": \xff}', b"[" * 100_000 + b"]" * 100_000, b'{"a": 1} trailing'],
)
def test_loads_utf8_refuses_what_the_standard_library_refuses(raw: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)):
        json.loads(raw)
    with pytest.raises((ValueError, RecursionError)):
        loads_utf8(raw)


def test_a_success_with_a_huge_integer_id_is_read_like_any_other() -> None:
    payload = parse_response(200, {}, b'{"code": "success", "data": 123456789012345678901234567890}')
    assert payload["data"] == 123456789012345678901234567890
