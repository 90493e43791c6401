"""A hand-moved monotonic clock for unit tests of time-based behaviour (breakers, probes, log
rate limits): the code under test takes ``clock=`` and the test moves ``now``."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
