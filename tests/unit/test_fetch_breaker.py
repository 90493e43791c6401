"""The per-host circuit breaker: it opens on host-wide failure only (connection failures, or
failures spread over most of the host's hotels), never on a few hotels' own failures; then
half-open → closed or open again."""

from __future__ import annotations

import pytest

from pmsync.fetching.breaker import (CLOSED, HALF_OPEN, OPEN, BreakerSettings, Breakers,
                                     CircuitBreaker, CircuitOpenError)
from tests.clock import Clock


SETTINGS = BreakerSettings(failure_threshold=3, reset_after_s=30, spread_ratio=0.8,
                           spread_min_hotels=4, window_s=60)


def _breaker(clock: Clock, changes: list | None = None) -> CircuitBreaker:
    return CircuitBreaker("pms.example", SETTINGS, clock,
                          (lambda host, state: changes.append(state)) if changes is not None else None)


def _unreachable(breaker: CircuitBreaker, times: int, hotel: str = "h1") -> None:
    for _ in range(times):
        breaker.before_request()
        breaker.record_host_failure(hotel)


def _hotels(breaker: CircuitBreaker, hotels: list[str], failed: bool) -> None:
    for hotel in hotels:
        breaker.before_request()
        if failed:
            breaker.record_hotel_failure(hotel)
        else:
            breaker.record_success(hotel)


def test_consecutive_connection_failures_open_the_circuit_and_requests_then_fail_fast():
    clock, changes = Clock(), []
    breaker = _breaker(clock, changes)
    _unreachable(breaker, 2)
    assert breaker.state == CLOSED
    _unreachable(breaker, 1)
    assert breaker.state == OPEN and changes == [OPEN]
    with pytest.raises(CircuitOpenError, match="pms.example is open .3 consecutive connection"):
        breaker.before_request()
    assert breaker.wait_s() == 30


def test_a_success_between_connection_failures_resets_the_count():
    breaker = _breaker(Clock())
    _unreachable(breaker, 2)
    _hotels(breaker, ["h2"], failed=False)
    _unreachable(breaker, 2)
    assert breaker.state == CLOSED


def test_a_few_hotels_failing_forever_among_healthy_ones_never_open_it():
    clock = Clock()
    breaker = _breaker(clock)
    healthy = [f"ok-{i}" for i in range(20)]
    broken = [f"bad-{i}" for i in range(4)]
    # (Were the broken ones the very first four the host ever answered, they would be all it
    # knew of and would open it; the half-open probe then closes it again.)
    for _ in range(50):
        _hotels(breaker, healthy[:10], failed=False)
        _hotels(breaker, broken, failed=True)
        _hotels(breaker, healthy[10:], failed=False)
        clock.now += 5
    assert breaker.state == CLOSED


def test_failures_spread_over_most_of_the_hosts_hotels_open_it():
    breaker = _breaker(Clock())
    _hotels(breaker, ["ok-1"], failed=False)
    _hotels(breaker, ["a", "b", "c"], failed=True)
    assert breaker.state == CLOSED          # 3 failing: under the floor of 4
    _hotels(breaker, ["d"], failed=True)
    assert breaker.state == OPEN            # 4 of 5 distinct hotels
    with pytest.raises(CircuitOpenError, match="4 of the 5 hotels"):
        breaker.before_request()


def test_the_same_hotel_failing_again_and_again_counts_once():
    breaker = _breaker(Clock())
    for _ in range(100):
        _hotels(breaker, ["bad"], failed=True)
    assert breaker.state == CLOSED


def test_a_hotel_that_recovers_no_longer_counts_as_failing():
    breaker = _breaker(Clock())
    _hotels(breaker, ["a", "b", "c"], failed=True)
    _hotels(breaker, ["a"], failed=False)
    _hotels(breaker, ["d"], failed=True)
    assert breaker.state == CLOSED          # a, b, c, d seen; only b, c, d failing


def test_failures_older_than_the_window_are_forgotten():
    clock = Clock()
    breaker = _breaker(clock)
    _hotels(breaker, ["a", "b", "c"], failed=True)
    clock.now += 61
    _hotels(breaker, ["d"], failed=True)
    assert breaker.state == CLOSED


def test_after_the_reset_time_one_probe_goes_through_and_its_success_closes_the_circuit():
    clock, changes = Clock(), []
    breaker = _breaker(clock, changes)
    _unreachable(breaker, 3)
    clock.now += 30
    assert breaker.wait_s() == 0 and breaker.state == OPEN  # asking does not use up the probe
    breaker.before_request()
    assert breaker.state == HALF_OPEN
    # Only one probe at a time while half-open.
    with pytest.raises(CircuitOpenError, match="half-open"):
        breaker.before_request()
    assert breaker.wait_s() > 0
    breaker.record_success("h1")
    assert breaker.state == CLOSED and changes == [OPEN, HALF_OPEN, CLOSED]
    breaker.before_request()


def test_closing_forgets_the_failures_that_opened_it():
    clock = Clock()
    breaker = _breaker(clock)
    _hotels(breaker, ["a", "b", "c", "d"], failed=True)
    assert breaker.state == OPEN
    clock.now += 30
    _hotels(breaker, ["e"], failed=False)
    _hotels(breaker, ["a"], failed=True)
    assert breaker.state == CLOSED


@pytest.mark.parametrize("failure", ["host", "hotel"])
def test_a_failed_probe_opens_the_circuit_for_another_full_period(failure):
    clock = Clock()
    breaker = _breaker(clock)
    _unreachable(breaker, 3)
    clock.now += 31
    breaker.before_request()
    (breaker.record_host_failure if failure == "host" else breaker.record_hotel_failure)("h9")
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
    _unreachable(breaker, 3)
    clock.now += 30
    breaker.before_request()
    breaker.release()
    breaker.before_request()
    assert breaker.state == HALF_OPEN


def test_each_host_has_its_own_breaker():
    breakers = Breakers(BreakerSettings(failure_threshold=1, reset_after_s=30), clock=Clock())
    _unreachable(breakers.for_host("a.example"), 1)
    assert breakers.for_host("a.example").state == OPEN
    assert breakers.for_host("b.example").state == CLOSED
    assert breakers.for_host("a.example") is breakers.for_host("a.example")
