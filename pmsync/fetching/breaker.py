"""A circuit breaker per PMS host that opens only when the *host* is failing, not a hotel on it.

Many hotels share one vendor host. A hotel's own failures (5xx, 429, timeouts, unreadable
pages, 401/403/404) are that hotel's: its sync fails and it backs off across syncs
(``backoff.py``), and they must never stop the healthy hotels next to it. (One breaker
counting consecutive failures across the host did: a few broken hotels among healthy ones
failed a fifth of the healthy hotels' syncs.) The host's circuit opens on host-wide failure
only, which is either of:

- ``failure_threshold`` consecutive *connection* failures (refused, DNS, TLS): no hotel can
  be reached when the host itself cannot be, so these count against the host directly;
- failures spread over most of its hotels: among the distinct hotels the host answered (or
  failed) in the last ``window_s`` seconds, at least ``spread_min_hotels`` whose latest
  request failed, and they are at least ``spread_ratio`` of those hotels. A handful of broken
  hotels among many healthy ones never reaches that; a host that fails every hotel (down
  behind a proxy that answers 502, or black-holed into timeouts) does within one window. The
  floor keeps the first few answers after a start from deciding for a whole vendor.

While open, requests fail at once instead of each hotel waiting for its timeouts; after
``reset_after_s`` one probe request goes through (half-open) and its outcome closes or re-opens
the circuit.

A small state machine written here rather than a library: the maintained Python breakers are
synchronous (pybreaker) or tie in their own storage; this one is asyncio-only, in-process, and
reports its state to Prometheus. It must never sleep or do I/O itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pmsync.errors import PMSConnectionError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class CircuitOpenError(PMSConnectionError):
    """The host's circuit is open: the request was not sent."""


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 5      # consecutive connection failures to the host
    reset_after_s: float = 30.0     # how long an open circuit waits before one probe
    spread_ratio: float = 0.8       # share of the host's recent hotels failing that opens it
    spread_min_hotels: int = 10     # ... and at least this many distinct failing hotels
    window_s: float = 60.0          # what "recent" means for the spread


@dataclass
class CircuitBreaker:
    host: str
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[str, str], None] | None = None

    state: str = CLOSED
    failures: int = 0               # consecutive connection failures
    opened_at: float = 0.0
    reason: str = ""
    probe_in_flight: bool = False
    # Each hotel's latest outcome (True = failed) and when, oldest first.
    _latest: OrderedDict[str, tuple[float, bool]] = field(default_factory=OrderedDict)
    _failing: int = 0

    # -- asking --------------------------------------------------------------------------

    def wait_s(self) -> float:
        """Seconds until a request could be let through (0: now). Changes nothing, so a
        scheduler can ask without using up the half-open probe."""
        if self.state == OPEN:
            return max(0.0, self.settings.reset_after_s - (self.clock() - self.opened_at))
        if self.state == HALF_OPEN and self.probe_in_flight:
            return self.settings.reset_after_s
        return 0.0

    def before_request(self) -> None:
        """Raise ``CircuitOpenError`` unless a request may be sent now."""
        if self.state == OPEN:
            left = self.wait_s()
            if left > 0:
                raise CircuitOpenError(
                    f"circuit for {self.host} is open ({self.reason}); the request was not sent, "
                    f"next probe in {left:.0f}s")
            self._set(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self.probe_in_flight:
                raise CircuitOpenError(f"circuit for {self.host} is half-open ({self.reason}) and "
                                       "its probe request is still running")
            self.probe_in_flight = True

    # -- outcomes ------------------------------------------------------------------------

    def record_success(self, hotel_id: str) -> None:
        """The host answered this hotel's request usefully."""
        self.failures = 0
        self.probe_in_flight = False
        if self.state != CLOSED:
            # What made it open is over; stale failures must not re-open it at once.
            self._latest.clear()
            self._failing = 0
            self._set(CLOSED)
        self._note(hotel_id, failed=False)

    def record_hotel_failure(self, hotel_id: str) -> None:
        """A failure that may be this hotel's own (5xx, 429, timeout, unreadable body, 4xx)."""
        self.probe_in_flight = False
        self._note(hotel_id, failed=True)
        if self.state == HALF_OPEN:
            self._open(self.reason)
        elif self.state == CLOSED and self._spread():
            self._open(f"{self._failing} of the {len(self._latest)} hotels it served in the last "
                       f"{self.settings.window_s:g}s are failing")

    def record_host_failure(self, hotel_id: str) -> None:
        """The host could not be reached at all (connection refused, DNS, TLS)."""
        self.failures += 1
        self.probe_in_flight = False
        self._note(hotel_id, failed=True)
        if self.state == HALF_OPEN or self.failures >= self.settings.failure_threshold:
            self._open(f"{self.failures} consecutive connection failures")
        elif self.state == CLOSED and self._spread():
            self._open(f"{self._failing} of the {len(self._latest)} hotels it served in the last "
                       f"{self.settings.window_s:g}s are failing")

    def release(self) -> None:
        """The request ended without saying anything about the host (e.g. it was cancelled)."""
        self.probe_in_flight = False

    # -- internals -----------------------------------------------------------------------

    def _note(self, hotel_id: str, failed: bool) -> None:
        previous = self._latest.pop(hotel_id, None)
        if previous is not None and previous[1]:
            self._failing -= 1
        now = self.clock()
        self._latest[hotel_id] = (now, failed)
        self._failing += failed
        # Oldest first, so expiring the window is popping from the front: O(1) per request
        # however many hotels the host serves.
        horizon = now - self.settings.window_s
        while self._latest:
            oldest_id, (at, was_failed) = next(iter(self._latest.items()))
            if at >= horizon:
                break
            del self._latest[oldest_id]
            self._failing -= was_failed

    def _spread(self) -> bool:
        return (self._failing >= self.settings.spread_min_hotels
                and self._failing >= self.settings.spread_ratio * len(self._latest))

    def _open(self, reason: str) -> None:
        self.opened_at = self.clock()
        self.reason = reason
        if self.state != OPEN:
            self._set(OPEN)

    def _set(self, state: str) -> None:
        self.state = state
        if self.on_change is not None:
            self.on_change(self.host, state)


class Breakers:
    """One breaker per host, created on first use with the same settings."""

    def __init__(self, settings: BreakerSettings | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings or BreakerSettings()
        self.clock = clock
        self.on_change = on_change
        self._by_host: dict[str, CircuitBreaker] = {}

    def for_host(self, host: str) -> CircuitBreaker:
        breaker = self._by_host.get(host)
        if breaker is None:
            breaker = self._by_host[host] = CircuitBreaker(host, self.settings, self.clock,
                                                           self.on_change)
            # Report the host from its first request, so a dashboard lists it before it fails.
            if breaker.on_change is not None:
                breaker.on_change(host, breaker.state)
        return breaker
