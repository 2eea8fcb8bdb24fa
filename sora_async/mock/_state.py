"""`RelayState`: what a mock relay remembers from one request to the next, and across restarts.

The configuration and the answer shapes it implies, the counters, the tasks, the first task of
each idempotency key, the rate limiter and the seeded random streams. Keeping them in one object,
apart from the aiohttp server, is what lets `stop()` and `start()` look like an outage to a client
(the tasks and keys survive) and lets the request stages (`_stages`) be read without the server.
"""

from __future__ import annotations

import random
import time
from typing import Any

import attrs

from ._config import MockConfig
from ._faults import FaultPicker
from ._profiles import Shapes
from ._ratelimit import GcraLimiter
from ._stats import RelayStats
from ._tasks import FAIL_REASON_PROMPT, FAIL_REASON_RANDOM, TaskRecord, TaskStore, describe_task
from ._validate import CreateSpec

__all__ = ["RelayState"]


class RelayState:
    """The mutable state of one mock relay; every random choice drawn from a stream of `config.seed`.

    Each kind of choice (faults, task failures, saturation, task ids) has its own stream, so that
    turning one knob does not shift the sequence of another.

    Args:
        config: The relay's behaviour; `reconfigure` replaces it later.
    """

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        seed = config.seed
        self.faults = FaultPicker(random.Random(seed))
        self.failure_rng = random.Random(None if seed is None else f"{seed}:failures")
        self.saturation_rng = random.Random(None if seed is None else f"{seed}:saturation")
        self.tasks = TaskStore(random.Random(None if seed is None else f"{seed}:ids"))
        self.limiter = _make_limiter(config)
        self.shapes = Shapes.of(config)
        self.openai_shapes = Shapes.openai_routes_of(config)
        self.first_task_by_key: dict[str, str] = {}
        self.stats = RelayStats()
        self.unix_offset = time.time() - time.monotonic()

    def reconfigure(self, **changes: Any) -> None:
        """Change knobs (e.g. end an outage); the random streams, tasks and keys carry on.

        The rate limiter starts afresh only when `rate` or `burst` change.

        Args:
            changes: `MockConfig` fields and their new values; checked as the constructor checks them.

        Raises:
            ValueError: A value the config refuses, or a new `profile` (its routes are bound when the
                relay starts).
        """
        old = self.config
        if changes.get("profile", old.profile) != old.profile:
            raise ValueError("'profile' cannot change on a running relay; build another MockRelay")
        self.config = attrs.evolve(old, **changes)
        self.shapes = Shapes.of(self.config)
        self.openai_shapes = Shapes.openai_routes_of(self.config)
        if (old.rate, old.burst) != (self.config.rate, self.config.burst):
            self.limiter = _make_limiter(self.config)

    def create_once(self, spec: CreateSpec, key: str | None, arrived: float) -> str:
        """Create a task, or return the first task of an idempotency key seen before (when honoured).

        Args:
            spec: The parsed create request.
            key: The request's `Idempotency-Key`, or None.
            arrived: When the request arrived (`time.monotonic()`), recorded in the stats.
        """
        if key is not None and self.config.honour_idempotency:
            existing = self.first_task_by_key.get(key)
            if existing is not None:
                self.stats.replayed += 1
                return existing
        task_id = self.tasks.new_id()
        if self.config.record_tasks:
            outcome = self._fail_reason(spec)
            record = TaskRecord(
                time.monotonic(),
                spec.width,
                spec.height,
                spec.n_variants,
                outcome,
                model=spec.model,
                number=len(self.tasks) + 1,
            )
            self.tasks.add(task_id, record)
        if key is not None:
            self.first_task_by_key.setdefault(key, task_id)
        self.stats.record_creation(key, arrived)
        return task_id

    def view(self, task_id: str, record: TaskRecord, origin: str) -> dict[str, Any]:
        """The seed-shaped state of a task now, its URLs on this relay's origin.

        Args:
            task_id: The task's id.
            record: What the relay recorded when it created the task.
            origin: The relay's `scheme://host` as the request reached it.
        """
        return describe_task(
            task_id,
            record,
            now=time.monotonic(),
            queue_time=self.config.queue_time,
            run_time=self.config.run_time,
            unix_offset=self.unix_offset,
            video_origin=origin,
            queue_words=self.shapes.spec.queue_words,
        )

    def _fail_reason(self, spec: CreateSpec) -> str:
        """Decide the task's outcome now, so that every later query agrees."""
        if spec.wants_failure:
            return FAIL_REASON_PROMPT
        rate = self.config.failure_rate
        if rate and self.failure_rng.random() < rate:
            return FAIL_REASON_RANDOM
        return ""


def _make_limiter(config: MockConfig) -> GcraLimiter | None:
    return None if config.rate is None else GcraLimiter(config.rate, config.burst)
