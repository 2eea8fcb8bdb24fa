"""The key, or any run of 8+ of its characters, in no exception attribute, cause or log record.

Each relay here really echoes the key back (checked first), in a body, a message, a header, or an
excerpt cut in the middle of it; the tests then walk everything the caller can reach.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import sora_async as sa
from sora_async._redact import MIN_RUN, Redactor

KEY = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
BASE = "https://relay.test"
REQ = sa.VideoRequest(prompt="a fox")
NONE = sa.RetryPolicy.none()


def runs(key: str = KEY) -> set[str]:
    return {key[i : i + MIN_RUN] for i in range(len(key) - MIN_RUN + 1)}


def reachable_text(obj: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[str]:
    """str and repr of ``obj`` and of everything reachable from it: attributes, items, causes."""
    seen = set() if seen is None else seen
    if depth > 8 or id(obj) in seen:
        return
    seen.add(id(obj))
    yield str(obj)
    yield repr(obj)
    children: list[Any] = []
    if isinstance(obj, BaseException):
        children += [obj.__cause__, obj.__context__, *obj.args]
    if isinstance(obj, dict | CIMultiDictProxy | CIMultiDict):
        children += list(obj.keys()) + list(obj.values())
    elif isinstance(obj, list | tuple | set | frozenset):
        children += list(obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        children += list(vars(obj).values())
    for child in children:
        if child is not None and not isinstance(child, int | float | bool):
            yield from reachable_text(child, depth + 1, seen)


def assert_no_key(obj: Any) -> None:
    for text in reachable_text(obj):
        found = [r for r in runs() if r in text]
        assert not found, f"key fragment {found[0]!r} in {text[:200]!r}"


ECHOES = {
    "body": lambda key: sa.TransportResponse(
        400, {}, f'{{"code":"invalid_request","message":"bad key {key}"}}'.encode()
    ),
    "openai-body": lambda key: sa.TransportResponse(
        401,
        {},
        f'{{"error":{{"message":"Incorrect API key provided: {key}","type":"new_api_error"}}}}'.encode(),
    ),
    "header": lambda key: sa.TransportResponse(429, {"X-Echo": f"Bearer {key}", "Retry-After": "0"}, b""),
    "excerpt": lambda key: sa.TransportResponse(502, {}, (" " * 490 + key).encode()),
    "truncated-run": lambda key: sa.TransportResponse(500, {}, f"...{key[5:19]}...".encode()),
    "html-200": lambda key: sa.TransportResponse(
        200, {"Content-Type": "text/html"}, f"<p>{key}</p>".encode()
    ),
    "not-json-200": lambda key: sa.TransportResponse(200, {}, f"oops {key}".encode()),
}


@pytest.mark.parametrize("shape", sorted(ECHOES))
async def test_an_echoed_key_reaches_no_exception_attribute(
    shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever the relay echoes, the error and everything reachable from it hold no run of the key."""
    caplog.set_level(logging.DEBUG, logger="sora_async")
    sent: list[str] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        key = request.headers["Authorization"].removeprefix("Bearer ")
        sent.append(key)
        return ECHOES[shape](key)

    async with sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), retry=NONE) as c:
        with pytest.raises(sa.SoraError) as info:
            await c.create_video(REQ)
    assert sent == [KEY]  # the premise: the relay got the key and sent it back
    assert_no_key(info.value)
    assert not any(r in caplog.text for r in runs())


async def test_a_librarys_exception_carrying_the_request_headers_is_scrubbed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """aiohttp's errors keep request_info with the Authorization header: it is dropped on the way up."""
    caplog.set_level(logging.DEBUG, logger="sora_async")

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        info = aiohttp.RequestInfo(
            URL(request.url), request.method, CIMultiDictProxy(CIMultiDict(request.headers)), URL(request.url)
        )
        raise aiohttp.ClientResponseError(info, (), status=418, message=f"teapot for {KEY}")

    async with sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), retry=NONE) as c:
        with pytest.raises(sa.UnexpectedError) as info:
            await c.create_video(REQ)
    assert isinstance(info.value.cause, aiohttp.ClientResponseError)
    assert "Authorization" not in info.value.cause.request_info.headers
    assert_no_key(info.value)
    assert not any(r in caplog.text for r in runs())


async def test_a_header_validation_error_quoting_the_value_is_scrubbed() -> None:
    """A library's ValueError that quotes a header value holding the key does not carry it up."""

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        raise ValueError(f"Newline or carriage return character detected in HTTP header: {request.headers}")

    async with sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), retry=NONE) as c:
        with pytest.raises(sa.UnexpectedError) as info:
            await c.get_task("task_1")
    assert_no_key(info.value)


class TransportBroke(Exception):
    """A custom transport's own error that keeps what it was sending, under names of its own."""

    def __init__(self, request: sa.TransportRequest) -> None:
        super().__init__("the transport broke")
        self.sent = request
        self.copied = dict(request.headers)
        self.tried = [request, {"auth": request.headers["Authorization"]}]
        self.inner = RuntimeError(f"while sending with {request.headers['Authorization']}")


@pytest.mark.parametrize("call", ["create", "get", "submit_many"])
async def test_a_transport_error_keeping_the_request_under_any_name_is_scrubbed(call: str) -> None:
    """The request, a copy of its headers, a list of them, an exception kept in an attribute: the
    caller's error holds no run of the key in any of them (the premise checked first)."""
    raised: list[TransportBroke] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        error = TransportBroke(request)
        assert KEY in error.copied["Authorization"]  # it really holds the key when raised
        raised.append(error)
        raise error

    async with sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), retry=NONE) as c:
        if call == "submit_many":
            (result,) = [r async for r in c.submit_many([REQ])]
            error: Any = result.error
        else:
            with pytest.raises(sa.UnexpectedError) as info:
                await (c.create_video(REQ) if call == "create" else c.get_task("task_1"))
            error = info.value
    assert raised and error.cause is raised[0]
    assert_no_key(error)
    assert error.cause.sent.url.startswith(BASE)  # what is not secret is kept


class _Pair(tuple):  # type: ignore[type-arg]
    """A tuple subclass that cannot be rebuilt from its items alone."""

    def __new__(cls, first: Any, second: Any) -> _Pair:
        return super().__new__(cls, (first, second))


class _Tagged(list):  # type: ignore[type-arg]
    def __init__(self, *, items: Any) -> None:
        super().__init__(items)


_Sent = collections.namedtuple("_Sent", "url raw")


class _SentWithHeaders(_Sent):
    @property
    def headers(self) -> dict[str, str]:
        return dict(self.raw)


class _Broken:
    @property
    def headers(self) -> dict[str, str]:
        raise RuntimeError("cannot read")


class _Request:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


def _hostile_attributes(request: sa.TransportRequest) -> dict[str, Any]:
    auth = request.headers["Authorization"]
    peers = [OSError(f"peer {n} saw {auth}") for n in range(12)]
    for error in peers:
        for n, other in enumerate(peers):
            setattr(error, f"peer{n}", other)  # each points at all the others
    shapes: dict[str, Any] = {
        "tuple-subclass": _Pair(auth, 1),
        "list-subclass": _Tagged(items=[auth]),
        "namedtuple-headers-property": _SentWithHeaders(request.url, tuple(request.headers.items())),
        "headers-property-raises": _Broken(),
        "object-with-headers": _Request(dict(request.headers)),
        "exceptions-in-a-list": [RuntimeError(auth)],
        "int-and-bytes-headers": {"Authorization": auth, b"x-key": auth.encode(), "n": 1},
        "exceptions-pointing-at-each-other": peers[0],
    }
    if sys.version_info >= (3, 11):
        shapes["exception-group"] = ExceptionGroup("many", [ValueError(auth)])  # noqa: F821
    return shapes


@pytest.mark.parametrize(
    "shape", sorted(_hostile_attributes(sa.TransportRequest("GET", BASE, {"Authorization": "k"})))
)
async def test_an_attribute_that_resists_scrubbing_is_masked_never_a_crash(shape: str) -> None:
    """Attributes that cannot be rebuilt, read or copied, or that nest exceptions: the caller
    still gets UnexpectedError (never a failure of the scrub), and no run of the key anywhere."""

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        error = OSError("the transport broke")
        error.kept = _hostile_attributes(request)[shape]  # type: ignore[attr-defined]
        raise error

    async with sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), retry=NONE) as c:
        with pytest.raises(sa.UnexpectedError) as info:
            await c.get_task("task_1")
    assert isinstance(info.value.cause, OSError)
    assert_no_key(info.value)


def test_the_redactor_blanks_every_run_of_eight() -> None:
    """Every 8-character window of the key is blanked wherever it appears; shorter runs are left."""
    redact = Redactor(KEY)
    for start in range(len(KEY) - 8):
        assert KEY[start : start + 8] not in redact(f"x{KEY[start : start + 8]}y")
    assert redact(KEY[:7]) == KEY[:7]
    assert redact("nothing here") == "nothing here"


def test_a_short_test_key_is_not_blanked_everywhere() -> None:
    """Keys under 8 characters are not redacted (they would mangle ordinary words)."""
    assert Redactor("k")("a kind word") == "a kind word"


async def test_a_task_whose_fail_reason_echoes_the_key_hands_it_on_nowhere() -> None:
    """A relay writes the request's Authorization header into a FAILURE's fail_reason (an upstream
    error quoting it): the task, its raw answer and TaskFailedError hold no run of the key, and
    the rest of the reason is kept."""

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        reason = f"upstream refused: headers {request.headers['Authorization']}"
        body = {"code": "success", "data": {"task_id": "task_1", "status": "FAILURE", "fail_reason": reason}}
        return sa.TransportResponse(200, {}, json.dumps(body).encode())

    async with sa.SoraClient(KEY, base_url=BASE, transport=sa.MockTransport(handler), retry=NONE) as c:
        task = await c.get_task("task_1")
        with pytest.raises(sa.TaskFailedError) as info:
            await c.wait_for_task("task_1", timeout=5)
    assert task.fail_reason.startswith("upstream refused: headers Bearer ***")
    assert_no_key(task)
    assert_no_key(task.raw)
    assert_no_key(info.value)
