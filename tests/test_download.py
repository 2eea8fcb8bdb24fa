"""``client.download_video``: against the mock relay of every profile, and against local servers that
play a CDN on another origin, cut bodies short, ignore ``Range``, redirect and refuse (streaming
itself: test_download_stream.py).

What a test checks is what reached the disk and what the servers were sent (the ``Authorization``
header above all), never how long something took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import sora_async as sa
from sora_async.mock import MockRelay, video_body
from tests.downloads import BODY, KEY, part_of
from tests.file_server import FileServer, Handler, answer, in_turn, redirect, serve

FAST_RETRY = sa.RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.005)
FAST_TASKS: dict[str, Any] = {"api_key": KEY, "queue_time": 0, "run_time": 0, "seed": 3}
LOCATIONS = [
    ("sora", "generations"),
    ("new-api", "result_url"),
    ("new-api", "fail_reason"),
    ("new-api", "url"),
    ("openai", "content"),
    ("openai", "metadata_url"),
]


@contextlib.asynccontextmanager
async def relay_client(
    profile: str = "new-api", **config: Any
) -> AsyncIterator[tuple[MockRelay, sa.SoraClient]]:
    async with MockRelay(profile=profile, **{**FAST_TASKS, **config}) as relay:  # noqa: SIM117 - needs relay.url
        async with sa.SoraClient(KEY, base_url=relay.url, dialect=profile, retry=FAST_RETRY) as client:
            yield relay, client


async def finished(client: sa.SoraClient, prompt: str = "a fox in snow") -> sa.VideoTask:
    task_id = await client.create_video(prompt=prompt)
    return await client.wait_for_task(task_id, poll_interval=0.01, timeout=10)


def served_body(task: sa.VideoTask, size: int) -> bytes:
    """The bytes the mock serves for the task's first URL (content route: named by the task id)."""
    url = task.video_urls[0]
    return video_body(task.task_id if url.endswith("/content") else url.rsplit("/", 1)[-1], size)


# --- the mock relay, every profile ------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "location"), LOCATIONS)
async def test_downloads_a_finished_task_from_every_profile(
    profile: str, location: str, tmp_path: Path
) -> None:
    """Wherever the family puts the URL, the file is the relay's, byte for byte, and nothing else is left."""
    async with relay_client(profile, url_location=location, video_bytes=150_000) as (relay, client):
        task = await finished(client)
        path = await client.download_video(task, tmp_path / "v.mp4")
        by_id = await client.download_video(task.task_id, tmp_path / "by-id.mp4")
    assert path == tmp_path / "v.mp4"
    assert path.read_bytes() == by_id.read_bytes() == served_body(task, 150_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by-id.mp4", "v.mp4"]
    assert relay.stats.unauthorized == 0


async def test_the_relay_content_route_gets_the_key_a_cdn_does_not(tmp_path: Path) -> None:
    """new-api's result_url is the relay's own route and needs the key; another origin gets neither the
    key nor the headers configured on the client."""
    async with FileServer() as cdn, relay_client("new-api", url_location="result_url") as (relay, client):
        url = cdn.route("/v.mp4", serve(BODY))
        view = client.with_options(headers={"X-Tenant": "tenant-secret"})
        task = await finished(view)
        await view.download_video(task, tmp_path / "relay.mp4")
        await view.download_video(url, tmp_path / "cdn.mp4")
    assert relay.stats.content_requests == 1
    assert relay.stats.unauthorized == 0  # the relay refuses a request without the key
    [seen] = cdn.seen_at("/v.mp4")
    assert seen.authorization is None
    assert "X-Tenant" not in seen.headers
    assert KEY not in repr(seen.headers)
    assert (tmp_path / "cdn.mp4").read_bytes() == BODY


async def test_the_content_route_without_the_right_key_is_an_authentication_error(tmp_path: Path) -> None:
    """The relay's own route refused: every request of this key would be, so a batch would stop."""
    async with relay_client("openai") as (relay, client):
        task = await finished(client)
        async with sa.SoraClient("sk-another-key-00000", base_url=relay.url, dialect="openai") as other:
            with pytest.raises(sa.AuthenticationError) as caught:
                await other.download_video(task, tmp_path / "v.mp4")
    assert caught.value.affects_all_requests
    assert not (tmp_path / "v.mp4").exists()


async def test_a_redirect_to_another_origin_drops_the_key_for_good(tmp_path: Path) -> None:
    """Same-origin hops keep the key; the first hop elsewhere drops it, and a hop back does not restore it."""
    async with FileServer() as relay, FileServer() as cdn:
        relay.route("/v1/videos/t1/content", redirect("/moved"))
        relay.route("/moved", redirect(cdn.url("/v.mp4")))
        cdn.route("/v.mp4", redirect(relay.url("/file.mp4"), status=307))
        relay.route("/file.mp4", serve(BODY))
        async with sa.SoraClient(KEY, base_url=relay.origin, dialect="openai") as client:
            await client.download_video(relay.url("/v1/videos/t1/content"), tmp_path / "v.mp4")
    assert [s.authorization for s in relay.seen] == [f"Bearer {KEY}", f"Bearer {KEY}", None]
    assert [s.authorization for s in cdn.seen] == [None]
    assert (tmp_path / "v.mp4").read_bytes() == BODY


async def test_a_redirect_loop_ends_with_an_error(tmp_path: Path) -> None:
    async with FileServer() as cdn:
        url = cdn.route("/loop", redirect("/loop"))
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            with pytest.raises(sa.DownloadError, match="more than 5 redirects"):
                await client.download_video(url, tmp_path / "v.mp4")
    assert len(cdn.seen) == 6


@pytest.mark.parametrize(
    ("location", "said"),
    [
        ("http://[::1/v.mp4", "a malformed URL"),
        ("http://cdn.example:99999/v.mp4", "a malformed URL"),
        ("ftp://cdn.example/v.mp4", "a non-http URL"),
    ],
)
async def test_a_redirect_to_a_malformed_or_non_http_url_is_a_download_error(
    tmp_path: Path, location: str, said: str
) -> None:
    """A Location that is no URL at all (a bad IPv6 host, a port past 65535) is refused like one that
    is not http: a DownloadError naming the origin, not an UnexpectedError from the URL parser."""
    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", redirect(location))
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            with pytest.raises(sa.DownloadError, match=f"redirected to {said}") as caught:
                await client.download_video(url, tmp_path / "v.mp4")
    assert cdn.origin in str(caught.value)
    assert not (tmp_path / "v.mp4").exists()


# --- resuming and checking the length ---------------------------------------------------------------


async def test_a_body_cut_short_is_resumed_until_whole(tmp_path: Path) -> None:
    """Every answer dies after 1000 bytes; each try asks for the rest, and progress never goes back."""
    progress: list[tuple[int, int | None]] = []
    async with relay_client("new-api", video_bytes=4096, content_cut_after=1000) as (relay, client):
        task = await finished(client)
        await client.download_video(
            task, tmp_path / "v.mp4", on_progress=lambda d, t: progress.append((d, t))
        )
    assert (tmp_path / "v.mp4").read_bytes() == served_body(task, 4096)
    assert relay.stats.content_requests == 5  # 0-, 1000-, 2000-, 3000-, 4000-
    done = [d for d, _ in progress]
    assert done == sorted(done)
    assert progress[-1] == (4096, 4096)


async def test_a_part_left_by_a_crash_is_continued(tmp_path: Path) -> None:
    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", serve(BODY))
        part_of(tmp_path / "v.mp4").write_bytes(BODY[:70_000])
        progress: list[tuple[int, int | None]] = []
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            await client.download_video(
                url, tmp_path / "v.mp4", on_progress=lambda d, t: progress.append((d, t))
            )
    assert cdn.seen[0].headers["Range"] == "bytes=70000-"
    assert progress[0] == (70_000, len(BODY))
    assert (tmp_path / "v.mp4").read_bytes() == BODY
    assert not part_of(tmp_path / "v.mp4").exists()


async def test_a_part_already_whole_is_renamed_without_a_body(tmp_path: Path) -> None:
    """The server answers 416 with the file's size, which is the part's: nothing more to fetch."""
    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", serve(BODY))
        part_of(tmp_path / "v.mp4").write_bytes(BODY)
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            await client.download_video(url, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == BODY


async def test_a_server_that_ignores_range_starts_over(tmp_path: Path) -> None:
    """A 200 to a Range request is the whole file: the part (here garbage) is replaced, not appended to."""
    async with relay_client("new-api", video_bytes=4096, content_ignores_range=True) as (relay, client):
        task = await finished(client)
        part_of(tmp_path / "v.mp4").write_bytes(b"garbage" * 100)
        await client.download_video(task, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == served_body(task, 4096)
    assert relay.stats.content_requests == 1


async def test_a_range_that_was_not_asked_for_starts_over(tmp_path: Path) -> None:
    """A 206 for another range than the part's end: the part goes, the whole file is fetched."""
    seen: list[dict[str, str]] = []

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        seen.append(dict(request.headers))
        if "Range" in request.headers:
            return sa.TransportResponse(206, {"Content-Range": "bytes 0-99/100"}, BODY[:100])
        return sa.TransportResponse(200, {"Content-Length": "100"}, BODY[:100])

    part_of(tmp_path / "v.mp4").write_bytes(b"x" * 40)
    async with sa.SoraClient(KEY, base_url="https://relay.example", transport=sa.MockTransport(handler)) as c:
        await c.download_video("https://cdn.example/v.mp4", tmp_path / "v.mp4", retry=sa.RetryPolicy.none())
    assert [h.get("Range") for h in seen] == ["bytes=40-", None]
    assert (tmp_path / "v.mp4").read_bytes() == BODY[:100]


async def test_a_server_that_caps_its_ranges_is_asked_for_the_rest(tmp_path: Path) -> None:
    """Some CDNs answer an open range with a piece of it: the rest is asked for in the same try."""

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        first = int(request.headers.get("Range", "bytes=0-")[6:-1])
        last = min(first + 29, 99)
        return sa.TransportResponse(
            206, {"Content-Range": f"bytes {first}-{last}/100"}, BODY[first : last + 1]
        )

    transport = sa.MockTransport(handler)
    async with sa.SoraClient(KEY, base_url="https://relay.example", transport=transport) as client:
        await client.download_video(
            "https://relay.example/v.mp4", tmp_path / "v.mp4", retry=sa.RetryPolicy.none()
        )
    assert (tmp_path / "v.mp4").read_bytes() == BODY[:100]
    assert len(transport.requests) == 4
    assert transport.requests[0].headers["Authorization"] == f"Bearer {KEY}"  # the relay's own origin


async def test_a_short_body_is_a_download_error_and_no_file(tmp_path: Path) -> None:
    async with relay_client("new-api", video_bytes=4096, content_cut_after=1000) as (_, client):
        task = await finished(client)
        with pytest.raises(sa.DownloadError) as caught:
            await client.download_video(task, tmp_path / "v.mp4", retry=sa.RetryPolicy.none())
    error = caught.value
    assert (error.received, error.expected, error.verdict) == (1000, 4096, sa.Verdict.RETRY)
    assert error.part_path == str(part_of(tmp_path / "v.mp4"))
    assert not (tmp_path / "v.mp4").exists()
    assert part_of(tmp_path / "v.mp4").stat().st_size == 1000


async def test_a_body_that_ends_cleanly_but_short_is_detected(tmp_path: Path) -> None:
    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        return sa.TransportResponse(200, {"Content-Length": "100"}, b"x" * 50)

    async with sa.SoraClient(KEY, base_url="https://relay.example", transport=sa.MockTransport(handler)) as c:
        with pytest.raises(sa.DownloadError, match="the body ended after 50 of 100 bytes"):
            await c.download_video("https://cdn.example/v.mp4", tmp_path / "v.mp4", retry=FAST_RETRY)
    assert not (tmp_path / "v.mp4").exists()


async def test_a_server_that_ignores_range_and_cuts_short_gives_up(tmp_path: Path) -> None:
    """Every try starts over and dies at 1000 bytes: the first round got somewhere (0 to 1000) and earns
    a second, which gets no further, so it ends with an error instead of looping."""
    config = {"video_bytes": 4096, "content_cut_after": 1000, "content_ignores_range": True}
    async with relay_client("new-api", **config) as (relay, client):
        task = await finished(client)
        with pytest.raises(sa.DownloadError):
            await client.download_video(task, tmp_path / "v.mp4")
    assert relay.stats.content_requests == 2 * FAST_RETRY.max_attempts


async def test_transient_errors_are_retried_and_a_missing_file_is_not(tmp_path: Path) -> None:
    async with FileServer() as cdn:
        flaky = cdn.route("/flaky.mp4", in_turn(answer(503, "busy"), serve(BODY)))
        gone = cdn.route("/gone.mp4", answer(404, "no such file"))
        expired = cdn.route("/expired.mp4", answer(403, "<Error>AccessDenied</Error>", "application/xml"))
        async with sa.SoraClient(KEY, base_url="https://relay.example", retry=FAST_RETRY) as client:
            await client.download_video(flaky, tmp_path / "flaky.mp4")
            with pytest.raises(sa.NotFoundError):
                await client.download_video(gone, tmp_path / "gone.mp4")
            with pytest.raises(sa.PermissionDeniedError) as denied:
                await client.download_video(expired, tmp_path / "expired.mp4")
    assert (tmp_path / "flaky.mp4").read_bytes() == BODY
    assert len(cdn.seen_at("/flaky.mp4")) == 2
    assert len(cdn.seen_at("/gone.mp4")) == 1
    assert not denied.value.affects_all_requests  # a CDN's refusal says nothing about the key
    assert KEY not in str(denied.value)


async def test_a_web_page_where_the_video_should_be_is_refused(tmp_path: Path) -> None:
    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", answer(200, "<html>sign in</html>", "text/html"))
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            with pytest.raises(sa.DownloadError, match="a web page") as caught:
                await client.download_video(url, tmp_path / "v.mp4")
    assert caught.value.verdict is sa.Verdict.FATAL
    assert list(tmp_path.iterdir()) == []


# --- what is refused before anything is sent --------------------------------------------------------


async def test_a_task_that_is_not_finished_or_failed_is_refused(tmp_path: Path) -> None:
    async with relay_client("new-api", queue_time=60) as (relay, client):
        waiting = await client.create_video(prompt="a slow fox")
        with pytest.raises(sa.DownloadError, match="wait for it first") as caught:
            await client.download_video(waiting, tmp_path / "v.mp4")
        assert caught.value.verdict is sa.Verdict.FATAL
    async with relay_client("new-api") as (relay, client):
        failed_id = await client.create_video(prompt="a fox [fail]")
        with pytest.raises(sa.TaskFailedError):
            await client.download_video(failed_id, tmp_path / "v.mp4")
    assert relay.stats.content_requests == 0


async def test_bad_arguments_are_refused_before_any_request(tmp_path: Path) -> None:
    task = sa.VideoTask(task_id="t1", status=sa.TaskStatus.SUCCESS, video_urls=("https://cdn.example/v",))
    transport = sa.MockTransport(lambda r: sa.TransportResponse(500))
    async with sa.SoraClient(KEY, base_url="https://relay.example", transport=transport) as client:
        with pytest.raises(sa.ValidationError, match="'index'"):
            await client.download_video(task, tmp_path / "v.mp4", index=1)
        with pytest.raises(sa.ValidationError, match="'path'"):
            await client.download_video(task, tmp_path / "missing" / "v.mp4")
        with pytest.raises(sa.ValidationError, match="'path'"):
            await client.download_video(task, tmp_path)
        with pytest.raises(sa.ValidationError, match="'task_or_url'"):
            await client.download_video(42, tmp_path / "v.mp4")  # type: ignore[arg-type]
        with pytest.raises(sa.ValidationError, match="'task_id'"):
            await client.download_video("not a task id", tmp_path / "v.mp4")
    assert transport.requests == []


async def test_a_download_backing_off_when_the_client_closes_sends_nothing_more(tmp_path: Path) -> None:
    """A download waiting out a retry's backoff when aclose() runs makes no attempt more: it ends
    in ConfigurationError, and nothing is requested after the close."""
    task = sa.VideoTask(task_id="t1", status=sa.TaskStatus.SUCCESS, video_urls=("https://cdn.example/v",))
    failed = asyncio.Event()

    def handler(request: sa.TransportRequest) -> sa.TransportResponse:
        failed.set()
        return sa.TransportResponse(503)

    transport = sa.MockTransport(handler)
    policy = sa.RetryPolicy(initial_backoff=0.2, max_backoff=0.2)
    client = sa.SoraClient(KEY, base_url="https://relay.example", transport=transport, retry=policy)
    download = asyncio.ensure_future(client.download_video(task, tmp_path / "v.mp4"))
    await asyncio.wait_for(failed.wait(), 5)
    await client.aclose()
    with pytest.raises(sa.ConfigurationError, match="closed"):
        await asyncio.wait_for(download, 5)
    assert len(transport.requests) == 1
    assert not (tmp_path / "v.mp4").exists()


def _broken(body: bytes, size: int, headers: dict[str, str]) -> Handler:
    """Promise ``size`` bytes (with ``headers``), send ``body``, then break the connection."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(size), **headers})
        await response.prepare(request)
        await response.write(body)
        assert request.transport is not None
        request.transport.close()
        return response

    return handler


def _rest(body: bytes, start: int, total: int, headers: dict[str, str]) -> Handler:
    """A 206 from ``start`` whatever was asked (a server that ignores If-Range), with ``headers``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        span = f"bytes {start}-{start + len(body) - 1}/{total}"
        return web.Response(status=206, body=body, headers={"Content-Range": span, **headers})

    return handler


def _whole(body: bytes, headers: dict[str, str]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers=headers)

    return handler


@pytest.mark.parametrize("change", ["new ETag", "smaller total"])
async def test_a_resume_of_another_version_of_the_file_starts_over(tmp_path: Path, change: str) -> None:
    """The resumed answer is of a new version (its ETag differs, the server ignoring If-Range) or
    names a smaller total than first promised: the part is dropped and the file fetched whole,
    never saved as two halves or cut short."""
    old, new = bytes(range(256)) * 400, bytes(reversed(range(256))) * 400
    if change == "new ETag":
        rest = _rest(new[5000:], 5000, len(new), {"ETag": '"v2"'})
        final = new
    else:
        new = new[:5010]
        rest = _rest(new[5000:], 5000, len(new), {"ETag": '"v1"'})
        final = new
    async with FileServer() as cdn:
        url = cdn.route(
            "/v.mp4",
            in_turn(_broken(old[:5000], len(old), {"ETag": '"v1"'}), rest, _whole(final, {"ETag": '"v2"'})),
        )
        async with sa.SoraClient(KEY, base_url="https://relay.example", retry=FAST_RETRY) as client:
            await client.download_video(url, tmp_path / "v.mp4")
    assert (tmp_path / "v.mp4").read_bytes() == final
    ranges = [seen.headers.get("Range") for seen in cdn.seen_at("/v.mp4")]
    assert ranges == [None, "bytes=5000-", None]
