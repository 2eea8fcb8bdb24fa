"""The demo's input: realistic, reproducible prompts, with invalid and failing lines where a plan says.

Kept apart from the demo's run so each module holds one idea: this one writes the file, ``demo``
submits it and explains what happened.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs

from .._models import Size

__all__ = ["MIN_COUNT", "DemoPlan", "demo_records", "write_demo_input"]

MIN_COUNT = 10
"""Room for the three invalid lines, the [fail] lines and a few good ones."""

_INVALID_AT = (0.12, 0.5, 0.83)
"""Where the invalid lines sit, as fractions of the file: spread out so the line numbers tell."""
_FAIL_AT = (0.3, 0.65, 0.97)
"""Where the "[fail]" prompts sit; the last is near the end so that its wait shows progress."""

_SHOTS = (
    "Slow dolly-in",
    "Aerial drone shot",
    "Handheld close-up",
    "Wide establishing shot",
    "Tracking shot",
    "Time-lapse",
    "Macro shot",
    "Static tripod shot",
)
_SUBJECTS = (
    "a red fox",
    "an old lighthouse keeper",
    "a paper boat",
    "a hummingbird",
    "two astronauts",
    "a street musician",
    "a snow leopard",
    "a vintage tram",
    "a koi fish",
    "a hot-air balloon",
    "a child on a bicycle",
    "a sleepy tabby cat",
    "a steam locomotive",
    "a potter at her wheel",
)
_SCENES = (
    "in fresh snow at dawn",
    "on a rain-soaked city street at night",
    "above a misty pine forest",
    "in a sunlit wheat field",
    "beneath the northern lights",
    "in a bustling spice market",
    "along a stormy coastline",
    "inside a glass greenhouse",
    "on a quiet canal in autumn",
    "in a desert canyon at noon",
)
_LOOKS = (
    "golden-hour light",
    "soft overcast light",
    "neon reflections",
    "35mm film grain",
    "shallow depth of field",
    "pastel colour palette",
    "high-contrast black and white",
)
_BEATS = (
    "the camera starts to pull back",
    "a gust of wind sweeps through",
    "the subject turns toward the camera",
    "the light shifts warmer",
    "birds take off in the background",
)


@attrs.frozen(kw_only=True)
class DemoPlan:
    """The demo input: where it is and which lines are special (1-based line numbers)."""

    input_path: Path
    count: int
    invalid_lines: tuple[int, ...]
    fail_lines: tuple[int, ...]

    @property
    def good_lines(self) -> tuple[int, ...]:
        special = set(self.invalid_lines) | set(self.fail_lines)
        return tuple(line for line in range(1, self.count + 1) if line not in special)

    @property
    def watch_lines(self) -> tuple[int, ...]:
        """The lines whose tasks the demo waits for: the last two good ones and the last "[fail]" one."""
        return (*self.good_lines[-2:], self.fail_lines[-1])


def _spread(count: int, fractions: tuple[float, ...], taken: set[int]) -> tuple[int, ...]:
    lines = {max(1, min(count, round(count * fraction))) for fraction in fractions}
    return tuple(sorted(lines - taken))


def demo_records(count: int, *, seed: int = 7) -> tuple[list[dict[str, Any]], DemoPlan]:
    """``count`` request lines (varied, realistic, reproducible) and the plan saying which are special."""
    if count < MIN_COUNT:
        raise ValueError(f"count must be at least {MIN_COUNT} (got {count})")
    invalid = _spread(count, _INVALID_AT, set())
    fails = _spread(count, _FAIL_AT, set(invalid))
    rng = random.Random(seed)
    records = []
    for line in range(1, count + 1):
        if line in invalid:
            records.append(_invalid_record(line, invalid.index(line)))
            continue
        record = _record(line, rng)
        if line in fails:
            record["prompt"] += " [fail]"
        records.append(record)
    plan = DemoPlan(input_path=Path(), count=count, invalid_lines=invalid, fail_lines=fails)
    return records, plan


def _record(line: int, rng: random.Random) -> dict[str, Any]:
    duration = rng.choice((5, 10))
    prompt = f"{rng.choice(_SHOTS)} of {rng.choice(_SUBJECTS)} {rng.choice(_SCENES)}, {rng.choice(_LOOKS)}"
    record: dict[str, Any] = {
        "custom_id": f"demo-{line:04d}",
        "prompt": prompt,
        "size": rng.choice(list(Size)).value,
        "duration": duration,
    }
    if rng.random() < 0.2:
        record["actions"] = [
            {"time": round(rng.uniform(0.5, duration - 1), 1), "description": rng.choice(_BEATS)}
        ]
    if rng.random() < 0.1:
        record["n_variants"] = 2
    if rng.random() < 0.15:
        record.update(model="turbo", style="natural")
    return record


def _invalid_record(line: int, which: int) -> dict[str, Any]:
    """Three classic mistakes: a size the API lacks, a duration it lacks, a missing prompt."""
    custom_id = f"demo-{line:04d}"
    mistakes: list[dict[str, Any]] = [
        {"prompt": "A full-HD sunrise over the sea", "size": "1920x1080", "duration": 5},
        {"prompt": "A seven-second loop of rain on glass", "size": "1280x720", "duration": 7},
        {"size": "720x720", "duration": 5},
    ]
    return {"custom_id": custom_id, **mistakes[which % len(mistakes)]}


def write_demo_input(path: Path, count: int) -> DemoPlan:
    """Write the demo's JSONL input to ``path`` and return its plan."""
    records, plan = demo_records(count)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return attrs.evolve(plan, input_path=path)
