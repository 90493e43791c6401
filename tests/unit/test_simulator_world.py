"""The simulated world: built from a seed, spread over the families, moving on with time."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from pmsync.booking import STATUSES
from pmsync.simulator import Simulator
from pmsync.simulator.booking import sanitize
from tests.unit.test_simulator_truth import T0, FakeClock


def test_the_same_seed_gives_the_same_world_and_evolution() -> None:
    def run(seed: int) -> dict:
        clock = FakeClock()
        sim = Simulator(seed=seed, hotels=8, clock=clock)
        for _ in range(3):
            clock.advance(10)
            sim.tick()
        return {"hotels": sim.hotels(), "truth": sim.truth()}

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_hotels_spread_over_every_family_with_what_the_fetcher_needs() -> None:
    sim = Simulator(seed=7, hotels=50, clock=FakeClock(), base_url="http://127.0.0.1:9999/")
    hotels = sim.hotels()
    assert len(hotels) == 50 and len({h["id"] for h in hotels}) == 50
    spread = Counter((h["pms_type"], h["pms_version"]) for h in hotels)
    assert len(spread) == 6 and min(spread.values()) >= 8
    for h in hotels:
        assert h["base_url"] == "http://127.0.0.1:9999"
        assert h["credentials"] and all(h["credentials"].values())
        assert h["property_id"]
    assert all("credentials" not in h for h in sim.hotels(with_credentials=False))


def test_a_tick_creates_and_changes_bookings_with_newer_updated_at() -> None:
    clock = FakeClock()
    sim = Simulator(seed=7, hotels=6, clock=clock, invalid_rate=0.0)
    before = {h: {b["external_id"]: b for b in t["bookings"]}
              for h, t in sim.truth()["hotels"].items()}
    clock.advance(90)
    summary = sim.tick()
    assert summary["created"] > 0 and summary["changed"] > 0
    stamp = (T0 + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = changed = 0
    for hotel_id, truth in sim.truth()["hotels"].items():
        for b in truth["bookings"]:
            old = before[hotel_id].get(b["external_id"])
            if old is None:
                new += 1
                assert b["source_updated_at"] >= stamp
            elif old != b:
                changed += 1
                assert b["source_updated_at"] > old["source_updated_at"]
    assert new == summary["created"] and changed == summary["changed"]


def test_versions_of_a_booking_have_strictly_increasing_updated_at() -> None:
    clock = FakeClock()
    sim = Simulator(seed=1, hotels=3, clock=clock, invalid_rate=0.0, initial_bookings=5)
    for _ in range(20):
        sim.tick()          # the clock does not move: stamps must still increase
    versions = 0
    for state in sim.world.hotels.values():
        for entry in state.entries:
            chain = [*entry.history, entry.current]
            versions += len(chain) - 1
            assert all(a.updated_at < b.updated_at for a, b in zip(chain, chain[1:]))
    assert versions > 10


def test_cancellations_and_status_changes_happen_over_time() -> None:
    clock = FakeClock()
    sim = Simulator(seed=3, hotels=6, clock=clock, invalid_rate=0.0)
    for _ in range(30):
        clock.advance(3600)
        sim.tick()
    statuses = Counter(b["status"] for t in sim.truth()["hotels"].values() for b in t["bookings"])
    assert set(statuses) <= set(STATUSES)
    assert {"CONFIRMED", "CHECKED_IN", "CHECKED_OUT", "CANCELLED"} <= set(statuses)


def test_truth_bookings_are_canonical_and_sanitized() -> None:
    sim = Simulator(seed=7, hotels=12, clock=FakeClock(), invalid_rate=0.0, initial_bookings=60)
    bookings = [b for t in sim.truth()["hotels"].values() for b in t["bookings"]]
    names = [b["guest"]["last_name"] for b in bookings] + [b["guest"]["first_name"] for b in bookings]
    assert any("&amp;" in n or "&lt;" in n for n in names if n)
    assert not any(("<" in n or ">" in n) for n in names if n)
    assert any(not n.isascii() for n in names if n)
    for b in bookings:
        assert b["check_out"] > b["check_in"]
        assert b["total_amount"].count(".") == 1 and len(b["total_amount"].split(".")[1]) == 2
        assert b["source_updated_at"].endswith("Z")


@pytest.mark.parametrize("raw,clean", [("  Tom & Jerry ", "Tom &amp; Jerry"), ("<b>", "&lt;b&gt;"),
                                       ("   ", None), (None, None), ("Zoë", "Zoë")])
def test_sanitize_matches_the_engine_rules(raw: str | None, clean: str | None) -> None:
    assert sanitize(raw) == clean


def test_bad_world_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="hotel_count"):
        Simulator(hotels=0)
    with pytest.raises(ValueError, match="invalid_rate"):
        Simulator(hotels=1, invalid_rate=1.5)
