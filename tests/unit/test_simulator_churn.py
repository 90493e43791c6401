"""Churn mode: a hotel's PMS edits bookings between the page requests of one walk, serves in
modification-time order, and so shifts pages the way real PMSs do; and property ids are unique
in a world of any size, so no hotel is refused because another one has its id."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pmsync.simulator import Simulator
from pmsync.simulator.faults import FaultSettings
from tests.unit.test_simulator_families import FAMILIES, one_hotel, request
from tests.unit.test_simulator_truth import compiled_for, walk

PAGED = [f for f in FAMILIES if f != ("generic", "v1")]


def _served_ids(hotel: dict[str, Any], pages: list[Any]) -> list[str]:
    compiled = compiled_for(hotel)
    return [compiled.process(r, compiled.context_for(r, p))["external_id"]
            for p in pages for r in compiled.records(p)]


def _churning(family: tuple[str, str], rate: float, seed: int = 21
              ) -> tuple[Simulator, dict[str, Any]]:
    sim, hotel, clock = one_hotel(family, seed=seed, initial_bookings=60, invalid_rate=0.0)
    clock.advance(3600)   # edits are stamped after every initial booking
    sim.faults.load({"hotels": {hotel["id"]: {"churn_rate": rate}}})
    return sim, hotel


@pytest.mark.parametrize("family", PAGED, ids="/".join)
def test_edits_between_pages_make_one_walk_miss_records_in_every_paged_family(
        family: tuple[str, str]) -> None:
    """What the fetcher must survive: one plain walk (no confirmation) under churn does not
    see every booking of the truth. Page and offset families lose the boundary's successor,
    an id cursor everything after the moved cursor record."""
    sim, hotel = _churning(family, rate=1.0)
    before = {b["external_id"]: b for b in sim.truth(hotel["id"])["bookings"]}
    seen = set(_served_ids(hotel, walk(sim, hotel, page_size=10)))
    after = {b["external_id"]: b for b in sim.truth(hotel["id"])["bookings"]}
    assert sim.churn.edits > 0
    assert {k for k in after if after[k] != before[k]}, "edits go into the truth"
    assert set(after) - seen, "a walk under churn should miss a record"


@pytest.mark.parametrize("family", PAGED, ids="/".join)
def test_without_churn_one_walk_sees_everything_and_nothing_is_edited(
        family: tuple[str, str]) -> None:
    sim, hotel = _churning(family, rate=0.0)
    before = sim.truth(hotel["id"])
    ids = _served_ids(hotel, walk(sim, hotel, page_size=10))
    assert sorted(ids) == sorted(b["external_id"] for b in before["bookings"])
    assert sim.truth(hotel["id"]) == before and sim.churn.edits == 0


@pytest.mark.parametrize("family", PAGED, ids="/".join)
def test_churn_serves_in_modification_time_order(family: tuple[str, str]) -> None:
    sim, hotel = _churning(family, rate=0.0001)   # the order, with (almost) no edits
    compiled = compiled_for(hotel)
    stamps = [compiled.process(r, compiled.context_for(r, p))["source_updated_at"]
              for p in walk(sim, hotel, page_size=7) for r in compiled.records(p)]
    assert stamps == sorted(stamps) and len(stamps) == 60


def test_the_last_page_of_a_walk_is_never_followed_by_an_edit() -> None:
    sim, hotel = _churning(("cloudbeds", "1.2"), rate=1.0)
    walk(sim, hotel, page_size=100)   # 60 bookings: one page, which is the last
    assert sim.churn.edits == 0


def test_churn_is_deterministic_per_seed() -> None:
    def run(seed: int) -> dict[str, Any]:
        sim, hotel = _churning(("generic", "v2"), rate=0.5, seed=seed)
        for _ in range(3):
            walk(sim, hotel, page_size=9)
        return sim.truth()

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_churn_rate_is_a_fault_setting_reachable_from_the_faults_json_and_cli() -> None:
    assert FaultSettings.from_dict({"churn_rate": 0.25}).churn_rate == 0.25
    with pytest.raises(ValueError, match="a rate is between 0 and 1"):
        FaultSettings.from_dict({"churn_rate": 2})
    sim = Simulator(seed=1, hotels=2, faults={"default": {"churn_rate": 0.5}})
    assert sim.faults.as_dict()["default"]["churn_rate"] == 0.5


def test_a_thousand_hotel_world_gives_every_hotel_its_own_property_id() -> None:
    """Regression: generic v2 ids had 900 values, so in 1,000 hotels two shared one and the
    second got 401 on every request while the truth listed its bookings."""
    sim = Simulator(seed=7, hotels=1000, initial_bookings=0)
    hotels = sim.hotels()
    duplicated = [p for p, n in Counter(h["property_id"] for h in hotels).items() if n > 1]
    assert duplicated == []
    refused = [(h["id"], status) for h in hotels
               if (status := request(sim, h)[0]) != 200]
    assert refused == []


def test_hotels_without_a_collision_keep_the_property_id_their_seed_gave() -> None:
    small = {h["id"]: h["property_id"] for h in Simulator(seed=7, hotels=12).hotels()}
    large = {h["id"]: h["property_id"] for h in Simulator(seed=7, hotels=1000,
                                                          initial_bookings=0).hotels()}
    assert all(large[i] == p for i, p in small.items())
