"""Client-wide waits for 429s without a wait hint, on a controlled clock (no sleeping)."""

from __future__ import annotations

from sora_async._throttle import ThrottleWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch(clock: Clock) -> ThrottleWatch:
    return ThrottleWatch(clock, first_wait=2.0, max_wait=60.0, streak=1.0, jitter=lambda wait: wait)


def test_a_saturation_code_pauses_the_client_at_once() -> None:
    """new-api's 429 fail_to_fetch_task: the whole client waits from the first answer."""
    clock = Clock()
    assert watch(clock).client_wait(saturated=True) == 2.0


def test_a_plain_429_costs_nothing_while_it_is_fresh() -> None:
    """A rate limit being found: no client-wide pause until 429s have lasted a second."""
    clock = Clock()
    w = watch(clock)
    assert w.client_wait(saturated=False) == 0.0
    clock.now = 0.5
    assert w.client_wait(saturated=False) == 0.0
    clock.now = 1.2
    assert w.client_wait(saturated=False) == 2.0


def test_the_wait_doubles_per_round_up_to_the_cap_and_one_round_counts_once() -> None:
    """Minutes of saturation are ridden out: 2, 4, 8 ... 60 s; 64 refusals in one pause double it once."""
    clock = Clock()
    w = watch(clock)
    waits = []
    for _ in range(8):
        waits.append(w.client_wait(saturated=True))
        for _ in range(64):  # the other requests in flight, refused during this pause
            assert w.client_wait(saturated=True) == 0.0
        clock.now += waits[-1]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert sum(waits) > 120  # a saturation of minutes is outlasted, within the default max_elapsed (300 s)


def test_a_success_resets_it() -> None:
    """Once a request gets through, the next 429 starts from the bottom again."""
    clock = Clock()
    w = watch(clock)
    w.client_wait(saturated=True)
    clock.now = 3.0
    assert w.client_wait(saturated=True) == 4.0
    w.succeeded()
    clock.now = 10.0
    assert w.client_wait(saturated=True) == 2.0


def test_the_default_jitter_stays_between_half_and_all_of_the_wait() -> None:
    """Jittered so many clients do not come back at once, but never wastefully short."""
    clock = Clock()
    for _ in range(50):
        w = ThrottleWatch(clock)
        wait = w.client_wait(saturated=True)
        assert 1.0 <= wait <= 2.0
