"""Memory under hostile answers: a 50 MB body, an endless body, a deeply nested one, a gzip bomb.

A relay (its own process, on 127.0.0.1) answers every create with one of these; each client runs
in a fresh process of its own, makes the call, and reports its peak RSS growth (``getrusage``) and
what the call ended in. sora_async with defaults is compared with a raw aiohttp loop (``read()``,
then ``json.loads``), which has no cap at all.

    python -m benchmarks.hostile [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing
import multiprocessing.connection
import resource
import time
from typing import Any

from aiohttp import web

from benchmarks._common import print_table, print_targets, target, write_result

SHAPES = {
    "50 MB body": "big",
    "endless body (3 s)": "endless",
    "nesting depth 1,000,000": "deep",
    "gzip of 200 MB (200 KB sent)": "bomb",
}
CHUNK = b"x" * 65536


def serve(port_out: multiprocessing.connection.Connection) -> None:  # pragma: no cover - child process
    async def big(request: web.Request) -> web.StreamResponse:
        await request.read()
        body = b'{"code":"success","data":"' + b"x" * (50 * 1024 * 1024) + b'"}'
        return web.Response(body=body, content_type="application/json")

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"code":"success","data":"')
        stop = time.monotonic() + 3.0
        try:
            while time.monotonic() < stop:
                await response.write(CHUNK)
        except ConnectionError:  # the client stopped reading: what a careful client does
            pass
        return response

    async def deep(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=b"[" * 1_000_000 + b"]" * 1_000_000, content_type="application/json")

    bomb_body = gzip.compress(b'{"code":"success","data":"' + b"0" * (200 * 1024 * 1024) + b'"}')

    async def bomb(request: web.Request) -> web.StreamResponse:
        await request.read()  # its Content-Length is the compressed size: it claims 200 KB
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=bomb_body, headers=headers)

    async def main() -> None:
        app = web.Application()
        for name, handler in (("big", big), ("endless", endless), ("deep", deep), ("bomb", bomb)):
            app.router.add_post(f"/{name}/sora/v1/videos", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _sora(url: str) -> str:
    import sora_async as sa

    async with sa.SoraClient("sk-bench-hostile", base_url=url, timeout=10) as client:
        try:
            await client.create_video(prompt="a fox")
        except sa.SoraError as exc:
            return type(exc).__name__ + ": " + str(getattr(exc, "cause", exc))[:60]
    return "ok"


async def _raw(url: str) -> str:
    import json

    import aiohttp

    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(
                f"{url}/sora/v1/videos", data=b"{}", timeout=aiohttp.ClientTimeout(10)
            ) as r:
                json.loads(await r.read())
        except Exception as exc:  # the raw loop has no error model of its own
            return type(exc).__name__
    return "ok"


def _client_process(kind: str, url: str, out: multiprocessing.connection.Connection) -> None:
    before = _peak_mb()
    outcome = asyncio.run((_sora if kind == "sora" else _raw)(url))
    out.send((outcome, _peak_mb() - before))


def _measure(kind: str, url: str) -> tuple[str, float]:
    ctx = multiprocessing.get_context("spawn")
    a, b = ctx.Pipe()
    process = ctx.Process(target=_client_process, args=(kind, url, b))
    process.start()
    result: tuple[str, float] = a.recv()
    process.join(30)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="same runs (they are short already)")
    parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    a, b = ctx.Pipe()
    server = ctx.Process(target=serve, args=(b,), daemon=True)
    server.start()
    port = a.recv()
    rows: list[dict[str, Any]] = []
    try:
        for shape, path in SHAPES.items():
            url = f"http://127.0.0.1:{port}/{path}"
            sora_outcome, sora_mb = _measure("sora", url)
            raw_outcome, raw_mb = _measure("raw", url)
            rows.append(
                {
                    "answer": shape,
                    "sora_async_defaults_rss_mb": round(sora_mb, 1),
                    "sora_async_outcome": sora_outcome,
                    "raw_aiohttp_rss_mb": round(raw_mb, 1),
                    "raw_outcome": raw_outcome,
                }
            )
    finally:
        server.terminate()
    print("\n(h) memory under hostile answers: peak RSS growth of one create, each client in a fresh process")
    print_table(rows, list(rows[0]))
    worst = max(r["sora_async_defaults_rss_mb"] for r in rows)
    targets = [
        target("sora_async peak RSS growth under any hostile answer (MB)", worst, "<= 20", worst <= 20),
    ]
    print_targets(targets)
    data = {"rows": rows, "targets": targets}
    write_result("hostile", data)
    return data


if __name__ == "__main__":
    main()
