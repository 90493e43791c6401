"""A circuit breaker per PMS host: closed → open after consecutive failures → half-open probe.

While a host is open, its requests fail at once instead of each hotel on that host waiting for
timeouts; after ``reset_after_s`` one probe request is let through (half-open) and its outcome
closes or re-opens the circuit. Failures are consecutive across all hotels on the host, so a
single broken hotel among healthy ones does not open it for everybody.

A small state machine written here rather than a library: the maintained Python breakers are
synchronous (pybreaker) or tie in their own storage; this one is asyncio-only, in-process, and
reports its state to Prometheus. It must never sleep or do I/O itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pmsync.errors import PMSConnectionError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class CircuitOpenError(PMSConnectionError):
    """The host's circuit is open: the request was not sent."""


@dataclass
class CircuitBreaker:
    host: str
    failure_threshold: int = 5
    reset_after_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[str, str], None] | None = None

    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probe_in_flight: bool = False

    def before_request(self) -> None:
        """Raise ``CircuitOpenError`` unless a request may be sent now."""
        if self.state == OPEN:
            waited = self.clock() - self.opened_at
            if waited < self.reset_after_s:
                raise CircuitOpenError(
                    f"circuit for {self.host} is open after {self.failures} consecutive failures; "
                    f"next probe in {self.reset_after_s - waited:.0f}s")
            self._set(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self.probe_in_flight:
                raise CircuitOpenError(f"circuit for {self.host} is half-open and its probe request "
                                       "is still running")
            self.probe_in_flight = True

    def record_success(self) -> None:
        self.failures = 0
        self.probe_in_flight = False
        if self.state != CLOSED:
            self._set(CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        self.probe_in_flight = False
        if self.state == HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
            if self.state != OPEN:
                self._set(OPEN)

    def release(self) -> None:
        """The request ended without saying anything about the host (e.g. it was cancelled)."""
        self.probe_in_flight = False

    def _set(self, state: str) -> None:
        self.state = state
        if self.on_change is not None:
            self.on_change(self.host, state)


class Breakers:
    """One breaker per host, created on first use with the same settings."""

    def __init__(self, failure_threshold: int = 5, reset_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self._make = lambda host: CircuitBreaker(host, failure_threshold, reset_after_s, clock, on_change)
        self._by_host: dict[str, CircuitBreaker] = {}

    def for_host(self, host: str) -> CircuitBreaker:
        breaker = self._by_host.get(host)
        if breaker is None:
            breaker = self._by_host[host] = self._make(host)
            # Report the host from its first request, so a dashboard lists it before it fails.
            if breaker.on_change is not None:
                breaker.on_change(host, breaker.state)
        return breaker
