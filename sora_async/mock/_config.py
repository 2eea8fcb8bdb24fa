"""`MockConfig`: every knob of the mock relay in one frozen value.

One immutable object (rather than a dozen constructor arguments spread over the server) lets the CLI build
it from flags, lets a test state the whole scenario in one line, and lets `MockRelay.configure` swap it
atomically with `attrs.evolve`, which re-runs the validators below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

import attrs

from .._checks import check_at_least, check_fraction, check_int_at_least, check_positive, field_check

RetryAfterMode = Literal["seconds", "ms", "date", "none"]
"""How a 429 says when to come back: `Retry-After: <s>`, `retry-after-ms`, `Retry-After: <date>`, nothing."""

RETRY_AFTER_MODES: tuple[str, ...] = get_args(RetryAfterMode)

Profile = Literal["sora", "new-api", "openai"]
"""The relay family the mock behaves like (docs/relays.md): routes, answer shapes, statuses, errors."""
PROFILES: tuple[str, ...] = get_args(Profile)

CreateAnswer = Literal["envelope", "video", "task_id"]
"""A create's 200: `{"code": "success", "data": id}`, an OpenAI video object, or `{"task_id": id}`."""
CREATE_ANSWERS: tuple[str, ...] = get_args(CreateAnswer)

UrlLocation = Literal[
    "generations", "data_url", "url", "result_url", "fail_reason", "metadata_url", "content"
]
"""Where a finished task's video URL is: `data.generations[i].url`, `data.url`, a top-level `url`,
`result_url` (the relay's own content route, which needs the key), `fail_reason` (older new-api),
an OpenAI object's `metadata.url`, or nowhere (only the content route serves the file)."""
URL_LOCATIONS: tuple[str, ...] = get_args(UrlLocation)

LimitBody = Literal["relay", "openai", "empty"]
"""The body of a rate-limit 429: the relays' envelope, an OpenAI-style error, or nothing at all."""
LIMIT_BODIES: tuple[str, ...] = get_args(LimitBody)


# The number rules, in the package's shared words (a ValidationError is a ValueError).
_fraction = field_check(check_fraction)
_optional_rate = field_check(check_positive, optional=True)
_optional_size = field_check(check_int_at_least, 0, optional=True)
_non_negative = field_check(check_at_least, 0)
_at_least_one = field_check(check_at_least, 1)  # the message says "number", as the tests pin it


def _one_of(choices: tuple[str, ...], *, optional: bool = False) -> Callable[[object, Any, object], None]:
    """Validator: one of `choices` (or None when `optional`), naming them all when it is not."""

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if value not in choices:
            raise ValueError(f"'{attribute.name}' must be one of {', '.join(choices)} (got {value!r})")

    return check


def _models(value: object) -> tuple[str, ...] | None:
    """Converter: the served models as a tuple of names (a string is one name), or None for any."""
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    if not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"'models' must be None or model names (got {value!r})")
    return names


@attrs.frozen(kw_only=True)
class MockConfig:
    """Behaviour of a mock relay; every field has a default that gives a healthy, unlimited relay,
    no kinder than real ones (no idempotency, no wait hints).

    Timing: a task stays `queue_time` s in NOT_START, then `run_time` s in IN_PROGRESS, then ends.
    Faults (`fail_503`, `drop_before`, `fail_500_after`, `drop_after`) are fractions of create requests
    and must sum to at most 1; they are drawn from `random.Random(seed)`, so a fixed seed replays the
    same sequence of faults for the same sequence of requests.

    Raises:
        ValueError: A value of the wrong type or range (a `ValidationError` naming the field), a
            choice not offered, faults summing over 1, or a URL place the openai profile lacks.
    """

    profile: Profile = attrs.field(default="sora", validator=_one_of(PROFILES))
    """The relay family to behave like: `sora` (the seed's relays), `new-api`, `openai` (docs/relays.md)."""
    create_answer: CreateAnswer | None = attrs.field(
        default=None, validator=_one_of(CREATE_ANSWERS, optional=True)
    )
    """Shape of a create's 200; None is the profile's own (envelope for sora, video object otherwise)."""
    url_location: UrlLocation | None = attrs.field(
        default=None, validator=_one_of(URL_LOCATIONS, optional=True)
    )
    """Where a finished task's URL is; None is the profile's own (generations, result_url, content)."""
    limit_body: LimitBody | None = attrs.field(default=None, validator=_one_of(LIMIT_BODIES, optional=True))
    """Body of the rate limiter's 429; None is the profile's own (relay for sora, openai otherwise)."""
    saturation: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of creates refused as upstream saturation: 429 `fail_to_fetch_task`, never a Retry-After."""
    models: tuple[str, ...] | None = attrs.field(default=None, converter=_models)
    """Models with a channel (new-api, openai): a create naming another one gets 503 `model_not_found`, one
    naming none 400. None serves any model; a string is one name. The sora profile checks `model` against
    API.md instead."""
    video_bytes: int = attrs.field(default=4096, validator=_at_least_one)
    """Size of every served video file (the content route and the placeholder URLs)."""
    content_ignores_range: bool = False
    """Serve the whole file with 200 even when asked for a `Range` (as servers without range support do)."""
    content_cut_after: int | None = attrs.field(default=None, validator=_optional_size)
    """Close the connection after this many body bytes of a file, its promised Content-Length unmet."""

    api_key: str | None = attrs.field(default=None, repr=False)
    """Key required as `Authorization: Bearer <key>`; None accepts any key or none. Left out of the repr."""

    queue_time: float = attrs.field(default=0.2, validator=_non_negative)
    """Seconds a task stays in NOT_START."""
    run_time: float = attrs.field(default=1.0, validator=_non_negative)
    """Seconds a task then stays in IN_PROGRESS before it ends."""
    failure_rate: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of tasks that end in FAILURE (a prompt containing "[fail]" always does)."""

    rate: float | None = attrs.field(default=None, validator=_optional_rate)
    """Requests per second allowed per bearer token; None means unlimited."""
    burst: int = attrs.field(default=1, validator=_at_least_one)
    """Requests one token's bucket lets through at once."""
    limit_queries: bool = False
    """Whether GET (task queries) also spend rate-limit tokens; real relays leave queries free."""
    retry_after: RetryAfterMode = attrs.field(default="none", validator=_one_of(RETRY_AFTER_MODES))
    """The rate limiter's wait hint; "none" by default, as no relay software sends one (RELAYS.md)."""

    honour_idempotency: bool = False
    """`True`: a repeated `Idempotency-Key` returns the first task id instead of creating another. Off by
    default, as no relay honours the key: a test that needs it asks by name."""

    seed: int | None = None
    """Seed of every random choice (faults, failures, task ids); None draws a fresh seed."""
    fail_503: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of creates answered 503 before any task is made."""
    drop_before: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of creates whose connection is dropped before any task is made."""
    fail_500_after: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of creates answered 500 after the task was made."""
    drop_after: float = attrs.field(default=0.0, validator=_fraction)
    """Fraction of creates whose connection is dropped after the task was made."""
    latency: float = attrs.field(default=0.0, validator=_non_negative)
    """Seconds added to every create (and to queries when `fault_queries`)."""
    latency_jitter: float = attrs.field(default=0.0, validator=_non_negative)
    """Extra latency drawn uniformly from [0, latency_jitter]."""
    fault_queries: bool = False
    """Whether faults and latency also apply to GET task queries."""

    record_tasks: bool = True
    """Keep a small record per task so GET can answer; benchmarks of millions of creates may turn it off."""

    def __attrs_post_init__(self) -> None:
        """Reject fault fractions that cannot all happen, and URL places a video object lacks."""
        if self.profile == "openai" and self.url_location not in (None, "content", "url", "metadata_url"):
            raise ValueError(
                "'url_location' of the openai profile must be content, url or metadata_url"
                f" (got {self.url_location!r})"
            )
        total = self.fail_503 + self.drop_before + self.fail_500_after + self.drop_after
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"'fail_503' + 'drop_before' + 'fail_500_after' + 'drop_after' must be <= 1 (got {total:g})"
            )
