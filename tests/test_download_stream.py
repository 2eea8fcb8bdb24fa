"""``client.download_video`` while it streams: memory stays bounded, progress is reported, the file
appears only whole, a cancel leaves only the ``.part`` (which the next call continues), a stalled body
times out, and a download holds a slot of the concurrency gate but takes no rate token."""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import sora_async as sa
from sora_async._transport import AiohttpTransport
from sora_async.mock import video_body
from tests.downloads import BODY, KEY, part_of
from tests.file_server import FileServer, serve, stall_after, stream_blocks

# --- memory, progress, atomicity, cancellation, the gate --------------------------------------------


class ChunkWatch(sa.Transport):
    """The default transport, with the size of every chunk it hands over recorded."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.sizes: list[int] = []

    async def send(
        self, request: sa.TransportRequest, *, max_body: int, timeout: float | None = None
    ) -> sa.TransportResponse:
        return await self.inner.send(request, max_body=max_body, timeout=timeout)

    @contextlib.asynccontextmanager
    async def stream(self, request: sa.TransportRequest) -> AsyncIterator[Any]:
        async with self.inner.stream(request) as response:
            original = response.iter_chunks

            async def watched(size: int = 65536) -> AsyncIterator[bytes]:
                async for chunk in original(size):
                    self.sizes.append(len(chunk))
                    yield chunk

            response.iter_chunks = watched  # type: ignore[method-assign]
            yield response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_large_body_is_never_held_whole(tmp_path: Path) -> None:
    """50 MB through chunks of at most 64 KiB, and a traced peak far below the file's size."""
    block = video_body("large", 256 * 1024)
    count = 200  # 50 MiB
    watch = ChunkWatch()
    async with FileServer() as cdn:
        url = cdn.route("/large.mp4", stream_blocks(block, count))
        async with sa.SoraClient(KEY, base_url="https://relay.example", transport=watch) as client:
            tracemalloc.start()
            try:
                await client.download_video(url, tmp_path / "large.mp4")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
                await watch.aclose()  # given to the client, so not closed by it
    assert (tmp_path / "large.mp4").stat().st_size == len(block) * count
    assert sum(watch.sizes) == len(block) * count
    assert max(watch.sizes) <= 64 * 1024
    assert peak < 8 * 1024 * 1024
    with (tmp_path / "large.mp4").open("rb") as f:
        assert f.read(len(block)) == block
        f.seek(-len(block), 2)
        assert f.read() == block


async def test_progress_is_reported_and_the_file_appears_only_whole(tmp_path: Path) -> None:
    """While bytes arrive only the part exists; the final name appears once, complete (async callback)."""
    path = tmp_path / "v.mp4"
    progress: list[tuple[int, int | None]] = []

    async def on_progress(done: int, total: int | None) -> None:
        progress.append((done, total))
        assert not path.exists()
        assert part_of(path).exists()

    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", serve(BODY))
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            await client.download_video(url, path, on_progress=on_progress)
    assert progress[0] == (0, len(BODY))
    assert progress[-1] == (len(BODY), len(BODY))
    assert len(progress) >= 3
    assert path.read_bytes() == BODY
    assert not part_of(path).exists()


async def test_cancellation_leaves_no_half_file_and_the_next_call_resumes(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    release = asyncio.Event()
    started = asyncio.Event()

    def on_progress(done: int, total: int | None) -> None:
        if done >= 30_000:
            started.set()

    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", stall_after(BODY[:30_000], len(BODY), release))
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            download = asyncio.ensure_future(client.download_video(url, path, on_progress=on_progress))
            await asyncio.wait_for(started.wait(), 10)
            download.cancel()
            with pytest.raises(asyncio.CancelledError):
                await download
            release.set()
            assert not path.exists()
            assert part_of(path).read_bytes() == BODY[:30_000]
            cdn.route("/v.mp4", serve(BODY))
            await client.download_video(url, path)
    assert cdn.seen[-1].headers["Range"] == "bytes=30000-"
    assert path.read_bytes() == BODY


async def test_a_stalled_body_times_out_as_a_download_error(tmp_path: Path) -> None:
    release = asyncio.Event()
    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", stall_after(BODY[:1000], len(BODY), release))
        async with sa.SoraClient(KEY, base_url="https://relay.example") as client:
            with pytest.raises(sa.DownloadError) as caught:
                await client.download_video(url, tmp_path / "v.mp4", timeout=0.2, retry=sa.RetryPolicy.none())
            release.set()
    assert isinstance(caught.value.__cause__, sa.APITimeoutError)
    assert caught.value.received == 1000


class CountingLimiter(sa.Limiter):
    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


async def test_a_download_holds_a_gate_slot_and_takes_no_rate_token(tmp_path: Path) -> None:
    limiter = CountingLimiter()
    held: list[bool] = []
    async with FileServer() as cdn:
        url = cdn.route("/v.mp4", serve(BODY))
        async with sa.SoraClient(
            KEY, base_url="https://relay.example", rate_limit=limiter, max_concurrency=1
        ) as c:
            gate = c._core().gate
            await c.download_video(
                url, tmp_path / "v.mp4", on_progress=lambda d, t: held.append(gate.locked())
            )
            assert not gate.locked()
    assert held and all(held)
    assert limiter.acquired == 0
