"""Seeded fault injection: which fault (if any) hits a request, its added latency, and dropped connections.

The four faults are the failure modes a client must tell apart (DESIGN.md, "Nothing lost, nothing paid
twice"): `fail_503` and `drop_before` happen before the task exists, so a retry is safe; `fail_500_after`
and `drop_after` happen after it was created, so a blind retry would pay twice unless the idempotency key
is honoured.
"""

from __future__ import annotations

import random
from typing import Literal

from aiohttp import web

from ._config import MockConfig

FaultKind = Literal["fail_503", "drop_before", "fail_500_after", "drop_after"]
FAULT_KINDS: tuple[FaultKind, ...] = ("fail_503", "drop_before", "fail_500_after", "drop_after")
BEFORE_CREATION: frozenset[FaultKind] = frozenset({"fail_503", "drop_before"})
DROPS: frozenset[FaultKind] = frozenset({"drop_before", "drop_after"})


class FaultPicker:
    """Draws one fault and one latency per request from a single seeded RNG.

    Both are drawn together when the request arrives, before the handler awaits anything, so that the
    sequence of faults depends only on the order of arrival and a seed reproduces a scenario.
    """

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def draw(self, config: MockConfig) -> tuple[FaultKind | None, float]:
        """The fault for this request (None for a clean answer) and the latency to add, in seconds."""
        return self._pick_fault(config), self._pick_latency(config)

    def _pick_fault(self, config: MockConfig) -> FaultKind | None:
        """One uniform draw split into consecutive intervals of the configured fractions."""
        fractions = (config.fail_503, config.drop_before, config.fail_500_after, config.drop_after)
        if not any(fractions):
            return None  # keep the fast path free of RNG work, and the RNG stream untouched
        point = self._rng.random()
        for kind, fraction in zip(FAULT_KINDS, fractions, strict=True):
            if point < fraction:
                return kind
            point -= fraction
        return None

    def _pick_latency(self, config: MockConfig) -> float:
        """Fixed latency plus a uniform jitter."""
        if not config.latency_jitter:
            return config.latency
        return config.latency + self._rng.uniform(0.0, config.latency_jitter)


def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the client's connection so that it gets no response at all, and return an unsendable reply.

    aiohttp needs a response object from the handler. After the transport is closed, writing that
    response fails with a `ConnectionResetError`, which aiohttp treats as a client that went away: it
    logs nothing and writes nothing. The client, having sent its whole request, reads end-of-file before
    any status line: aiohttp raises `ServerDisconnectedError` (or `ClientOSError` if the OS reports a
    reset), both `aiohttp.ClientConnectionError`.
    """
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=204)
