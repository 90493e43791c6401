"""The simulator's truth is what the real mapping engine makes of what it serves.

Pages are fetched exactly as each shipped config's ``source`` block says (the fetcher's own
template, delta and paging code builds every request) and mapped by the real engine; "newest
``source_updated_at`` wins" per booking (the loader's rule) must then give exactly
``Simulator.truth()``, and the rejects must be exactly the injected invalid records.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pmsync.config import compile_config, load_config
from pmsync.config.compile import CompiledConfig
from pmsync.errors import PMSError
from pmsync.fetching.delta import format_instant, since_value
from pmsync.fetching.pagination import Pager
from pmsync.fetching.source import SourceSpec
from pmsync.fetching.templates import as_headers, as_query, render
from pmsync.simulator import Simulator

CONFIGS = Path(__file__).resolve().parents[2] / "pms_configs"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@functools.cache
def _compiled(pms_type: str, version: str) -> CompiledConfig:
    return compile_config(load_config(CONFIGS / pms_type / f"{version}.json"))


def compiled_for(hotel: dict[str, Any]) -> CompiledConfig:
    """The shipped config of the hotel's family/version, loaded and compiled once."""
    return _compiled(hotel["pms_type"], hotel["pms_version"])


def walk(sim: Simulator, hotel: dict[str, Any], since: str | None = None,
         until: datetime | None = None, page_size: int | None = None) -> list[Any]:
    """Every page of one sync of ``hotel``, requested as its config's source block says."""
    compiled = compiled_for(hotel)
    spec = SourceSpec.from_block(compiled.source)
    if page_size is not None:
        from dataclasses import replace
        spec = replace(spec, pagination=replace(spec.pagination, page_size=page_size))
    pager = Pager(spec.pagination)
    until = until or sim.clock() + timedelta(days=1)
    base = {"since": since_value(since, spec.delta),
            "until": format_instant(until, spec.delta.format),
            "hotel.id": hotel["id"], "hotel.property_id": hotel["property_id"],
            **{f"credential.{k}": v for k, v in hotel["credentials"].items()}}
    pages = []
    while True:
        variables = {**base, **pager.variables()}
        body = render(spec.request.body, variables)
        reply = sim.respond(spec.request.method, spec.request.path,
                            as_query(render(spec.request.query, variables)),
                            as_headers(render(spec.request.headers, variables)),
                            b"" if body is None else orjson.dumps(body))
        assert reply.status == 200, reply.body
        page = orjson.loads(reply.body)
        pages.append(page)
        if not pager.advance(compiled.records(page), page):
            return pages


def pipeline(sim: Simulator, hotel: dict[str, Any], pages: list[Any],
             store: dict[str, dict] | None = None) -> tuple[dict[str, dict], list[dict]]:
    """Map every record like the validator + mapper, keep the newest like the loader."""
    compiled = compiled_for(hotel)
    store = {} if store is None else store
    rejects = []
    for page in pages:
        for record in compiled.records(page):
            try:
                booking = compiled.process(record, compiled.context_for(record, page))
            except PMSError as exc:
                rejects.append({"stage": exc.stage, "error_class": type(exc).__name__,
                                "location": exc.location, "message": exc.message})
                continue
            old = store.get(booking["external_id"])
            if old is None or booking["source_updated_at"] >= old["source_updated_at"]:
                store[booking["external_id"]] = booking
    return store, rejects


def reject_keys(items: list[dict]) -> Counter:
    return Counter((r["stage"], r["error_class"], r["location"]) for r in items)


def assert_matches_truth(sim: Simulator, hotel: dict[str, Any], store: dict[str, dict],
                         rejects: list[dict], exact_rejects: bool = True) -> None:
    truth = sim.truth(hotel["id"])
    assert sorted(store.values(), key=lambda b: b["external_id"]) == truth["bookings"]
    if exact_rejects:
        assert reject_keys(rejects) == reject_keys(truth["invalid"])
    else:
        assert set(reject_keys(rejects)) == set(reject_keys(truth["invalid"]))
    for want in truth["invalid"]:
        assert any(r["location"] == want["location"] and want["message_contains"] in r["message"]
                   for r in rejects), want


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_every_family_maps_exactly_to_the_truth(clock: FakeClock) -> None:
    sim = Simulator(seed=11, hotels=12, invalid_rate=0.25, initial_bookings=40, clock=clock)
    for _ in range(5):
        clock.advance(60)
        sim.tick()
    families = set()
    for hotel in sim.hotels():
        pages = walk(sim, hotel, page_size=7)
        paged = compiled_for(hotel).source["pagination"]["type"] != "none"
        assert (len(pages) > 3) == paged
        store, rejects = pipeline(sim, hotel, pages)
        assert_matches_truth(sim, hotel, store, rejects)
        families.add((hotel["pms_type"], hotel["pms_version"]))
    assert len(families) == 6


def test_injected_invalid_records_cover_every_stage(clock: FakeClock) -> None:
    sim = Simulator(seed=3, hotels=6, invalid_rate=1.0, initial_bookings=30, clock=clock)
    for hotel in sim.hotels():
        stages = {i["stage"] for i in sim.truth(hotel["id"])["invalid"]}
        assert stages == {"schema", "mapping", "business_rule"}, hotel["id"]
        assert sim.truth(hotel["id"])["bookings"] == []


def test_delta_syncs_with_overlap_reach_the_truth_after_every_tick(clock: FakeClock) -> None:
    sim = Simulator(seed=5, hotels=6, invalid_rate=0.1, initial_bookings=25, clock=clock)
    stores: dict[str, dict] = {h["id"]: {} for h in sim.hotels()}
    cursors: dict[str, str | None] = {h["id"]: None for h in sim.hotels()}
    for _ in range(4):
        for hotel in sim.hotels():
            started = clock()
            pages = walk(sim, hotel, since=cursors[hotel["id"]], until=started)
            pipeline(sim, hotel, pages, stores[hotel["id"]])
            # The fetcher's rule: next since = this sync's start minus the overlap.
            cursors[hotel["id"]] = (started - timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
            truth = sim.truth(hotel["id"])["bookings"]
            assert sorted(stores[hotel["id"]].values(), key=lambda b: b["external_id"]) == truth
        clock.advance(30)
        summary = sim.tick()
        assert summary["created"] + summary["changed"] > 0
        clock.advance(30)


def test_duplicates_and_stale_versions_do_not_change_the_result(clock: FakeClock) -> None:
    faults = {"default": {"duplicate_rate": 1.0, "out_of_order_rate": 1.0}}
    sim = Simulator(seed=8, hotels=6, invalid_rate=0.2, initial_bookings=40, clock=clock,
                    faults=faults)
    for hotel in sim.hotels():
        pages = walk(sim, hotel, page_size=7)
        served = sum(len(compiled_for(hotel).records(p)) for p in pages)
        truth = sim.truth(hotel["id"])
        assert served > len(truth["bookings"]) + len(truth["invalid"]), "no extras were served"
        store, rejects = pipeline(sim, hotel, pages)
        assert_matches_truth(sim, hotel, store, rejects, exact_rejects=False)


def test_a_stale_version_is_served_after_the_newer_one(clock: FakeClock) -> None:
    sim = Simulator(seed=8, hotels=1, invalid_rate=0.0, initial_bookings=40, clock=clock,
                    faults={"default": {"out_of_order_rate": 1.0}})
    hotel = sim.hotels()[0]
    compiled = compiled_for(hotel)
    page = walk(sim, hotel)[0]
    seen: dict[str, str] = {}
    stale = 0
    for record in compiled.records(page):
        booking = compiled.process(record, compiled.context_for(record, page))
        previous = seen.get(booking["external_id"])
        if previous is not None and booking["source_updated_at"] < previous:
            stale += 1
        seen[booking["external_id"]] = max(previous or "", booking["source_updated_at"])
    assert stale == 1
