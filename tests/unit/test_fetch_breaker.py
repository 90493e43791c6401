"""The per-host circuit breaker: closed → open → half-open → closed or open again."""

from __future__ import annotations

import pytest

from pmsync.fetching.breaker import CLOSED, HALF_OPEN, OPEN, Breakers, CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, changes: list | None = None) -> CircuitBreaker:
    return CircuitBreaker("pms.example", failure_threshold=3, reset_after_s=30, clock=clock,
                          on_change=(lambda host, state: changes.append(state)) if changes is not None else None)


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.before_request()
        breaker.record_failure()


def test_consecutive_failures_open_the_circuit_and_requests_then_fail_fast():
    clock, changes = Clock(), []
    breaker = _breaker(clock, changes)
    _fail(breaker, 2)
    assert breaker.state == CLOSED
    _fail(breaker, 1)
    assert breaker.state == OPEN and changes == [OPEN]
    with pytest.raises(CircuitOpenError, match="pms.example is open"):
        breaker.before_request()


def test_a_success_between_failures_resets_the_count():
    breaker = _breaker(Clock())
    _fail(breaker, 2)
    breaker.before_request()
    breaker.record_success()
    _fail(breaker, 2)
    assert breaker.state == CLOSED


def test_after_the_reset_time_one_probe_goes_through_and_its_success_closes_the_circuit():
    clock, changes = Clock(), []
    breaker = _breaker(clock, changes)
    _fail(breaker, 3)
    clock.now += 30
    breaker.before_request()
    assert breaker.state == HALF_OPEN
    # Only one probe at a time while half-open.
    with pytest.raises(CircuitOpenError, match="half-open"):
        breaker.before_request()
    breaker.record_success()
    assert breaker.state == CLOSED and changes == [OPEN, HALF_OPEN, CLOSED]
    breaker.before_request()


def test_a_failed_probe_opens_the_circuit_for_another_full_period():
    clock = Clock()
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.now += 31
    _fail(breaker, 1)
    assert breaker.state == OPEN
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        breaker.before_request()
    clock.now += 1
    breaker.before_request()
    assert breaker.state == HALF_OPEN


def test_a_cancelled_probe_lets_the_next_request_probe():
    clock = Clock()
    breaker = _breaker(clock)
    _fail(breaker, 3)
    clock.now += 30
    breaker.before_request()
    breaker.release()
    breaker.before_request()
    assert breaker.state == HALF_OPEN


def test_each_host_has_its_own_breaker():
    breakers = Breakers(failure_threshold=1, reset_after_s=30, clock=Clock())
    _fail(breakers.for_host("a.example"), 1)
    assert breakers.for_host("a.example").state == OPEN
    assert breakers.for_host("b.example").state == CLOSED
    assert breakers.for_host("a.example") is breakers.for_host("a.example")
