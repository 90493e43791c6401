"""Fault injection: each fault does what a broken PMS does, and none of them changes the truth."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pmsync.simulator import Simulator
from pmsync.simulator.faults import FaultSettings, Faults
from tests.unit.test_simulator_truth import FakeClock, compiled_for, pipeline, walk


def cloudbeds_sim(faults: dict[str, Any], **kwargs: Any) -> tuple[Simulator, dict[str, Any]]:
    sim = Simulator(seed=4, hotels=2, clock=FakeClock(), families=[("cloudbeds", "1.2")],
                    faults=faults, **kwargs)
    return sim, sim.hotels()[0]


def get(sim: Simulator, hotel: dict[str, Any], page: int = 1, size: int = 10):
    return sim.respond("GET", "/api/v1.2/getReservations",
                       {"propertyID": hotel["property_id"], "modifiedFrom": "2000-01-01T00:00:00Z",
                        "pageNumber": str(page), "pageSize": str(size)},
                       {"x-api-key": hotel["credentials"]["api_key"]}, b"")


def test_rate_limit_answers_429_with_retry_after() -> None:
    sim, hotel = cloudbeds_sim({"hotels": {"sim-001": {"rate_limit_rate": 1.0,
                                                       "retry_after_seconds": 7}}})
    reply = get(sim, hotel)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "7"


@pytest.mark.parametrize("rate,expected", [(1.0, {500, 502, 503}), (0.0, {200})])
def test_server_errors_follow_their_rate(rate: float, expected: set[int]) -> None:
    sim, hotel = cloudbeds_sim({"default": {"error_rate": rate}})
    assert {get(sim, hotel).status for _ in range(30)} <= expected


def test_half_the_pages_fail_at_rate_one_half() -> None:
    sim, hotel = cloudbeds_sim({"default": {"error_rate": 0.5}})
    statuses = [get(sim, hotel).status for _ in range(400)]
    assert 140 < sum(s >= 500 for s in statuses) < 260


def test_faults_apply_only_to_the_hotel_they_name() -> None:
    sim, hotel = cloudbeds_sim({"hotels": {"sim-001": {"error_rate": 1.0}}})
    other = sim.hotels()[1]
    assert get(sim, hotel).status >= 500
    assert get(sim, other).status == 200


@pytest.mark.parametrize("kind", ["malformed_rate", "truncated_rate"])
def test_unreadable_bodies_are_not_json(kind: str) -> None:
    sim, hotel = cloudbeds_sim({"default": {kind: 1.0}})
    reply = get(sim, hotel)
    assert reply.status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(reply.body)


def test_a_hang_is_longer_than_the_client_timeout() -> None:
    sim, hotel = cloudbeds_sim({"default": {"timeout_rate": 1.0, "hang_seconds": 45,
                                            "latency_ms": 200}})
    reply = get(sim, hotel)
    assert reply.delay_seconds == pytest.approx(45.2)


def test_latency_delays_a_good_page() -> None:
    sim, hotel = cloudbeds_sim({"default": {"latency_ms": 250}})
    reply = get(sim, hotel)
    assert reply.status == 200 and reply.delay_seconds == pytest.approx(0.25)


def test_a_latency_range_spreads_each_response_within_it_without_shifting_the_faults() -> None:
    sim, hotel = cloudbeds_sim({"default": {"latency_ms": 50, "latency_max_ms": 500,
                                            "error_rate": 0.5}})
    replies = [get(sim, hotel) for _ in range(200)]
    delays = [r.delay_seconds for r in replies]
    assert all(0.05 <= d <= 0.5 for d in delays)
    assert min(delays) < 0.1 and max(delays) > 0.45
    # The same seed without the range serves the same statuses: the draws are a stream apart.
    plain, _ = cloudbeds_sim({"default": {"error_rate": 0.5}})
    assert [r.status for r in replies] == [get(plain, hotel).status for _ in range(200)]


def test_unreadable_pages_never_change_the_truth() -> None:
    clean, _ = cloudbeds_sim({})
    broken, hotel = cloudbeds_sim({"default": {"error_rate": 0.3, "malformed_rate": 0.3,
                                               "truncated_rate": 0.3, "rate_limit_rate": 0.3}})
    for _ in range(50):
        get(broken, hotel)
    assert broken.truth() == clean.truth()


def test_a_sync_that_retries_failed_pages_still_reaches_the_truth() -> None:
    sim, hotel = cloudbeds_sim({"default": {"error_rate": 0.3, "malformed_rate": 0.2}},
                               initial_bookings=55)
    compiled = compiled_for(hotel)
    pages, page, failures = [], 1, 0
    while True:
        reply = get(sim, hotel, page=page, size=10)
        try:
            body = orjson.loads(reply.body) if reply.status == 200 else None
        except orjson.JSONDecodeError:
            body = None
        if body is None:
            failures += 1
            continue   # the fetcher retries the same page
        pages.append(body)
        if len(compiled.records(body)) < 10:
            break
        page += 1
    assert failures > 0
    store, _ = pipeline(sim, hotel, pages)
    assert sorted(store.values(), key=lambda b: b["external_id"]) == \
        sim.truth(hotel["id"])["bookings"]


def test_offset_paging_gets_extras_only_on_its_last_page() -> None:
    """The fetcher advances the offset by the records it received; an extra record on a full
    page would make it skip one."""
    sim = Simulator(seed=4, hotels=1, clock=FakeClock(), families=[("generic", "v2")],
                    invalid_rate=0.0, initial_bookings=25,
                    faults={"default": {"duplicate_rate": 1.0}})
    hotel = sim.hotels()[0]
    pages = walk(sim, hotel, page_size=10)
    assert [len(p["items"]) for p in pages] == [10, 10, 6]


@pytest.mark.parametrize("bad,message", [
    ({"default": {"error_rate": 2}}, "between 0 and 1"),
    ({"default": {"latency_ms": -1}}, "negative"),
    ({"default": {"explode": 1}}, "unknown fault setting"),
    ({"hotels": {"sim-001": {"error_rate": "often"}}}, "expected a number"),
    ({"sometimes": {}}, "unknown keys"),
])
def test_bad_fault_settings_are_refused_with_the_reason(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(1).load(bad)


def test_fault_streams_are_deterministic_per_seed() -> None:
    a, b = Faults(9, FaultSettings(error_rate=0.5)), Faults(9, FaultSettings(error_rate=0.5))
    assert [a.decide("h").status for _ in range(50)] == [b.decide("h").status for _ in range(50)]
