"""SharedFresh: every caller gets a value computed after it asked; simultaneous callers share."""

from __future__ import annotations

import threading
import time

import pytest

from thpwatch.exporter.fresh import SharedFresh


class SlowClock:
    """compute() returns the time it started, after a pause; counts its calls."""

    def __init__(self, pause: float) -> None:
        self.pause, self.calls = pause, 0

    def __call__(self) -> float:
        self.calls += 1
        started = time.monotonic()
        time.sleep(self.pause)
        return started


def test_sequential_calls_each_compute_afresh():
    clock = SlowClock(0)
    fresh = SharedFresh(clock)
    first = fresh.get()
    assert fresh.get() > first
    assert clock.calls == 2


def test_simultaneous_callers_share_and_never_get_a_value_older_than_their_call():
    clock = SlowClock(0.2)
    fresh = SharedFresh(clock)
    asked: dict[int, float] = {}
    got: dict[int, float] = {}
    gate = threading.Barrier(30)

    def caller(i: int) -> None:
        gate.wait()
        asked[i] = time.monotonic()
        got[i] = fresh.get()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(got[i] >= asked[i] for i in range(30))
    assert clock.calls <= 3  # one that was running when most arrived, one for the waiters


def test_a_failing_computation_raises_to_its_caller_and_the_next_call_retries():
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first read failed")
        return len(calls)

    fresh = SharedFresh(flaky)
    with pytest.raises(RuntimeError, match="first read failed"):
        fresh.get()
    assert fresh.get() == 2
