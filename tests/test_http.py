"""Unit tests of the HTTP layer: envelope parsing, error classes, Retry-After, transport errors."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import inspect
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from multidict import CIMultiDict
from yarl import URL

import sora_async as sa
from sora_async import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from sora_async._errors import BODY_EXCERPT_LIMIT, status_error_class
from sora_async._http import parse_response, parse_retry_after
from sora_async._transport import RECV_SIZE, AiohttpTransport, TransportRequest
from tests.scripted import Reply, ScriptedServer, envelope

BASE = "https://relay.example"
CREATE_URL = f"{BASE}/sora/v1/videos"
TASK_URL = f"{CREATE_URL}/task_1"
SECRET = "sk-live-THIS-IS-THE-SECRET-KEY-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    + "<div class='challenge'>checking your browser</div>" * 60
    + "</body></html>"
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A real aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


class _FinishedUploadResponse(aiohttp.ClientResponse):
    """A ClientResponse that aioresponses 0.7.9 can build under aiohttp >= 3.14.

    aiohttp 3.14 made ``stream_writer`` a required argument of ``ClientResponse``, which aioresponses
    (pnuckowski/aioresponses#289) does not pass yet. A canned response has no upload in flight, so a
    writer that reports zero bytes sent is all it needs.
    """

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses standing in for the relay; no real network."""
    if _NEEDS_STREAM_WRITER:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _FinishedUploadResponse)
    with aioresponses() as mocked:
        yield mocked


def raw(value: Any) -> bytes:
    """A JSON body as bytes."""
    return json.dumps(value).encode()


def parse_error(status: int, body: bytes, headers: dict[str, str] | None = None) -> APIError:
    """Run ``parse_response`` on an answer that must fail, and return the exception."""
    with pytest.raises(APIError) as info:
        parse_response(status, headers or {}, body)
    return info.value


def data_of(payload: Any) -> Any:
    """The envelope's ``data`` (what these tests compare), or the payload when it is no envelope."""
    return payload.get("data") if isinstance(payload, dict) else payload


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    secret: str | None = None,
) -> Any:
    """One exchange through the aiohttp transport on ``session``, read as the request core reads it."""
    transport = AiohttpTransport()
    transport._session = session
    response = await transport.send(TransportRequest(method, url, headers, body), max_body=1 << 20)
    return data_of(
        parse_response(
            response.status, response.headers, response.body, creates=method == "POST", secret=secret
        )
    )


def connector_error() -> aiohttp.ClientConnectorError:
    """A ClientConnectorError as aiohttp raises it when the TCP connect is refused."""
    given: dict[str, Any] = {"host": "relay.example", "port": 443, "is_ssl": True, "ssl": True}
    fields: dict[str, Any] = {name: given.get(name) for name in ConnectionKey._fields}
    key = ConnectionKey(**fields)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


# --- success ----------------------------------------------------------------------------------------


async def test_send_returns_the_task_id_of_a_successful_create(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """POST with a success envelope returns ``data`` (the task id) and sends body and headers as given."""
    relay.post(CREATE_URL, status=200, payload=envelope("success", data="task_01jhjnz502ejqsm6r37km2q637"))
    body = b'{"prompt":"a fox"}'
    result = await send(session, "POST", CREATE_URL, headers=AUTH, body=body)
    assert result == "task_01jhjnz502ejqsm6r37km2q637"
    (call,) = relay.requests[("POST", URL(CREATE_URL))]
    assert call.kwargs["data"] == body
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {SECRET}"


async def test_send_returns_the_task_object_of_a_successful_query(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """GET with a success envelope returns the task mapping."""
    task = {"task_id": "task_1", "status": "IN_PROGRESS", "progress": "42%"}
    relay.get(TASK_URL, status=200, payload=envelope("success", data=task))
    assert await send(session, "GET", TASK_URL, headers=AUTH) == task


@pytest.mark.parametrize(
    ("body", "data"),
    [
        ({"code": "success", "message": "", "data": "task_1"}, "task_1"),
        ({"code": "success", "data": None}, None),
        ({"code": "success"}, None),
        ({"data": "task_1"}, "task_1"),
        ({"code": None, "data": {"a": 1}}, {"a": 1}),
        ({"error": None, "data": "task_1"}, "task_1"),
    ],
)
def test_success_envelopes_return_data(body: dict[str, Any], data: Any) -> None:
    """A 200 whose code is ``success`` (or absent, with ``data`` and no error) yields ``data``."""
    assert data_of(parse_response(200, {}, raw(body))) == data


# --- 200 with an error code -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("invalid_request", BadRequestError),
        ("invalid_api_key", AuthenticationError),
        ("task_not_exist", NotFoundError),
        ("rate_limit_exceeded", RateLimitError),
        ("do_request_failed", ServerError),
        ("get_task_failed", ServerError),
        ("some_new_code", APIStatusError),
    ],
)
def test_http_200_with_a_non_success_code_raises_by_code(code: str, cls: type[APIStatusError]) -> None:
    """A 200 whose code is not ``success`` is an error whose class the code decides."""
    exc = parse_error(200, raw(envelope(code, "something went wrong")))
    assert type(exc) is cls
    assert isinstance(exc, APIStatusError)
    assert (exc.status_code, exc.code, exc.message) == (200, code, "something went wrong")


# --- error statuses with the envelope ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request", BadRequestError),
        (400, "task_not_exist", NotFoundError),
        (401, "invalid_api_key", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (404, "task_not_exist", NotFoundError),
        (422, "invalid_request", BadRequestError),
        (429, "rate_limit_exceeded", RateLimitError),
        (500, "do_request_failed", ServerError),
        (500, "get_task_failed", ServerError),
        (500, "task_not_exist", NotFoundError),
        (502, "bad_gateway", ServerError),
        (503, "upstream_busy", ServerError),
        (504, "gateway_timeout", ServerError),
        (524, "timeout", ServerError),
        (409, "conflict", APIStatusError),
    ],
)
async def test_error_status_with_envelope_raises_the_right_class(
    session: aiohttp.ClientSession, relay: aioresponses, status: int, code: str, cls: type[APIStatusError]
) -> None:
    """Each status/code pair maps to its class, carrying status, code, message, request id and body."""
    body = raw(envelope(code, "the relay says no"))
    relay.post(CREATE_URL, status=status, body=body, headers={"x-request-id": "req_123"})
    with pytest.raises(APIStatusError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.code == code
    assert exc.message == "the relay says no"
    assert exc.request_id == "req_123"
    assert exc.body == body.decode()
    assert exc.request_sent is True


async def test_request_id_is_read_from_the_request_id_header(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """Relays that send ``request-id`` instead of ``x-request-id`` are understood too."""
    relay.get(
        TASK_URL,
        status=400,
        payload=envelope("task_not_exist", "no such task"),
        headers={"Request-Id": "r-9"},
    )
    with pytest.raises(NotFoundError) as info:
        await send(session, "GET", TASK_URL, headers=AUTH)
    assert info.value.request_id == "r-9"


def test_x_request_id_wins_over_request_id() -> None:
    """With both headers present, ``x-request-id`` is the one reported."""
    exc = parse_error(400, raw(envelope("invalid_request")), {"request-id": "b", "x-request-id": "a"})
    assert isinstance(exc, APIStatusError)
    assert exc.request_id == "a"


def test_request_id_header_is_found_in_any_case() -> None:
    """Header names are case-insensitive, even in a plain dict."""
    exc = parse_error(400, raw(envelope("invalid_request")), {"X-Request-ID": "req_7"})
    assert isinstance(exc, APIStatusError)
    assert exc.request_id == "req_7"


def test_missing_request_id_is_none() -> None:
    """Without a request id header the attribute is None."""
    exc = parse_error(400, raw(envelope("invalid_request")))
    assert isinstance(exc, APIStatusError)
    assert exc.request_id is None


def test_set_cookie_is_not_kept_on_the_exception() -> None:
    """Response headers are kept for debugging, minus cookies."""
    exc = parse_error(
        429, raw(envelope("rate_limit_exceeded")), {"Set-Cookie": "session=abc", "Retry-After": "3"}
    )
    assert isinstance(exc, APIStatusError)
    assert exc.headers == {"Retry-After": "3"}


# --- other body shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "cls", "code"),
    [
        (
            429,
            {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
            RateLimitError,
            "rate_limit_exceeded",
        ),
        (
            401,
            {"message": "Incorrect API key", "type": "invalid_request_error", "code": None},
            AuthenticationError,
            "invalid_request_error",
        ),
        (
            400,
            {"message": "bad prompt", "type": "invalid_request_error"},
            BadRequestError,
            "invalid_request_error",
        ),
        (500, {"message": "upstream error", "code": "do_request_failed"}, ServerError, "do_request_failed"),
    ],
)
def test_openai_style_error_bodies_are_understood(
    status: int, error: dict[str, Any], cls: type[APIStatusError], code: str
) -> None:
    """``{"error": {"message", "type", "code"}}`` gives code (or type) and message."""
    exc = parse_error(status, raw({"error": error}))
    assert type(exc) is cls
    assert isinstance(exc, APIStatusError)
    assert exc.code == code
    assert exc.message == error["message"]


def test_openai_style_error_with_200_is_an_error() -> None:
    """An OpenAI-style error body is an error even with HTTP 200."""
    exc = parse_error(200, raw({"error": {"message": "quota exhausted", "type": "insufficient_quota"}}))
    assert type(exc) is APIStatusError
    assert isinstance(exc, APIStatusError)
    assert (exc.code, exc.message) == ("insufficient_quota", "quota exhausted")


def test_error_given_as_a_plain_string_is_the_message() -> None:
    """``{"error": "text"}`` gives that text as the message and no code."""
    exc = parse_error(403, raw({"error": "forbidden for this key"}))
    assert type(exc) is PermissionDeniedError
    assert isinstance(exc, APIStatusError)
    assert (exc.code, exc.message) == (None, "forbidden for this key")


@pytest.mark.parametrize(("status", "cls"), [(403, PermissionDeniedError), (429, RateLimitError)])
async def test_html_challenge_page_is_reported_as_html(
    session: aiohttp.ClientSession, relay: aioresponses, status: int, cls: type[APIStatusError]
) -> None:
    """A CDN's HTML page on 403/429 says so in the message and keeps only a truncated body."""
    assert len(HTML_PAGE) > BODY_EXCERPT_LIMIT * 2
    relay.post(CREATE_URL, status=status, body=HTML_PAGE, content_type="text/html")
    with pytest.raises(APIStatusError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.code is None
    assert "HTML" in exc.message
    assert "CDN" in exc.message
    assert exc.body.startswith(HTML_PAGE[:BODY_EXCERPT_LIMIT])
    assert exc.body.endswith(f"... [{len(HTML_PAGE) - BODY_EXCERPT_LIMIT} more characters]")
    assert len(exc.body) < BODY_EXCERPT_LIMIT + 40
    assert HTML_PAGE not in str(exc)


def test_body_at_the_limit_is_kept_whole() -> None:
    """A body of exactly the excerpt limit is not truncated."""
    body = "x" * BODY_EXCERPT_LIMIT
    exc = parse_error(502, body.encode())
    assert isinstance(exc, APIStatusError)
    assert exc.body == body


@pytest.mark.parametrize(
    ("status", "cls"), [(502, ServerError), (401, AuthenticationError), (418, APIStatusError)]
)
def test_empty_error_body_is_described_as_empty(status: int, cls: type[APIStatusError]) -> None:
    """An error status with no body still raises its class, saying the body was empty."""
    exc = parse_error(status, b"")
    assert type(exc) is cls
    assert isinstance(exc, APIStatusError)
    assert (exc.code, exc.message, exc.body) == (None, "empty body", "")


@pytest.mark.parametrize("body", [b'{"code": "do_request_failed", "mess', b"{not json}", b"[1, 2"])
def test_invalid_json_error_body_is_quoted_in_the_message(body: bytes) -> None:
    """Broken JSON on an error status raises by status and quotes the start of the text."""
    exc = parse_error(500, body)
    assert type(exc) is ServerError
    assert isinstance(exc, APIStatusError)
    assert exc.code is None
    assert exc.message == repr(body.decode())
    assert exc.body == body.decode()


def test_plain_text_error_body_is_quoted_in_the_message() -> None:
    """A plain-text gateway answer ends up, quoted and shortened, in the message."""
    exc = parse_error(503, b"Service Unavailable\n" + b"x" * 300)
    assert type(exc) is ServerError
    assert isinstance(exc, APIStatusError)
    assert exc.message.startswith("'Service Unavailable\\n")
    assert len(exc.message) < 130


@pytest.mark.parametrize(
    ("body", "described"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b'{"code": "success", "data": ', '\'{"code": "success", "data":\''),
        (b"OK", "'OK'"),
        (b"\xef\xbb\xbf\xff\xfe not utf-8", "not utf-8"),
    ],
)
def test_http_200_that_is_not_json_is_a_response_validation_error(body: bytes, described: str) -> None:
    """A 200 whose body is no JSON at all (empty, broken, plain text, not UTF-8) is not data."""
    exc = parse_error(200, body)
    assert type(exc) is APIResponseValidationError
    assert exc.status_code == 200
    assert exc.body == body.decode("utf-8", "replace")
    assert described in str(exc)
    assert str(exc).startswith("HTTP 200 with a body that is not JSON: ")
    assert exc.verdict is sa.Verdict.AMBIGUOUS  # a create may have been carried out


@pytest.mark.parametrize("body", [b'"task_1"', b"[1, 2]", b"{}", b'{"task_id": "task_1"}', b"\xef\xbb\xbf{}"])
def test_http_200_with_any_json_is_handed_to_the_dialect(body: bytes) -> None:
    """Any JSON success (an OpenAI object, a bare id, a BOM first) is the dialect's to read."""
    assert parse_response(200, {}, body) == json.loads(body.decode("utf-8-sig"))


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_any_nesting_depth_ends_in_an_sdk_error(depth: int) -> None:
    """A hostile nesting depth is refused as not JSON, never a RecursionError."""
    exc = parse_error(200, b"[" * depth + b"]" * depth)
    assert type(exc) is APIResponseValidationError


async def test_send_raises_configuration_error_for_html_200(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """A 200 web page where an API answer belongs is a wrong route (new-api's dashboard): nothing made."""
    relay.post(CREATE_URL, status=200, body=HTML_PAGE, content_type="text/html")
    with pytest.raises(sa.ConfigurationError, match="web page") as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    assert info.value.verdict is sa.Verdict.FATAL
    assert info.value.affects_all_requests


# --- classes and messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, None, BadRequestError),
        (400, "task_not_exist", NotFoundError),
        (401, None, AuthenticationError),
        (403, None, PermissionDeniedError),
        (404, None, NotFoundError),
        (422, None, BadRequestError),
        (429, None, RateLimitError),
        (500, None, ServerError),
        (501, None, ServerError),
        (599, None, ServerError),
        (408, None, APIStatusError),
        (418, None, APIStatusError),
        (302, None, APIStatusError),
    ],
)
def test_status_error_class_by_status_and_code(
    status: int, code: str | None, cls: type[APIStatusError]
) -> None:
    """The status picks the class; ``task_not_exist`` always means NotFoundError."""
    assert status_error_class(status, code) is cls


@pytest.mark.parametrize("status", [500, 502, 503, 504, 524, 599])
async def test_5xx_is_a_server_error(
    session: aiohttp.ClientSession, relay: aioresponses, status: int
) -> None:
    """Every 5xx is a ServerError, whatever the body."""
    relay.get(TASK_URL, status=status, body="upstream busy", content_type="text/plain")
    with pytest.raises(ServerError) as info:
        await send(session, "GET", TASK_URL, headers=AUTH)
    assert info.value.status_code == status


def test_str_of_a_status_error_is_one_line_with_status_code_message_and_request_id() -> None:
    """``str(exc)`` reads ``HTTP <status> <code>: <message> (request id <id>)``."""
    exc = parse_error(400, raw(envelope("invalid_request", "width must be 480")), {"x-request-id": "req_1"})
    assert str(exc) == "HTTP 400 invalid_request: width must be 480 (request id req_1)"


def test_str_of_a_status_error_without_code_or_message() -> None:
    """Parts the relay did not send are left out of ``str(exc)``."""
    exc = parse_error(200, raw({"code": "quota_exhausted"}))
    assert str(exc) == "HTTP 200 quota_exhausted"


def test_str_of_a_status_error_stays_on_one_line_for_a_multiline_message() -> None:
    """A relay message with newlines is flattened in ``str(exc)`` but kept whole in ``message``."""
    exc = parse_error(500, raw(envelope("do_request_failed", "upstream said:\n  bad\r\n  things")))
    assert isinstance(exc, APIStatusError)
    assert str(exc) == "HTTP 500 do_request_failed: upstream said: bad things"
    assert exc.message == "upstream said:\n  bad\r\n  things"


# --- Retry-After ------------------------------------------------------------------------------------


def http_date(delta: float, *, usegmt: bool = True) -> str:
    """An HTTP date ``delta`` seconds from now."""
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta)
    if not usegmt:
        return email.utils.format_datetime(moment.replace(tzinfo=None))  # "... -0000"
    return email.utils.format_datetime(moment, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after-ms": "250.5"}, 0.2505),
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "7"}, 7.0),
        ({"RETRY-AFTER-MS": "2000"}, 2.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": " 3 "}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after-ms": "-100"}, 0.0),
        ({"retry-after-ms": "500", "retry-after": "30"}, 0.5),
        ({"retry-after-ms": "soon", "retry-after": "30"}, 30.0),
        ({"retry-after-ms": "inf", "retry-after": "4"}, 4.0),
    ],
)
def test_retry_after_numbers(headers: dict[str, str], expected: float) -> None:
    """``retry-after-ms`` (preferred) and ``Retry-After`` seconds are read, never below zero."""
    assert parse_retry_after(headers) == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"retry-after": "soon"},
        {"retry-after": ""},
        {"retry-after": "Someday, 99 Foo 2099"},
        {"retry-after": "inf"},
        {"retry-after": "nan"},
        {"retry-after-ms": "soon"},
        {"retry-after-ms": "nan"},
        {"x-ratelimit-reset": "5"},
    ],
)
def test_retry_after_garbage_is_none(headers: dict[str, str]) -> None:
    """Missing, unreadable or non-finite values give None rather than a guess."""
    assert parse_retry_after(headers) is None


def test_retry_after_http_date_in_the_future() -> None:
    """An HTTP date is turned into the seconds from now until then."""
    wait = parse_retry_after({"Retry-After": http_date(30)})
    assert wait is not None
    assert 28.0 <= wait <= 30.5  # HTTP dates have whole-second resolution


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with the process's local time zone at UTC+14, then restore it."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is needed to change the local time zone")
    monkeypatch.setenv("TZ", "XYZ-14")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_retry_after_http_date_without_zone_is_utc() -> None:
    """A ``-0000`` date (UTC, source zone unknown) is read as UTC, not as local time."""
    assert time.localtime().tm_gmtoff == 14 * 3600
    wait = parse_retry_after({"retry-after": http_date(20, usegmt=False)})
    assert wait is not None
    assert 18.0 <= wait <= 20.5


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    """A date already gone means no wait."""
    assert parse_retry_after({"retry-after": http_date(-3600)}) == 0.0


def test_retry_after_reads_aiohttp_headers() -> None:
    """A CIMultiDict (what aiohttp gives) works in any case."""
    assert parse_retry_after(CIMultiDict({"Retry-After-Ms": "750"})) == 0.75


async def test_rate_limit_error_carries_retry_after(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """A 429 with Retry-After hands the wait to the RateLimitError."""
    relay.post(
        CREATE_URL,
        status=429,
        payload=envelope("rate_limit_exceeded", "slow down"),
        headers={"Retry-After": "12"},
    )
    with pytest.raises(RateLimitError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    assert info.value.retry_after == 12.0
    assert info.value.headers["Retry-After"] == "12"


async def test_rate_limit_error_without_retry_after_has_none(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """No header, no wait hint."""
    relay.post(CREATE_URL, status=429, payload=envelope("rate_limit_exceeded"))
    with pytest.raises(RateLimitError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    assert info.value.retry_after is None


# --- transport failures -----------------------------------------------------------------------------


async def test_connect_failure_is_a_connection_error_not_sent(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """A refused connect means nothing reached the relay: request_sent is False, the cause is chained."""
    cause = connector_error()
    relay.post(CREATE_URL, exception=cause)
    with pytest.raises(APIConnectionError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    exc = info.value
    assert type(exc) is APIConnectionError
    assert exc.request_sent is False
    assert exc.__cause__ is cause
    assert str(exc).startswith(f"could not connect to {BASE}: ")
    assert "Connection refused" in str(exc)


async def test_server_disconnect_may_have_been_sent(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """A connection dropped before the answer may have delivered the request: request_sent is True."""
    cause = aiohttp.ServerDisconnectedError()
    relay.post(CREATE_URL, exception=cause)
    with pytest.raises(APIConnectionError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    exc = info.value
    assert type(exc) is APIConnectionError
    assert exc.request_sent is True
    assert exc.__cause__ is cause
    assert str(exc).startswith(f"connection to {BASE} failed: ")


async def test_payload_error_while_reading_may_have_been_sent(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """Any other aiohttp client error is a connection error that may have acted."""
    relay.get(TASK_URL, exception=aiohttp.ClientPayloadError("Response payload is not completed"))
    with pytest.raises(APIConnectionError) as info:
        await send(session, "GET", TASK_URL, headers=AUTH)
    assert type(info.value) is APIConnectionError
    assert info.value.request_sent is True
    assert "Response payload is not completed" in str(info.value)


async def test_read_timeout_is_a_timeout_that_may_have_been_sent(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """``asyncio.TimeoutError`` (a total/read timeout) is an APITimeoutError with request_sent True."""
    cause = asyncio.TimeoutError()
    relay.post(CREATE_URL, exception=cause)
    with pytest.raises(APITimeoutError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    exc = info.value
    assert isinstance(exc, APIConnectionError)
    assert exc.request_sent is True
    assert exc.__cause__ is cause
    assert str(exc) == f"timed out waiting for {BASE} to answer"


async def test_socket_read_timeout_may_have_been_sent(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """aiohttp's socket read timeout is a timeout after sending."""
    relay.post(CREATE_URL, exception=aiohttp.SocketTimeoutError())
    with pytest.raises(APITimeoutError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    assert info.value.request_sent is True


async def test_connect_timeout_is_a_timeout_not_sent(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """``aiohttp.ConnectionTimeoutError`` happens before sending: APITimeoutError with request_sent False."""
    cause = aiohttp.ConnectionTimeoutError()
    relay.post(CREATE_URL, exception=cause)
    with pytest.raises(APITimeoutError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b"{}")
    exc = info.value
    assert exc.request_sent is False
    assert exc.__cause__ is cause
    assert str(exc) == f"timed out connecting to {BASE}"


async def test_transport_messages_name_only_the_origin(
    session: aiohttp.ClientSession, relay: aioresponses
) -> None:
    """Messages name scheme, host and port, never the path or query."""
    url = "https://relay.example:8443/sora/v1/videos/task_1?sig=PRIVATE"
    relay.get(url, exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(APIConnectionError) as info:
        await send(session, "GET", url, headers=AUTH)
    assert "https://relay.example:8443" in str(info.value)
    assert "PRIVATE" not in str(info.value)
    assert "/sora" not in str(info.value)


# --- the key never leaks ----------------------------------------------------------------------------

ECHO = f"Bearer {SECRET}"
"""What a relay that echoes the request sends back: the key, whole."""


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 401, "payload": envelope("invalid_api_key", f"invalid token {ECHO}")},
        {"status": 403, "body": f"<!-- {ECHO} -->" + HTML_PAGE, "content_type": "text/html"},
        {
            "status": 429,
            "payload": envelope("rate_limit_exceeded", f"slow down, {ECHO}"),
            "headers": {"Retry-After": "1", "X-Echo-Authorization": ECHO},
        },
        {"status": 400, "payload": {"error": {"message": f"bad header {ECHO}", "type": "invalid_request"}}},
        {"status": 500, "body": f"oops: {ECHO}", "content_type": "text/plain"},
        {"status": 200, "body": f"not json: {ECHO}", "content_type": "text/plain"},
        {"status": 200, "body": f"<html>{ECHO}</html>", "content_type": "text/html"},
        {"exception": connector_error()},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": asyncio.TimeoutError()},
        {"exception": aiohttp.ConnectionTimeoutError()},
    ],
)
async def test_no_error_contains_the_api_key(
    session: aiohttp.ClientSession, relay: aioresponses, answer: dict[str, Any]
) -> None:
    """Whatever goes wrong, and even when the relay echoes the key back, neither str nor repr nor the
    kept body/headers of the error hold the key."""
    relay.post(CREATE_URL, **answer)
    with pytest.raises(sa.SoraError) as info:
        await send(session, "POST", CREATE_URL, headers=AUTH, body=b'{"prompt":"x"}', secret=SECRET)
    exc = info.value
    assert SECRET not in str(exc)
    assert SECRET not in repr(exc)
    assert SECRET not in repr(vars(exc))


# --- how the aiohttp transport talks aiohttp (aioresponses intercepts its own session) ---------------


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    """The default transport, making its own session; closed after the test."""
    made = AiohttpTransport(connect_timeout=7.0)
    try:
        yield made
    finally:
        await made.aclose()


async def test_the_transport_sends_method_url_headers_and_body_as_given(
    transport: AiohttpTransport, relay: aioresponses
) -> None:
    """Every header and the body reach aiohttp unchanged; the answer comes back with its headers."""
    relay.post(CREATE_URL, status=201, body=b"made", headers={"X-Request-Id": "req_5"})
    headers = {**AUTH, "Idempotency-Key": "k-1", "User-Agent": "sora-async/test"}
    response = await transport.send(TransportRequest("POST", CREATE_URL, headers, b"{}"), max_body=100)
    assert (response.status, response.body, response.headers["X-Request-Id"]) == (201, b"made", "req_5")
    (call,) = relay.requests[("POST", URL(CREATE_URL))]
    assert call.kwargs["headers"] == headers
    assert call.kwargs["data"] == b"{}"


async def test_the_transport_never_follows_a_redirect(
    transport: AiohttpTransport, relay: aioresponses
) -> None:
    """A 307 comes back as the answer; the other origin is never asked (aioresponses would follow)."""
    elsewhere = "https://elsewhere.example/sora/v1/videos"
    relay.post(CREATE_URL, status=307, headers={"Location": elsewhere})
    relay.post(elsewhere, status=200, payload=envelope("success", data="task_2"))
    response = await transport.send(TransportRequest("POST", CREATE_URL, AUTH, b"{}"), max_body=100)
    assert (response.status, response.headers["Location"]) == (307, elsewhere)
    assert ("POST", URL(elsewhere)) not in relay.requests
    (call,) = relay.requests[("POST", URL(CREATE_URL))]
    assert call.kwargs["allow_redirects"] is False


WATCHED = sys.version_info >= (3, 11)  # on 3.10 every deadline keeps aiohttp's timer


@pytest.mark.parametrize(
    ("timeout", "aiohttp_total"),
    [(None, None), (1.5, 1.5), (2.5, None if WATCHED else 2.5), (60.0, None if WATCHED else 60.0)],
)
async def test_a_short_timeout_is_aiohttps_timer_a_long_one_the_shared_watch(
    transport: AiohttpTransport, relay: aioresponses, timeout: float | None, aiohttp_total: float | None
) -> None:
    """send(timeout=) under 2.5 s is the request's ClientTimeout total; from 2.5 s on the shared
    deadline watch keeps it and aiohttp gets none (tests/test_deadlines.py); connect is kept."""
    relay.get(TASK_URL, payload=envelope("success", data={}))
    await transport.send(TransportRequest("GET", TASK_URL, AUTH), max_body=100, timeout=timeout)
    (call,) = relay.requests[("GET", URL(TASK_URL))]
    assert (call.kwargs["timeout"].total, call.kwargs["timeout"].connect) == (aiohttp_total, 7.0)


@pytest.mark.parametrize("size", [0, 1, 100, 64 * 1024 + 1, 100_000])
async def test_a_body_of_unknown_length_is_read_whole(
    transport: AiohttpTransport, relay: aioresponses, size: int
) -> None:
    """Without a Content-Length the body is read chunk by chunk, up to the cap, byte for byte.

    (aioresponses feeds a canned body in one piece, so bodies here stay under aiohttp's read buffer.)"""
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    relay.get(TASK_URL, body=body)
    response = await transport.send(TransportRequest("GET", TASK_URL, AUTH), max_body=100_000)
    assert response.body == body


async def test_a_body_that_goes_on_past_the_cap_is_refused(
    transport: AiohttpTransport, relay: aioresponses
) -> None:
    """No Content-Length and more bytes than max_body: APIResponseValidationError, saying so."""
    relay.get(TASK_URL, status=200, body=b"x" * 100_001)
    with pytest.raises(APIResponseValidationError, match="went on past that") as info:
        await transport.send(TransportRequest("GET", TASK_URL, AUTH), max_body=100_000)
    assert info.value.status_code == 200
    assert "max_response_bytes=100000" in str(info.value)


@pytest.mark.parametrize(("length", "refused"), [(1000, False), (1001, True)])
async def test_an_announced_length_over_the_cap_is_refused_unread(
    transport: AiohttpTransport, relay: aioresponses, length: int, refused: bool
) -> None:
    """A Content-Length at the cap is read; one past it is refused by its announcement alone."""
    relay.get(TASK_URL, status=502, body=b"y" * length, headers={"Content-Length": str(length)})
    request = TransportRequest("GET", TASK_URL, AUTH)
    if not refused:
        assert (await transport.send(request, max_body=1000)).body == b"y" * length
        return
    with pytest.raises(APIResponseValidationError, match=f"it announced {length} bytes") as info:
        await transport.send(request, max_body=1000)
    assert info.value.status_code == 502


@pytest.mark.parametrize(("inflated", "refused"), [(500_000, False), (5_000_000, True)])
async def test_a_compressed_answer_is_capped_by_its_inflated_size(
    server: ScriptedServer, inflated: int, refused: bool
) -> None:
    """A gzip answer's Content-Length counts the compressed bytes (a few KB here): the cap is on what
    it inflates to, read in chunks, so a small bomb cannot fill memory (a real server: aiohttp
    inflates it)."""
    body = json.dumps({"code": "success", "data": "task_1", "pad": "0" * inflated}).encode()
    packed = gzip.compress(body)
    assert len(packed) < 1_000_000  # announced (compressed) under the cap either way
    server.script(Reply(raw=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}))
    transport = AiohttpTransport()
    request = TransportRequest("POST", server.url + "/sora/v1/videos", AUTH, b"{}")
    try:
        if not refused:
            assert (await transport.send(request, max_body=1_000_000)).body == body
            return
        with pytest.raises(APIResponseValidationError, match="went on past that"):
            await transport.send(request, max_body=1_000_000)
    finally:
        await transport.aclose()


async def test_a_plain_http_connection_reads_at_most_recv_size_at_once(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncio's socket transport receives into a new bytes object of ``max_size`` (256 KiB) per
    read, which glibc maps and unmaps for every answer (three system calls); a plain-HTTP connection
    of the transport reads RECV_SIZE at most from its first answer on, and answers longer than that
    arrive whole (a real server, a spy on the loop's create_connection)."""
    loop = asyncio.get_running_loop()
    made: list[asyncio.BaseTransport] = []
    real_create_connection = loop.create_connection

    async def create_connection(*args: Any, **kwargs: Any) -> Any:
        pair = await real_create_connection(*args, **kwargs)
        made.append(pair[0])
        return pair

    monkeypatch.setattr(loop, "create_connection", create_connection)
    long_body = b"z" * (3 * RECV_SIZE + 5)
    server.script(Reply(raw=b"{}"), Reply(raw=long_body))
    transport = AiohttpTransport()
    request = TransportRequest("POST", server.url + "/sora/v1/videos", AUTH, b"{}")
    try:
        assert (await transport.send(request, max_body=1_000_000)).body == b"{}"
        (connection,) = made
        assert connection.max_size == RECV_SIZE  # type: ignore[attr-defined]
        assert (await transport.send(request, max_body=1_000_000)).body == long_body
    finally:
        await transport.aclose()
    assert len(made) == 1  # the pooled connection served both


async def test_a_streamed_answer_comes_in_chunks_of_at_most_the_size_asked(
    transport: AiohttpTransport, relay: aioresponses
) -> None:
    """stream() gives status and headers first, then the body in pieces no larger than asked."""
    body = b"v" * 10_000
    relay.get(TASK_URL, status=206, body=body, headers={"Content-Range": "bytes 0-9999/20000"})
    async with transport.stream(TransportRequest("GET", TASK_URL, AUTH)) as response:
        assert (response.status, response.headers["Content-Range"]) == (206, "bytes 0-9999/20000")
        chunks = [chunk async for chunk in response.iter_chunks(4096)]
    assert b"".join(chunks) == body
    assert max(len(chunk) for chunk in chunks) <= 4096
    (call,) = relay.requests[("GET", URL(TASK_URL))]
    assert call.kwargs["allow_redirects"] is False


async def test_a_stream_that_fails_on_the_wire_is_a_connection_error(
    transport: AiohttpTransport, relay: aioresponses
) -> None:
    """A download refused at connect is an APIConnectionError naming only the origin, nothing sent."""
    relay.get(TASK_URL, exception=connector_error())
    with pytest.raises(APIConnectionError) as info:
        async with transport.stream(TransportRequest("GET", TASK_URL, AUTH)):
            pass
    assert info.value.request_sent is False
    assert str(info.value).startswith(f"could not connect to {BASE}: ")
